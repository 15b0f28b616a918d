"""The embedded DuckDB store: the only place with SQL."""

from rallylens.store._db import Store
from rallylens.store.panel import Panel, load_panel
from rallylens.store.read import list_series, read_series, series_info
from rallylens.store.write import (
    ImportRecord,
    SeriesWrite,
    WriteReport,
    find_import,
    write_series,
)

__all__ = [
    "ImportRecord",
    "Panel",
    "SeriesWrite",
    "Store",
    "WriteReport",
    "find_import",
    "list_series",
    "load_panel",
    "read_series",
    "series_info",
    "write_series",
]
