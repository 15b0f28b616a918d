"""Idempotent, atomic writes into the store.

A write takes every series parsed from one file and lands it in a single
transaction: either all of it is stored, or (on any error, including a
crash) none of it. Rows are upserted by ``(series_id, key columns)``:

* a row whose key is new is inserted;
* with ``policy="keep"`` (default) an existing row keeps its values, only its
  null columns are filled from the new row; differing non-null values are
  counted as conflicts, so re-importing a file or an overlapping export never
  changes what is stored;
* with ``policy="overwrite"`` the new non-null values replace the old ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from rallylens._typing import ConflictPolicy
from rallylens.schemas import TS, FrameSchema, SeriesFrame, SeriesKey, parse_market
from rallylens.store._db import Store

__all__ = ["ImportRecord", "SeriesWrite", "WriteReport", "find_import", "write_series"]


@dataclass(frozen=True)
class ImportRecord:
    """Where a batch of series came from."""

    path: str
    sha256: str
    size_bytes: int
    preset: str
    options: Mapping[str, object] = field(default_factory=dict)
    duplicates_dropped: int = 0


@dataclass(frozen=True)
class SeriesWrite:
    """Outcome of writing one series."""

    key: SeriesKey
    rows_read: int
    inserted: int
    filled: int
    conflicting: int

    @property
    def unchanged(self) -> int:
        """Rows already stored with the same (or kept) values."""
        return self.rows_read - self.inserted - self.filled


@dataclass(frozen=True)
class WriteReport:
    """Outcome of one atomic write."""

    import_id: int | None
    series: tuple[SeriesWrite, ...]

    @property
    def inserted(self) -> int:
        """New rows over all series."""
        return sum(s.inserted for s in self.series)

    @property
    def rows_read(self) -> int:
        """Rows offered over all series."""
        return sum(s.rows_read for s in self.series)

    @property
    def filled(self) -> int:
        """Existing rows that gained values."""
        return sum(s.filled for s in self.series)

    @property
    def conflicting(self) -> int:
        """Existing rows whose stored values differ from the offered ones."""
        return sum(s.conflicting for s in self.series)


def find_import(
    store: Store, sha256: str, preset: str, keys: Sequence[SeriesKey]
) -> tuple[int, str] | None:
    """Return ``(import_id, imported_at)`` of an earlier import of the same bytes.

    Only an import with the same preset that produced exactly the series in
    ``keys`` counts (the same file read as another market is a new import).
    """
    wanted = sorted(str(k) for k in keys)
    rows = store.run(
        "SELECT i.import_id, i.imported_at::VARCHAR, "
        "list(s.venue || ':' || s.market || ':' || s.kind || ':' || s.timeframe) "
        "FROM imports i JOIN series_imports si USING (import_id) "
        "JOIN series s USING (series_id) WHERE i.sha256 = ? AND i.preset = ? "
        "GROUP BY ALL ORDER BY i.import_id DESC",
        [sha256, preset],
    )
    for import_id, imported_at, names in rows:
        if sorted(names) == wanted:  # type: ignore[call-overload]
            return int(str(import_id)), str(imported_at)
    return None


def write_series(
    store: Store,
    frames: Sequence[SeriesFrame],
    *,
    record: ImportRecord | None = None,
    policy: ConflictPolicy = "keep",
) -> WriteReport:
    """Upsert several series in one transaction.

    Parameters
    ----------
    store : Store
        An open, writable store.
    frames : Sequence[SeriesFrame]
        Each frame in its kind's canonical schema without duplicate keys.
    record : ImportRecord, optional
        Provenance to record with the rows (file path, hash, preset).
    policy : {"keep", "overwrite"}, default "keep"
        What happens to rows already stored (see module notes).

    Returns
    -------
    WriteReport
        Rows inserted, filled and conflicting per series.
    """
    store.run("BEGIN TRANSACTION")
    try:
        import_id = _next_id(store, "import_id_seq") if record is not None else None
        results = []
        for item in frames:
            series_id = _ensure_series(store, item)
            result = _upsert(store, series_id, item, policy)
            results.append(result)
            if import_id is not None:
                _record_series_import(store, import_id, series_id, item, result)
        if record is not None and import_id is not None:
            _record_import(store, import_id, record, results)
        store.run("COMMIT")
    except BaseException:
        store.run("ROLLBACK")
        raise
    return WriteReport(import_id, tuple(results))


def _next_id(store: Store, sequence: str) -> int:
    row = store.one(f"SELECT nextval('{sequence}')")
    assert row is not None
    return int(str(row[0]))


def _ensure_series(store: Store, item: SeriesFrame) -> int:
    key = item.key
    ident = [key.venue, key.market, key.kind.value, key.timeframe]
    row = store.one(
        "SELECT series_id, notes FROM series "
        "WHERE venue = ? AND market = ? AND kind = ? AND timeframe = ?",
        ident,
    )
    if row is not None:
        series_id = int(str(row[0]))
        notes = json.loads(str(row[1])) if row[1] else {}
        merged = {**notes, **item.notes}
        if merged != notes:
            store.run(
                "UPDATE series SET notes = ? WHERE series_id = ?",
                [json.dumps(merged, sort_keys=True), series_id],
            )
        return series_id
    series_id = _next_id(store, "series_id_seq")
    market = parse_market(key.market)
    store.run(
        "INSERT INTO series VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [
            series_id,
            *ident,
            market.base,
            market.market_type,
            json.dumps(dict(item.notes), sort_keys=True),
        ],
    )
    return series_id


def _upsert(
    store: Store, series_id: int, item: SeriesFrame, policy: ConflictPolicy
) -> SeriesWrite:
    schema = item.key.schema
    frame = item.frame.select(list(schema.columns)).with_columns(
        pl.col(c).dt.replace_time_zone(None)
        for c, dtype in schema.columns.items()
        if isinstance(dtype, pl.Datetime)
    )
    con = store.con
    con.register("_incoming", frame.to_arrow())
    try:
        existing = store.one(
            f"SELECT count(*) FROM {schema.name} WHERE series_id = ?", [series_id]
        )
        assert existing is not None
        cols = ", ".join(schema.columns)
        if existing[0] == 0:
            store.run(
                f"INSERT INTO {schema.name} (series_id, {cols}) "
                f"SELECT ?, {cols} FROM _incoming",
                [series_id],
            )
            return SeriesWrite(item.key, frame.height, frame.height, 0, 0)
        return _merge(store, series_id, item, schema, policy)
    finally:
        con.unregister("_incoming")


def _merge(
    store: Store,
    series_id: int,
    item: SeriesFrame,
    schema: FrameSchema,
    policy: ConflictPolicy,
) -> SeriesWrite:
    table = schema.name
    cols = ", ".join(schema.columns)
    on = " AND ".join(f"t.{k} = s.{k}" for k in schema.key)
    values = schema.value_columns
    conflict = " OR ".join(
        f"(t.{v} IS NOT NULL AND s.{v} IS NOT NULL AND t.{v} <> s.{v})" for v in values
    )
    if policy == "keep":
        changes = " OR ".join(f"(t.{v} IS NULL AND s.{v} IS NOT NULL)" for v in values)
        assign = ", ".join(f"{v} = coalesce(t.{v}, s.{v})" for v in values)
    else:
        changes = " OR ".join(
            f"(s.{v} IS NOT NULL AND t.{v} IS DISTINCT FROM s.{v})" for v in values
        )
        assign = ", ".join(f"{v} = coalesce(s.{v}, t.{v})" for v in values)
    first, last = item.frame[TS].min(), item.frame[TS].max()
    bounds = (
        f" AND ts BETWEEN '{_naive(first)}'::TIMESTAMP AND '{_naive(last)}'::TIMESTAMP"
        if first is not None
        else ""
    )
    # only stored rows inside the batch's time range can match it
    scope = f"(SELECT * FROM {table} WHERE series_id = {series_id}{bounds})"
    counts = store.one(
        f"SELECT count(*) FILTER (WHERE {conflict}), count(*) FILTER (WHERE {changes}) "
        f"FROM {scope} t JOIN _incoming s ON {on}"
    )
    assert counts is not None
    conflicting, changed = int(str(counts[0])), int(str(counts[1]))
    if changed:
        store.run(
            f"UPDATE {table} AS t SET {assign} FROM _incoming s "
            f"WHERE t.series_id = {series_id} AND {on} AND ({changes})"
        )
    key_cols = ", ".join(schema.key)
    inserted_row = store.one(
        f"INSERT INTO {table} (series_id, {cols}) "
        f"SELECT {series_id}, {', '.join('s.' + c for c in schema.columns)} "
        f"FROM _incoming s ANTI JOIN (SELECT {key_cols} FROM {table} "
        f"WHERE series_id = {series_id}{bounds}) t ON {on}"
    )
    inserted = int(str(inserted_row[0])) if inserted_row else 0
    return SeriesWrite(item.key, item.frame.height, inserted, changed, conflicting)


def _naive(value: object) -> str:
    """A UTC timestamp as DuckDB ``TIMESTAMP`` text (the tables store naive UTC)."""
    assert isinstance(value, datetime)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _record_series_import(
    store: Store, import_id: int, series_id: int, item: SeriesFrame, result: SeriesWrite
) -> None:
    ts = item.frame[TS]
    first = ts.min() if item.frame.height else None
    last = ts.max() if item.frame.height else None
    store.run(
        "INSERT INTO series_imports "
        "VALUES (?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?)",
        [import_id, series_id, first, last, result.rows_read, result.inserted],
    )


def _record_import(
    store: Store, import_id: int, record: ImportRecord, results: list[SeriesWrite]
) -> None:
    store.run(
        "INSERT INTO imports "
        "VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?)",
        [
            import_id,
            record.path,
            record.sha256,
            record.size_bytes,
            record.preset,
            json.dumps(dict(record.options), sort_keys=True, default=str),
            sum(r.rows_read for r in results),
            sum(r.inserted for r in results),
            sum(r.filled for r in results),
            sum(r.conflicting for r in results),
            record.duplicates_dropped,
        ],
    )
