"""Import files into the store: parse each file, then write it atomically."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl

from rallylens._typing import ConflictPolicy
from rallylens.exceptions import RallylensError
from rallylens.schemas import TS, SeriesKey
from rallylens.sources import FileOptions, MappingRule, parse_file
from rallylens.store._db import Store
from rallylens.store.write import ImportRecord, find_import, write_series

__all__ = ["FileResult", "ImportSummary", "SeriesResult", "import_files"]

log = logging.getLogger(__name__)

Status = Literal["imported", "unchanged", "skipped", "failed", "checked"]


@dataclass(frozen=True)
class SeriesResult:
    """What one file contributed to one series."""

    key: SeriesKey
    rows: int
    inserted: int
    filled: int
    conflicting: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class FileResult:
    """Outcome for one file.

    ``status`` is ``imported`` (rows written), ``unchanged`` (parsed, nothing
    new), ``skipped`` (these exact bytes were imported before), ``checked``
    (dry run) or ``failed`` (``error`` says why; nothing of the file stored).
    """

    path: Path
    status: Status
    preset: str = ""
    series: tuple[SeriesResult, ...] = ()
    duplicates_dropped: int = 0
    error: str | None = None

    @property
    def inserted(self) -> int:
        """New rows stored from this file."""
        return sum(s.inserted for s in self.series)


@dataclass
class ImportSummary:
    """Outcome of an import run."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def failed(self) -> list[FileResult]:
        """Files that could not be imported."""
        return [f for f in self.files if f.status == "failed"]

    @property
    def inserted(self) -> int:
        """New rows over all files."""
        return sum(f.inserted for f in self.files)


def import_files(
    store: Store,
    paths: Sequence[Path],
    *,
    preset: str | None = None,
    options: FileOptions | None = None,
    rules: Sequence[MappingRule] = (),
    policy: ConflictPolicy = "keep",
    dry_run: bool = False,
    force: bool = False,
    on_file: Callable[[FileResult], None] | None = None,
) -> ImportSummary:
    """Import files one by one, each in its own transaction.

    Parameters
    ----------
    store : Store
        The target store (may be read-only with ``dry_run``).
    paths : Sequence[Path]
        Files to import (see :func:`rallylens.sources.find_files`).
    preset, options, rules
        Passed to :func:`rallylens.sources.parse_file`.
    policy : {"keep", "overwrite"}
        What happens to rows already stored (see :mod:`rallylens.store.write`).
    dry_run : bool
        Parse and report, write nothing.
    force : bool
        Re-parse files whose exact bytes were imported before (by default
        they are skipped, which makes a repeated import a no-op).
    on_file : callable, optional
        Called with each file's result as soon as it is known (progress).

    Returns
    -------
    ImportSummary
        One result per file; a failed file leaves the store as it was.
    """
    summary = ImportSummary()
    for path in paths:
        result = _import_one(
            store, path, preset, options, rules, policy, dry_run, force
        )
        summary.files.append(result)
        if on_file is not None:
            on_file(result)
    return summary


def _import_one(
    store: Store,
    path: Path,
    preset: str | None,
    options: FileOptions | None,
    rules: Sequence[MappingRule],
    policy: ConflictPolicy,
    dry_run: bool,
    force: bool,
) -> FileResult:
    try:
        raw, chosen, parsed = parse_file(
            path, preset=preset, options=options, rules=rules
        )
    except RallylensError as exc:
        log.debug("import of %s failed", path, exc_info=True)
        return FileResult(path, "failed", error=f"{type(exc).__name__}: {exc}")
    if dry_run:
        series = tuple(_series_result(s.key, s.frame, 0, 0, 0) for s in parsed.series)
        return FileResult(
            path, "checked", chosen.name, series, parsed.duplicates_dropped
        )
    keys = [s.key for s in parsed.series]
    if not force and find_import(store, raw.sha256, chosen.name, keys) is not None:
        return FileResult(path, "skipped", chosen.name, (), parsed.duplicates_dropped)
    record = ImportRecord(
        path=str(path.resolve()),
        sha256=raw.sha256,
        size_bytes=raw.size_bytes,
        preset=chosen.name,
        options=_describe(options),
        duplicates_dropped=parsed.duplicates_dropped,
    )
    try:
        report = write_series(store, parsed.series, record=record, policy=policy)
    except RallylensError as exc:
        return FileResult(
            path, "failed", chosen.name, error=f"{type(exc).__name__}: {exc}"
        )
    frames = {s.key: s.frame for s in parsed.series}
    series = tuple(
        _series_result(w.key, frames[w.key], w.inserted, w.filled, w.conflicting)
        for w in report.series
    )
    status: Status = "imported" if report.inserted or report.filled else "unchanged"
    return FileResult(path, status, chosen.name, series, parsed.duplicates_dropped)


def _series_result(
    key: SeriesKey, frame: pl.DataFrame, inserted: int, filled: int, conflicting: int
) -> SeriesResult:
    first, last = (frame[TS].min(), frame[TS].max()) if frame.height else (None, None)
    return SeriesResult(
        key,
        frame.height,
        inserted,
        filled,
        conflicting,
        first if isinstance(first, datetime) else None,
        last if isinstance(last, datetime) else None,
    )


def _describe(options: FileOptions | None) -> dict[str, object]:
    if options is None:
        return {}
    fields = (
        "venue",
        "market",
        "kind",
        "timeframe",
        "rate_unit",
        "oi_unit",
        "interval_hours",
    )
    return {
        f: str(getattr(options, f)) for f in fields if getattr(options, f) is not None
    }
