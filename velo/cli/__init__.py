"""The ``velo`` command line."""

from velo.cli.main import main

__all__ = ["main"]
