"""Regenerate data/ec2-instance-types.json: every EC2 instance type with the facts validation and the simulator use.

    python data/regenerate_instance_types.py                 # from the pinned packages (no AWS access)
    python data/regenerate_instance_types.py types.json      # from `aws ec2 describe-instance-types --output json`

Names: every value of the InstanceType enum in botocore's EC2 service model (what the EC2 API accepts).
Facts (architectures, vCPUs, memory, accelerator makers, network interfaces and IPv4 addresses per
interface): EC2 DescribeInstanceTypes records; by default the ones moto ships (moto/ec2/resources/
instance_types.json.gz, recorded by moto's maintainers from the EC2 API), or a DescribeInstanceTypes
dump of your own account, which also fills in the types the default source has no record of. A type
without a record is listed under `withoutFacts`, never guessed.
"""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import botocore.loaders

OUTPUT = Path(__file__).resolve().parent / "ec2-instance-types.json"
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "arm64"}  # i386 and the Mac variants are not EKS node architectures


def instance_type_names() -> list[str]:
    model = botocore.loaders.Loader().load_service_model("ec2", "service-2")
    return sorted(model["shapes"]["InstanceType"]["enum"])


def moto_records() -> tuple[dict[str, dict[str, Any]], str]:
    import moto

    path = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    with gzip.open(path) as handle:
        return json.load(handle), f"moto {moto.__version__}, moto/ec2/resources/instance_types.json.gz"


def dump_records(path: Path) -> tuple[dict[str, dict[str, Any]], str]:
    records = json.loads(path.read_text())["InstanceTypes"]
    return {record["InstanceType"]: record for record in records}, f"DescribeInstanceTypes output {path.name}"


def facts(record: dict[str, Any]) -> dict[str, Any]:
    network = record["NetworkInfo"]
    makers = lambda info, key: sorted({item["Manufacturer"] for item in (info or {}).get(key, [])})  # noqa: E731
    return {
        "architectures": sorted(ARCHITECTURES[a] for a in record["ProcessorInfo"]["SupportedArchitectures"] if a in ARCHITECTURES),
        "vcpus": record["VCpuInfo"]["DefaultVCpus"],
        "memoryMiB": record["MemoryInfo"]["SizeInMiB"],
        "gpu": makers(record.get("GpuInfo"), "Gpus"),
        # The VPC CNI uses the default network card's interfaces only (what Karpenter's and EKS' max-pods count).
        "networkInterfaces": network["NetworkCards"][network["DefaultNetworkCardIndex"]]["MaximumNetworkInterfaces"],
        "ipv4PerInterface": network["Ipv4AddressesPerInterface"],
        "otherAccelerators": sorted({*makers(record.get("InferenceAcceleratorInfo"), "Accelerators"),
                                     *makers(record.get("FpgaInfo"), "Fpgas"),
                                     *makers(record.get("MediaAcceleratorInfo"), "Accelerators"),
                                     *(["AWS"] if record.get("NeuronInfo") else [])}),
    }


def document(names: list[str], records: dict[str, dict[str, Any]], source: str) -> dict[str, Any]:
    without = [name for name in names if name not in records]
    return {
        "about": "Every EC2 instance type the EC2 API accepts, with the facts the stack validation and the simulator use. "
                 "Regenerate with data/regenerate_instance_types.py; never edit by hand.",
        "generated": date.today().isoformat(),
        "names": f"botocore {metadata.version('botocore')}, data/ec2/2016-11-15/service-2.json, shape InstanceType",
        "facts": source,
        "fields": {"architectures": "ProcessorInfo.SupportedArchitectures (x86_64, arm64)", "vcpus": "VCpuInfo.DefaultVCpus",
                   "memoryMiB": "MemoryInfo.SizeInMiB", "gpu": "GpuInfo.Gpus[].Manufacturer",
                   "otherAccelerators": "makers of inference, FPGA, media and Neuron (AWS) accelerators",
                   "networkInterfaces": "NetworkInfo.NetworkCards[NetworkInfo.DefaultNetworkCardIndex].MaximumNetworkInterfaces",
                   "ipv4PerInterface": "NetworkInfo.Ipv4AddressesPerInterface"},
        "withoutFacts": without,
        "types": {name: facts(records[name]) if name in records else None for name in names},
    }


def write(doc: dict[str, Any], path: Path = OUTPUT) -> None:
    # One line per type keeps the file reviewable as a diff when the data moves.
    types = doc["types"]
    head = json.dumps({k: v for k, v in doc.items() if k != "types"}, indent=2)[:-2]
    lines = [f"  {json.dumps(name)}: {json.dumps(types[name], sort_keys=True)}" for name in types]
    path.write_text(head + ',\n  "types": {\n' + ",\n".join("  " + line for line in lines) + "\n  }\n}\n")


def main(argv: list[str]) -> int:
    records, source = dump_records(Path(argv[0])) if argv else moto_records()
    doc = document(instance_type_names(), records, source)
    write(doc)
    print(f"wrote {OUTPUT}: {len(doc['types'])} types, {len(doc['withoutFacts'])} without facts")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
