"""Exceptions and warnings raised by rallylens.

The tree::

    RallylensError
    ├── ConfigError                 bad setting, option or mapping file
    ├── SchemaError                 a frame lacks a column or has the wrong dtype
    ├── SourceError                 a file or venue could not be read
    │   ├── ParseError              a file is malformed, in the wrong unit or unknown
    │   ├── RateLimitError          a venue refused us for sending too much
    │   └── UnsupportedSymbolError  a venue does not list the symbol
    ├── StoreError                  the embedded store failed or holds no such data
    └── InsufficientDataError       too little data to compute what was asked

    Warning
    ├── StaleDataWarning            data ends well before the requested time
    └── GapWarning                  bars are missing against the timeframe

Every message says what failed, the offending value and what to try next.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "GapWarning",
    "InsufficientDataError",
    "LookAheadError",
    "ParseError",
    "RallylensError",
    "RateLimitError",
    "SchemaError",
    "SourceError",
    "StaleDataWarning",
    "StoreError",
    "UnsupportedSymbolError",
]


class RallylensError(Exception):
    """Base class of every error rallylens raises on purpose."""


class ConfigError(RallylensError):
    """A setting, command-line option or mapping file is invalid."""


class SchemaError(RallylensError):
    """A frame does not match its declared schema."""


class SourceError(RallylensError):
    """A data source (file or venue) could not be read."""


class ParseError(SourceError):
    """A file is malformed, uses an unexpected unit or is not recognised."""


class RateLimitError(SourceError):
    """A venue rejected a request because of its rate limit."""


class UnsupportedSymbolError(SourceError):
    """A venue does not know the requested symbol."""


class StoreError(RallylensError):
    """The embedded store failed, or holds nothing for the request."""


class InsufficientDataError(RallylensError):
    """There is too little data to compute what was asked for."""


class LookAheadError(RallylensError):
    """A computation would use data from after its decision moment."""


class StaleDataWarning(UserWarning):
    """The data ends well before the requested time."""


class GapWarning(UserWarning):
    """Bars are missing against the series' timeframe."""
