"""The functional core: stack config, Bottlerocket settings, user data, version policy. No Pulumi here
except in pulumi_config.py, the shell that hands Pulumi's config to the model."""
