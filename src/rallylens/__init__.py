"""Rallylens: is this crypto rally real?"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("rallylens")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
