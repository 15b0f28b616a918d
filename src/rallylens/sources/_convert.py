"""Typed conversion of raw string columns, with errors that name the line.

Every parser in ``sources/`` turns its raw frame into canonical columns
through these functions, so that units and timestamps are converted in one
explicit place and every failure names the file, the line and the column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import polars as pl

from rallylens.exceptions import ParseError
from rallylens.schemas import (
    TS,
    TS_DTYPE,
    FrameSchema,
    SeriesFrame,
    SeriesKey,
    timeframe_duration,
)
from rallylens.sources._reader import ROW, RawFile

__all__ = [
    "EpochUnit",
    "Parsed",
    "finish_series",
    "infer_timeframe",
    "parse_datetime",
    "parse_epoch",
    "parse_float",
    "parse_int",
    "require_columns",
    "timeframe_from_seconds",
]

EpochUnit = Literal["auto", "s", "ms", "us"]

_EPOCH_FACTOR = {"s": 1_000_000, "ms": 1_000, "us": 1}
_MAX_FUTURE = timedelta(days=1)


@dataclass
class Parsed:
    """Series parsed from one file plus what was dropped on the way."""

    series: list[SeriesFrame] = field(default_factory=list)
    duplicates_dropped: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Parsed) -> None:
        """Merge another result into this one."""
        self.series.extend(other.series)
        self.duplicates_dropped += other.duplicates_dropped
        self.notes.extend(other.notes)


def timeframe_from_seconds(seconds: int) -> str | None:
    """Timeframe of a bar length (``3600`` -> ``1h``); None unless whole minutes."""
    if seconds <= 0:
        return None
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return None


def infer_timeframe(ts: pl.Series) -> str | None:
    """The most common spacing of the unique timestamps, as a timeframe string."""
    diffs = ts.unique().sort().diff().drop_nulls()
    if diffs.is_empty():
        return None
    return timeframe_from_seconds(int(diffs.dt.total_seconds().mode().sort()[0]))


def require_columns(raw: RawFile, frame: pl.DataFrame, columns: Sequence[str]) -> None:
    """Raise naming the first column of ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParseError(
            f"{raw.path}: missing column(s) {missing}; found {frame.columns[:12]}. "
            "Is this the right preset for the file?"
        )


def _fail_first(
    raw: RawFile, frame: pl.DataFrame, bad: pl.Series, column: str, what: str
) -> None:
    if bad.any():
        first = frame.filter(bad).row(0, named=True)
        raise ParseError(
            f"{raw.where(first.get(ROW), column)}: {what} (value {first.get(column)!r})"
        )


def parse_float(
    raw: RawFile, frame: pl.DataFrame, column: str, *, scale: float = 1.0
) -> pl.Series:
    """Parse a string column as float, empty strings as null, times ``scale``.

    Raises
    ------
    ParseError
        Naming the first line whose value is not a number.
    """
    text = frame[column].cast(pl.String).str.strip_chars()
    blank = (
        text.is_null()
        | text.str.to_lowercase().is_in(["", "nan", "null", "none", "n/a", "-"])
    ).fill_null(True)
    values = text.cast(pl.Float64, strict=False)
    _fail_first(raw, frame, values.is_null() & ~blank, column, "not a number")
    values = pl.select(pl.when(blank).then(None).otherwise(values)).to_series()
    out = values * scale if scale != 1.0 else values
    return out.alias(column)


def parse_int(raw: RawFile, frame: pl.DataFrame, column: str) -> pl.Series:
    """Parse a string column of whole numbers (``12.0`` accepted), nulls allowed."""
    floats = parse_float(raw, frame, column)
    _fail_first(
        raw,
        frame,
        (floats.round(0) != floats).fill_null(False),
        column,
        "not a whole number",
    )
    return floats.cast(pl.Int64)


def parse_epoch(
    raw: RawFile, frame: pl.DataFrame, column: str, *, unit: EpochUnit = "auto"
) -> pl.Series:
    """Parse epoch numbers as UTC timestamps.

    Parameters
    ----------
    unit : {"auto", "s", "ms", "us"}
        ``auto`` decides per row by magnitude (files that mix seconds and
        milliseconds exist): below 1e11 seconds, below 1e14 milliseconds,
        otherwise microseconds.

    Notes
    -----
    1e11 s is the year 5138 and 1e11 ms is 1973, so the split is unambiguous
    for market data.
    """
    numbers = parse_float(raw, frame, column)
    _fail_first(raw, frame, numbers.is_null(), column, "missing timestamp")
    if unit == "auto":
        factor = (
            pl.when(numbers < 1e11)
            .then(1_000_000.0)
            .when(numbers < 1e14)
            .then(1_000.0)
            .otherwise(1.0)
        )
    else:
        factor = pl.lit(float(_EPOCH_FACTOR[unit]))
    micros = pl.select((numbers * factor).round(0).cast(pl.Int64)).to_series()
    ts = micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    _check_plausible(raw, frame, ts, column)
    return ts.alias(TS)


def parse_datetime(
    raw: RawFile,
    frame: pl.DataFrame,
    column: str,
    *,
    formats: Sequence[str] = (),
) -> pl.Series:
    """Parse date/time strings as UTC timestamps.

    ISO 8601 (with ``T`` or a space, with or without ``Z``/offset, or a bare
    date) is always tried; ``formats`` (strptime patterns) are tried in order
    for what ISO parsing leaves unparsed. Strings without an offset are read
    as UTC.
    """
    text = frame[column].str.strip_chars()
    parsed = _parse_iso(text)
    for fmt in formats:
        alt = text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us")
        parsed = parsed.fill_null(alt)
    _fail_first(raw, frame, parsed.is_null(), column, "unrecognised date/time")
    _check_plausible(raw, frame, parsed, column)
    return parsed.alias(TS)


def _parse_iso(text: pl.Series) -> pl.Series:
    clean = text.str.replace("T", " ").str.replace(r"Z$", "+00:00")
    with_offset = clean.str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f%:z", strict=False, time_unit="us"
    ).dt.convert_time_zone("UTC")
    out = with_offset
    for fmt in ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        naive = clean.str.to_datetime(
            fmt, strict=False, time_unit="us", time_zone="UTC"
        )
        out = out.fill_null(naive)
    return out.cast(TS_DTYPE)


def _check_plausible(
    raw: RawFile, frame: pl.DataFrame, ts: pl.Series, column: str
) -> None:
    low = datetime(2009, 1, 3, tzinfo=UTC)
    _fail_first(
        raw,
        frame,
        (ts < low).fill_null(False),
        column,
        "timestamp before 2009 (wrong unit? pass the epoch unit explicitly)",
    )


def finish_series(
    raw: RawFile,
    key: SeriesKey,
    frame: pl.DataFrame,
    *,
    now: datetime,
    notes: Mapping[str, str] | None = None,
) -> Parsed:
    """Turn converted columns into a validated, de-duplicated :class:`SeriesFrame`.

    ``frame`` holds :data:`ROW` and any subset of the schema's columns;
    missing nullable columns are added as nulls. Duplicate keys keep the row
    with the most values (the first such row in file order on a tie).

    Raises
    ------
    ParseError
        If a required column is null on some line, or a row lies in the
        future (beyond ``now`` plus one day).
    """
    schema = key.schema
    for name in schema.required:
        if name not in frame.columns:
            raise ParseError(f"{raw.path}: no values for required column {name!r}")
        _fail_first(raw, frame, frame[name].is_null(), name, "missing required value")
    full = frame.with_columns(
        pl.lit(None, dtype).alias(c)
        for c, dtype in schema.columns.items()
        if c not in frame.columns
    ).with_columns(pl.col(c).cast(dtype) for c, dtype in schema.columns.items())
    _check_future(raw, full, key, now)
    deduped, dropped = _dedupe(full, schema)
    return Parsed(
        [SeriesFrame(key, deduped.select(list(schema.columns)), dict(notes or {}))],
        duplicates_dropped=dropped,
    )


def _check_future(
    raw: RawFile, frame: pl.DataFrame, key: SeriesKey, now: datetime
) -> None:
    duration = timeframe_duration(key.timeframe) or timedelta(0)
    limit = now + max(duration, _MAX_FUTURE)
    bad = frame[TS] > limit
    if bad.any():
        first = frame.filter(bad).row(0, named=True)
        raise ParseError(
            f"{raw.where(first.get(ROW), TS)}: timestamp {first[TS]:%Y-%m-%d %H:%M} is "
            "in the future; check the time unit (seconds vs milliseconds) or the "
            "machine's clock"
        )


def _dedupe(frame: pl.DataFrame, schema: FrameSchema) -> tuple[pl.DataFrame, int]:
    key = list(schema.key)
    if key == [TS] and bool((frame[TS].diff().drop_nulls() > timedelta(0)).all()):
        return frame, 0  # already strictly increasing: nothing to drop or sort
    filled = (
        pl.sum_horizontal(
            pl.col(c).is_not_null().cast(pl.Int32) for c in schema.value_columns
        )
        if schema.value_columns
        else pl.lit(0)
    )
    ordered = frame.with_columns(filled.alias("__filled")).sort(
        ["__filled", ROW] if ROW in frame.columns else ["__filled"],
        descending=[True, False] if ROW in frame.columns else [True],
    )
    unique = ordered.unique(subset=key, keep="first", maintain_order=True).sort(key)
    return unique.drop("__filled"), frame.height - unique.height
