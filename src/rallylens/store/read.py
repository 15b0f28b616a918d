"""Reading series and their provenance out of the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import StoreError
from rallylens.schemas import (
    IRREGULAR_TIMEFRAMES,
    TS,
    SeriesKey,
    schema_for,
    timeframe_duration,
)
from rallylens.store._db import Store

__all__ = ["last_timestamp", "list_series", "read_series", "series_info"]

_INFO_COLUMNS = {
    "series": pl.String(),
    "venue": pl.String(),
    "market": pl.String(),
    "kind": pl.String(),
    "timeframe": pl.String(),
    "asset": pl.String(),
    "first_ts": pl.Datetime("us", "UTC"),
    "last_ts": pl.Datetime("us", "UTC"),
    "rows": pl.Int64(),
    "gaps": pl.Int64(),
    "largest_gap_bars": pl.Int64(),
    "sources": pl.List(pl.String()),
    "last_import": pl.Datetime("us", "UTC"),
    "notes": pl.String(),
}


def list_series(store: Store, *, asset: str | None = None) -> pl.DataFrame:
    """Stored series with their identity: one row per series.

    Returns
    -------
    pl.DataFrame
        series_id, venue, market, kind, timeframe, asset, market_type, notes.
    """
    sql = (
        "SELECT series_id, venue, market, kind, timeframe, asset, market_type, "
        "notes::VARCHAR AS notes FROM series"
    )
    params: list[object] = []
    if asset is not None:
        sql += " WHERE asset = ?"
        params.append(asset.upper())
    return store.query(sql + " ORDER BY asset, kind, venue, market, timeframe", params)


def last_timestamp(store: Store, key: SeriesKey) -> datetime | None:
    """The newest ``ts`` stored for ``key`` (None: no such series or no rows)."""
    row = store.one(
        f"SELECT max(t.ts) FROM {key.schema.name} t JOIN series s USING (series_id) "
        "WHERE s.venue = ? AND s.market = ? AND s.kind = ? AND s.timeframe = ?",
        [key.venue, key.market, key.kind.value, key.timeframe],
    )
    if row is None or row[0] is None:
        return None
    value = row[0]
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_series(
    store: Store,
    key: SeriesKey,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Rows of one series in its canonical schema, sorted by key.

    Parameters
    ----------
    store : Store
        An open store.
    key : SeriesKey
        The series to read.
    start, end : datetime, optional
        Inclusive bounds on ``ts`` (timezone-aware).

    Raises
    ------
    StoreError
        If the store holds no such series.
    """
    row = store.one(
        "SELECT series_id FROM series WHERE venue = ? AND market = ? AND kind = ? "
        "AND timeframe = ?",
        [key.venue, key.market, key.kind.value, key.timeframe],
    )
    if row is None:
        raise StoreError(
            f"the store holds no series {key}; see 'rallylens store info' for "
            "what is there"
        )
    schema = key.schema
    cols = ", ".join(schema.columns)
    sql = f"SELECT {cols} FROM {schema.name} WHERE series_id = ?"
    params: list[object] = [int(str(row[0]))]
    if start is not None:
        sql += " AND ts >= ?::TIMESTAMPTZ"
        params.append(start)
    if end is not None:
        sql += " AND ts <= ?::TIMESTAMPTZ"
        params.append(end)
    sql += " ORDER BY " + ", ".join(schema.key)
    frame = store.query(sql, params)
    return frame.select(pl.col(c).cast(dtype) for c, dtype in schema.columns.items())


def series_info(store: Store) -> pl.DataFrame:
    """One row per series: range, rows, gaps against its timeframe, provenance.

    Returns
    -------
    pl.DataFrame
        Columns ``series, venue, market, kind, timeframe, asset, first_ts,
        last_ts, rows, gaps, largest_gap_bars, sources, last_import, notes``.
        ``gaps`` counts bars missing between the first and the last bar (for
        funding settlements: missing settlements by each row's interval; for
        event and snapshot series: null, they have no expected spacing).
    """
    series = list_series(store)
    if series.is_empty():
        return pl.DataFrame(schema=_INFO_COLUMNS)
    sources = store.query(
        "SELECT si.series_id, list(DISTINCT i.path ORDER BY i.path) AS sources, "
        "max(i.imported_at) AS last_import FROM series_imports si "
        "JOIN imports i USING (import_id) GROUP BY si.series_id"
    )
    stats = pl.concat(
        [
            _table_stats(store, kind, series.select("series_id", "timeframe"))
            for kind in _stored_tables(series)
        ],
        how="vertical",
    )
    out = (
        series.join(stats, on="series_id", how="left")
        .join(sources, on="series_id", how="left")
        .with_columns(
            pl.concat_str(
                ["venue", "market", "kind", "timeframe"], separator=":"
            ).alias("series"),
            pl.col("notes").map_elements(_format_notes, return_dtype=pl.String()),
        )
    )
    return out.select(
        pl.col(c).cast(dtype) if c in out.columns else pl.lit(None, dtype).alias(c)
        for c, dtype in _INFO_COLUMNS.items()
    )


def _stored_tables(series: pl.DataFrame) -> list[str]:
    names = {schema_for(k).name: k for k in series["kind"].unique().to_list()}
    return sorted(names.values())


def _table_stats(store: Store, kind: str, timeframes: pl.DataFrame) -> pl.DataFrame:
    schema = schema_for(kind)
    interval = "interval_hours" if schema.name == "funding" else "NULL::INTEGER"
    ts = store.query(
        f"SELECT DISTINCT d.series_id, d.ts, {interval} AS interval_hours "
        f"FROM {schema.name} d ORDER BY d.series_id, d.ts"
    )
    ts = ts.join(timeframes, on="series_id")
    groups = []
    for (series_id,), part in ts.group_by(["series_id"], maintain_order=True):
        groups.append(_gap_stats(int(str(series_id)), part))
    return pl.DataFrame(
        groups,
        schema={
            "series_id": pl.Int32(),
            "first_ts": pl.Datetime("us", "UTC"),
            "last_ts": pl.Datetime("us", "UTC"),
            "rows": pl.Int64(),
            "gaps": pl.Int64(),
            "largest_gap_bars": pl.Int64(),
        },
        orient="row",
    )


def _gap_stats(series_id: int, part: pl.DataFrame) -> tuple[object, ...]:
    timeframe = part["timeframe"][0]
    first, last = part[TS].min(), part[TS].max()
    rows = part.height
    if timeframe in IRREGULAR_TIMEFRAMES and timeframe != "settle":
        return (series_id, first, last, rows, None, None)
    if timeframe == "settle":
        step_s = part["interval_hours"].cast(pl.Int64) * 3600
    else:
        duration = timeframe_duration(timeframe)
        assert duration is not None
        step_s = pl.Series([int(duration.total_seconds())] * rows)
    diffs = part[TS].diff().dt.total_seconds().fill_null(0)
    # bars skipped before each row, measured in the previous row's step
    skipped = ((diffs / step_s.shift(1).fill_null(1)).round() - 1).clip(lower_bound=0)
    largest = skipped.max()
    return (series_id, first, last, rows, int(skipped.sum()), int(largest or 0))  # type: ignore[arg-type]


def _format_notes(notes: str | None) -> str:
    if not notes:
        return ""
    parsed = json.loads(notes)
    return "; ".join(f"{k}: {v}" for k, v in sorted(parsed.items()))


def kinds_in_store(store: Store) -> list[SeriesKind]:
    """Series kinds the store holds at least one series of."""
    rows = store.run("SELECT DISTINCT kind FROM series")
    return sorted(SeriesKind(str(r[0])) for r in rows)
