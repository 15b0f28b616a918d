"""Incremental download of live series into the store.

For each series the store's newest timestamp decides where the fetch starts,
so only the missing range is asked for; each chunk a venue adapter yields is
written in its own transaction, so an interrupted fetch keeps what arrived and
the next run resumes after it (idempotent upserts make any overlap harmless).
A series that fails is reported and the others proceed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import polars as pl

from rallylens.exceptions import RallylensError
from rallylens.schemas import TS, SeriesFrame, SeriesKey, timeframe_duration
from rallylens.sources import Source
from rallylens.sources._ccxt import VenueUnreachableError
from rallylens.store._db import Store
from rallylens.store.read import last_timestamp
from rallylens.store.write import ImportRecord, write_series

__all__ = [
    "ARCHIVE_SETS",
    "ArchiveSync",
    "SyncResult",
    "sync_archive",
    "sync_series",
    "sync_sources",
]

log = logging.getLogger(__name__)
SyncStatus = Literal["updated", "up_to_date", "failed"]
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class SyncResult:
    """What one series' fetch did.

    Attributes
    ----------
    key : SeriesKey
        The series.
    status : {"updated", "up_to_date", "failed"}
        ``failed`` keeps whatever chunks arrived before the failure.
    fetched, inserted : int
        Rows received and rows new to the store.
    start, end : datetime or None
        The range asked for.
    note : str
        A limit the venue imposes (e.g. history kept), or the error.
    unreachable : bool
        The venue could not be connected to at all.
    """

    key: SeriesKey
    status: SyncStatus
    fetched: int = 0
    inserted: int = 0
    start: datetime | None = None
    end: datetime | None = None
    note: str = ""
    unreachable: bool = False


def _start(store: Store, key: SeriesKey, since: datetime) -> datetime:
    last = last_timestamp(store, key)
    if last is None:
        return since
    step = timeframe_duration(key.timeframe)
    return max(since, last + (step if step is not None else _TICK))


def sync_series(
    store: Store,
    source: Source,
    key: SeriesKey,
    *,
    since: datetime,
    now: datetime,
    on_rows: Callable[[int], None] | None = None,
) -> SyncResult:
    """Fetch what the store lacks of ``key`` from ``since`` up to ``now``.

    Parameters
    ----------
    store : Store
        A writable store.
    source : Source
        The venue adapter serving ``key``.
    key : SeriesKey
        The series.
    since : datetime
        Oldest time wanted (used when the store has nothing newer).
    now : datetime
        End of the range (exclusive); adapters return closed bars only.
    on_rows : callable, optional
        Called with the number of rows of each chunk (progress).

    Returns
    -------
    SyncResult
        Never raises for venue or data errors: they come back as ``failed``.
    """
    start = _start(store, key, since)
    note = ""
    fetched = inserted = 0
    try:
        earliest = source.earliest(key, now)
        if earliest is not None and start < earliest:
            note = (
                f"{key.venue} keeps {key.kind.value.replace('_', ' ')} history only "
                f"from {earliest:%Y-%m-%d %H:%M}; older data comes from the bulk "
                "archive ('rallylens fetch --archive') or from files "
                "('rallylens import')"
            )
            start = earliest
        if start >= now:
            return SyncResult(key, "up_to_date", start=start, end=now, note=note)
        for chunk in source.fetch(key, start, now):
            if chunk.is_empty():
                continue
            report = write_series(
                store, [SeriesFrame(key, chunk)], record=_record(key, chunk, now)
            )
            fetched += chunk.height
            inserted += report.inserted
            if on_rows is not None:
                on_rows(chunk.height)
    except RallylensError as exc:
        return SyncResult(
            key,
            "failed",
            fetched,
            inserted,
            start,
            now,
            str(exc),
            unreachable=isinstance(exc, VenueUnreachableError),
        )
    except Exception as exc:  # a venue or library failure must not stop the others
        log.debug("fetch of %s failed", key, exc_info=True)
        return SyncResult(
            key, "failed", fetched, inserted, start, now, f"{type(exc).__name__}: {exc}"
        )
    status: SyncStatus = "updated" if inserted else "up_to_date"
    return SyncResult(key, status, fetched, inserted, start, now, note)


def _record(key: SeriesKey, chunk: pl.DataFrame, now: datetime) -> ImportRecord:
    first, last = str(chunk[TS].min()), str(chunk[TS].max())
    digest = hashlib.sha256(f"{key}|{first}|{last}|{chunk.height}".encode()).hexdigest()
    return ImportRecord(
        path=f"{key.venue} API ({key.market} {key.kind.value} {key.timeframe})",
        sha256=digest,
        size_bytes=0,
        preset=f"live-{key.venue}",
        options={"fetched_at": now.isoformat(), "first": first, "last": last},
    )


def sync_sources(
    store: Store,
    plan: Sequence[tuple[Source, SeriesKey]],
    *,
    since: datetime,
    now: datetime,
    on_start: Callable[[SeriesKey], None] | None = None,
    on_rows: Callable[[SeriesKey, int], None] | None = None,
    on_done: Callable[[SyncResult], None] | None = None,
) -> list[SyncResult]:
    """Run :func:`sync_series` for every (source, key) pair, one after another.

    Returns
    -------
    list[SyncResult]
        One per pair, in order; failures do not stop the rest.
    """
    results = []
    unreachable: dict[str, str] = {}
    for source, key in plan:
        if on_start is not None:
            on_start(key)
        if source.venue in unreachable:  # do not wait on a dead host again
            result = SyncResult(key, "failed", note=unreachable[source.venue])
            results.append(result)
            if on_done is not None:
                on_done(result)
            continue

        def rows(n: int, key: SeriesKey = key) -> None:
            if on_rows is not None:
                on_rows(key, n)

        result = sync_series(store, source, key, since=since, now=now, on_rows=rows)
        if result.status == "failed" and result.unreachable:
            unreachable[source.venue] = f"skipped: {source.venue} unreachable"
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results


ARCHIVE_SETS: tuple[tuple[str, str, str | None], ...] = (
    ("spot", "klines", "1d"),
    ("um", "klines", "1d"),
    ("um", "fundingRate", None),
    ("um", "metrics", None),
)
"""What :func:`sync_archive` downloads: daily candles, funding, 5-minute OI."""


@dataclass(frozen=True)
class ArchiveSync:
    """What one archive download and import did (file counts, new rows, errors)."""

    planned: int
    downloaded: int
    already_present: int
    not_published: int
    failed: tuple[str, ...]
    imported_files: int
    new_rows: int
    import_errors: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready view."""
        return {
            "planned": self.planned,
            "downloaded": self.downloaded,
            "already_present": self.already_present,
            "not_published": self.not_published,
            "failed": list(self.failed),
            "imported_files": self.imported_files,
            "new_rows": self.new_rows,
            "import_errors": list(self.import_errors),
        }


def sync_archive(
    store: Store,
    asset: str,
    *,
    since: datetime,
    now: datetime,
    dest_dir: str | Path,
    base_url: str,
    on_planned: Callable[[int], None] | None = None,
    on_file: Callable[[], None] | None = None,
    on_imports: Callable[[int], None] | None = None,
    on_import: Callable[[], None] | None = None,
) -> ArchiveSync:
    """Download ``asset``'s USDT files of Binance's bulk archive and import them.

    Files are verified against their checksums before import (see
    :func:`rallylens.sources.binance_archive.download_archive`); files kept in
    ``dest_dir`` from earlier runs are not downloaded again and files imported
    before are skipped, so a re-run adds nothing. The callbacks report
    progress: how many files are planned, each file done, how many are
    imported, each import done.
    """
    from rallylens.sources import find_files
    from rallylens.sources.binance_archive import download_archive, plan_archive
    from rallylens.store.ingest import import_files

    plan = [
        item
        for market_type, data, interval in ARCHIVE_SETS
        for item in plan_archive(
            market_type,  # type: ignore[arg-type]
            f"{asset.upper()}USDT",
            data,  # type: ignore[arg-type]
            interval,
            start=since,
            end=now,
            today=now.date(),
        )
    ]
    if on_planned is not None:
        on_planned(len(plan))
    result = download_archive(
        plan,
        dest_dir,
        base_url=base_url,
        on_progress=None if on_file is None else lambda outcome: on_file(),
    )
    paths = find_files(result.paths)
    if on_imports is not None:
        on_imports(len(paths))
    summary = import_files(
        store, paths, on_file=None if on_import is None else lambda outcome: on_import()
    )
    return ArchiveSync(
        planned=len(plan),
        downloaded=len(result.downloaded),
        already_present=len(result.present),
        not_published=len(result.not_published),
        failed=tuple(f"{o.file.name}: {o.reason}" for o in result.failed),
        imported_files=sum(f.status == "imported" for f in summary.files),
        new_rows=summary.inserted,
        import_errors=tuple(f"{f.path.name}: {f.error}" for f in summary.failed),
    )
