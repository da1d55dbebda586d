"""Pulumi component resources: each wires the resources of one concern, nothing more."""
