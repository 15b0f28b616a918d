"""Numbered schema migrations of the embedded store.

Each migration is a list of SQL statements applied in one transaction; the
applied versions are recorded in ``schema_version``. Never edit a released
migration: add a new one.

Data tables carry no index: row keys are kept unique by
:func:`rallylens.store.write.write_series`, the only writer, which
de-duplicates every batch and anti-joins it against the stored rows. An ART
index would triple the cost of bulk imports for no extra safety.
"""

from __future__ import annotations

import duckdb

__all__ = ["MIGRATIONS", "apply_migrations", "current_version"]

_V1 = [
    """CREATE SEQUENCE series_id_seq START 1""",
    """CREATE SEQUENCE import_id_seq START 1""",
    """CREATE TABLE series (
        series_id INTEGER PRIMARY KEY,
        venue VARCHAR NOT NULL,
        market VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        timeframe VARCHAR NOT NULL,
        asset VARCHAR NOT NULL,
        market_type VARCHAR NOT NULL,
        notes JSON,
        created_at TIMESTAMP NOT NULL,
        UNIQUE (venue, market, kind, timeframe)
    )""",
    """CREATE TABLE imports (
        import_id INTEGER PRIMARY KEY,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        size_bytes BIGINT NOT NULL,
        preset VARCHAR NOT NULL,
        options JSON,
        imported_at TIMESTAMP NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_inserted BIGINT NOT NULL,
        rows_filled BIGINT NOT NULL,
        rows_conflicting BIGINT NOT NULL,
        duplicates_dropped BIGINT NOT NULL
    )""",
    """CREATE TABLE series_imports (
        import_id INTEGER NOT NULL,
        series_id INTEGER NOT NULL,
        first_ts TIMESTAMP,
        last_ts TIMESTAMP,
        rows_read BIGINT NOT NULL,
        rows_inserted BIGINT NOT NULL,
        PRIMARY KEY (import_id, series_id)
    )""",
    """CREATE TABLE candles (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL,
        open DOUBLE NOT NULL, high DOUBLE NOT NULL, low DOUBLE NOT NULL,
        close DOUBLE NOT NULL, volume DOUBLE, quote_volume DOUBLE, trades BIGINT,
        taker_buy_base DOUBLE, taker_buy_quote DOUBLE
    )""",
    """CREATE TABLE funding (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL,
        rate DOUBLE NOT NULL, interval_hours INTEGER NOT NULL,
        rate_open DOUBLE, rate_high DOUBLE, rate_low DOUBLE
    )""",
    """CREATE TABLE open_interest (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL,
        oi_base DOUBLE, oi_usd DOUBLE,
        oi_base_derived BOOLEAN NOT NULL, oi_usd_derived BOOLEAN NOT NULL
    )""",
    """CREATE TABLE liquidations (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL,
        long_usd DOUBLE, short_usd DOUBLE
    )""",
    """CREATE TABLE liquidation_events (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL, side VARCHAR NOT NULL,
        price DOUBLE NOT NULL, quantity DOUBLE NOT NULL, notional_usd DOUBLE
    )""",
    """CREATE TABLE taker_volume (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL,
        buy_usd DOUBLE NOT NULL, sell_usd DOUBLE NOT NULL
    )""",
    """CREATE TABLE options_chain (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL, instrument VARCHAR NOT NULL,
        expiry TIMESTAMP NOT NULL, strike DOUBLE NOT NULL, option_type VARCHAR NOT NULL,
        open_interest DOUBLE, mark_iv DOUBLE, mark_price DOUBLE,
        underlying_price DOUBLE, index_price DOUBLE,
        delta DOUBLE, gamma DOUBLE, vega DOUBLE, theta DOUBLE,
        bid_iv DOUBLE, ask_iv DOUBLE, quote_ts TIMESTAMP
    )""",
    """CREATE TABLE vol_index (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL,
        open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE NOT NULL
    )""",
    """CREATE TABLE metrics (
        series_id INTEGER NOT NULL, ts TIMESTAMP NOT NULL, metric VARCHAR NOT NULL,
        value DOUBLE
    )""",
]

_V2 = [
    # live recordings (rallylens.store.recording): which periods a recorder
    # covered, and the disconnected periods inside them
    """CREATE SEQUENCE recording_run_id_seq START 1""",
    """CREATE TABLE recording_runs (
        run_id INTEGER PRIMARY KEY,
        started_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP NOT NULL,
        clean_stop BOOLEAN NOT NULL,
        options JSON
    )""",
    """CREATE TABLE recording_coverage (
        run_id INTEGER NOT NULL,
        series_id INTEGER NOT NULL,
        covered_start TIMESTAMP NOT NULL,
        covered_end TIMESTAMP NOT NULL,
        PRIMARY KEY (run_id, series_id)
    )""",
    """CREATE TABLE recording_gaps (
        series_id INTEGER NOT NULL,
        gap_start TIMESTAMP NOT NULL,
        gap_end TIMESTAMP NOT NULL,
        reason VARCHAR NOT NULL,
        run_id INTEGER
    )""",
]

MIGRATIONS: tuple[tuple[int, list[str]], ...] = ((1, _V1), (2, _V2))
"""(version, statements) in the order they are applied."""


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """Highest applied migration version, 0 for a new store."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_version'"
    ).fetchall()
    if not exists[0][0]:
        return 0
    rows = con.execute(
        "SELECT coalesce(max(version), 0) FROM schema_version"
    ).fetchall()
    return int(rows[0][0])


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration newer than the store's version.

    Returns
    -------
    list[int]
        The versions applied now (empty when the store was current).
    """
    applied: list[int] = []
    for version, statements in MIGRATIONS:
        if version <= current_version(con):
            continue
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
            ).fetchall()
            for statement in statements:
                con.execute(statement).fetchall()
            con.execute(
                "INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version]
            ).fetchall()
            con.execute("COMMIT").fetchall()
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise
        applied.append(version)
    return applied
