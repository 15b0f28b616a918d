"""Command-line interface: ``rallylens COMMAND``."""

from rallylens.cli.app import cli, main

__all__ = ["cli", "main"]
