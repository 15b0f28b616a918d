"""The embedded DuckDB store: the only place with SQL."""

from rallylens.store._db import Store
from rallylens.store.chains import (
    chain_history,
    dvol_history,
    latest_chain,
)
from rallylens.store.panel import Panel, load_panel
from rallylens.store.read import last_timestamp, list_series, read_series, series_info
from rallylens.store.recording import (
    record_liquidations,
    recording_coverage,
    recording_gaps,
)
from rallylens.store.sync import (
    ArchiveSync,
    SyncResult,
    sync_archive,
    sync_series,
    sync_sources,
)
from rallylens.store.write import (
    ImportRecord,
    SeriesWrite,
    WriteReport,
    find_import,
    write_series,
)

__all__ = [
    "ArchiveSync",
    "ImportRecord",
    "Panel",
    "SeriesWrite",
    "Store",
    "SyncResult",
    "WriteReport",
    "chain_history",
    "dvol_history",
    "find_import",
    "last_timestamp",
    "latest_chain",
    "list_series",
    "load_panel",
    "read_series",
    "record_liquidations",
    "recording_coverage",
    "recording_gaps",
    "series_info",
    "sync_archive",
    "sync_series",
    "sync_sources",
    "write_series",
]
