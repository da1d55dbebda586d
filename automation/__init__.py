"""Command-line entry points (`python -m automation ...`) that drive the Pulumi program."""
