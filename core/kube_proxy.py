"""kube-proxy's configuration on EKS, with conntrack left to the node.

kube-proxy writes `net.netfilter.nf_conntrack_max` on start (32768 per core, at least 131072) and so
overrides the sysctl Bottlerocket set from user data: an 8-core node ends at 262144 entries, the table
that filled in the field notes' incident. `maxPerCore: 0` and `min: 0` make kube-proxy leave it alone.
The EKS kube-proxy add-on's configuration schema has no conntrack fields (aws/containers-roadmap#2318),
so the program owns the add-on's `kube-proxy-config` ConfigMap instead; the rest of this document is
the configuration EKS itself ships.
"""

from __future__ import annotations

from typing import Any

import yaml

KUBE_PROXY_CONFIG_MAP = "kube-proxy-config"


def kube_proxy_configuration() -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0",
        "clientConnection": {
            "acceptContentTypes": "",
            "burst": 10,
            "contentType": "application/vnd.kubernetes.protobuf",
            "kubeconfig": "/var/lib/kube-proxy/kubeconfig",
            "qps": 5,
        },
        "clusterCIDR": "",
        "configSyncPeriod": "15m0s",
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpCloseWaitTimeout": "1h0m0s",
            "tcpEstablishedTimeout": "24h0m0s",
        },
        "enableProfiling": False,
        "healthzBindAddress": "0.0.0.0:10256",
        "hostnameOverride": "",
        "iptables": {"masqueradeAll": False, "masqueradeBit": 14, "minSyncPeriod": "0s", "syncPeriod": "30s"},
        "ipvs": {"excludeCIDRs": None, "minSyncPeriod": "0s", "scheduler": "", "syncPeriod": "30s"},
        "metricsBindAddress": "0.0.0.0:10249",
        "mode": "iptables",
        "nodePortAddresses": None,
        "oomScoreAdj": -998,
        "portRange": "",
    }


def render_kube_proxy_config() -> str:
    text: str = yaml.safe_dump(kube_proxy_configuration(), sort_keys=True)
    return text
