"""Sources: venue adapters and file importers returning canonical frames."""

from rallylens.sources._base import FileOptions, Preset, Source
from rallylens.sources._convert import Parsed
from rallylens.sources._reader import RawFile, read_raw
from rallylens.sources.files import PRESETS, detect_preset, find_files, parse_file
from rallylens.sources.mapping import MappingRule, load_mapping

__all__ = [
    "PRESETS",
    "FileOptions",
    "MappingRule",
    "Parsed",
    "Preset",
    "RawFile",
    "Source",
    "detect_preset",
    "find_files",
    "load_mapping",
    "parse_file",
    "read_raw",
]
