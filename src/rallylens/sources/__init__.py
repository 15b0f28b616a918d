"""Sources: venue adapters and file importers returning canonical frames."""

from rallylens.sources._base import FileOptions, Preset, Source
from rallylens.sources._ccxt import RetryPolicy
from rallylens.sources._convert import Parsed
from rallylens.sources._reader import RawFile, read_raw
from rallylens.sources.files import PRESETS, detect_preset, find_files, parse_file
from rallylens.sources.live import LIVE_VENUES, make_source, parse_series_key
from rallylens.sources.mapping import MappingRule, load_mapping

__all__ = [
    "LIVE_VENUES",
    "PRESETS",
    "FileOptions",
    "MappingRule",
    "Parsed",
    "Preset",
    "RawFile",
    "RetryPolicy",
    "Source",
    "detect_preset",
    "find_files",
    "load_mapping",
    "make_source",
    "parse_file",
    "parse_series_key",
    "read_raw",
]
