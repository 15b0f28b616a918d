"""Importing files into the store: idempotence, overlaps, failures, atomicity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallylens._typing import SeriesKind
from rallylens.exceptions import StoreError
from rallylens.schemas import ALL_SCHEMAS, CANDLES, SeriesFrame, SeriesKey
from rallylens.sources import FileOptions, load_mapping
from rallylens.store import Store, read_series, write_series
from rallylens.store import write as write_module
from rallylens.store.ingest import import_files
from tests.conftest import NOW

T0 = datetime(2024, 1, 1, tzinfo=UTC)
KEY = SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1h")
OPTIONS = FileOptions(now=NOW)


def _freqtrade(path: Path, hours: list[int], closes: list[float]) -> Path:
    """A freqtrade CSV of hourly bars (open = low = close - 1, high = close + 1)."""
    lines = ["date,open,high,low,close,volume"]
    for h, c in zip(hours, closes, strict=True):
        ts = (T0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{ts},{c - 1},{c + 1},{c - 1},{c},{h + 0.5}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(store: Store, table: str) -> int:
    row = store.one(f"SELECT count(*) FROM {table}")
    assert row is not None
    return int(str(row[0]))


def _snapshot(store: Store) -> dict[str, pl.DataFrame]:
    tables = ["series", "imports", "series_imports", *(s.name for s in ALL_SCHEMAS)]
    return {t: store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}


def _assert_same(before: dict[str, pl.DataFrame], after: dict[str, pl.DataFrame]):
    assert before.keys() == after.keys()
    for table in before:
        assert before[table].equals(after[table]), table


# --- idempotence ----------------------------------------------------------------
def test_reimport_is_skipped_and_force_changes_nothing(
    store: Store, tmp_path: Path
) -> None:
    path = _freqtrade(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1, 2], [10, 11, 12])
    first = import_files(store, [path], options=OPTIONS)
    (result,) = first.files
    assert result.status == "imported"
    assert result.preset == "freqtrade"
    assert result.inserted == 3
    (series,) = result.series
    assert (series.key, series.rows, series.first, series.last) == (
        KEY,
        3,
        T0,
        T0 + timedelta(hours=2),
    )
    counts = {t: _count(store, t) for t in ("series", "candles", "imports")}
    assert counts == {"series": 1, "candles": 3, "imports": 1}

    second = import_files(store, [path], options=OPTIONS)
    assert [f.status for f in second.files] == ["skipped"]
    assert second.inserted == 0
    assert {t: _count(store, t) for t in counts} == counts

    forced = import_files(store, [path], options=OPTIONS, force=True)
    assert [f.status for f in forced.files] == ["unchanged"]
    assert forced.inserted == 0
    assert forced.files[0].series[0].rows == 3
    assert _count(store, "candles") == 3
    assert _count(store, "series") == 1
    assert read_series(store, KEY)["close"].to_list() == [10.0, 11.0, 12.0]


def test_same_bytes_as_another_market_is_a_new_import(
    store: Store, tmp_path: Path
) -> None:
    path = _freqtrade(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1], [10, 11])
    import_files(store, [path], options=OPTIONS)
    other = FileOptions(now=NOW, market="BTC/FDUSD")
    summary = import_files(store, [path], options=other)
    assert [f.status for f in summary.files] == ["imported"]
    assert summary.inserted == 2
    assert _count(store, "series") == 2


# --- overlapping files -----------------------------------------------------------
def _overlapping(tmp_path: Path) -> tuple[Path, Path]:
    a = _freqtrade(
        tmp_path / "binance/a/BTC_USDT-1h.csv", [0, 1, 2, 3, 4], [10, 11, 12, 13, 14]
    )
    # hour 3 repeats the same bar; hour 4 has another close (and so open/high/low)
    b = _freqtrade(
        tmp_path / "binance/b/BTC_USDT-1h.csv", [3, 4, 5, 6], [13, 40, 15, 16]
    )
    return a, b


def test_overlap_keep_policy_keeps_first_values(store: Store, tmp_path: Path) -> None:
    a, b = _overlapping(tmp_path)
    summary = import_files(store, [a, b], options=OPTIONS)
    ra, rb = summary.files
    assert (ra.status, ra.inserted) == ("imported", 5)
    assert (rb.status, rb.inserted) == ("imported", 2)
    (sb,) = rb.series
    assert (sb.rows, sb.inserted, sb.filled, sb.conflicting) == (4, 2, 0, 1)
    stored = read_series(store, KEY)
    assert stored["close"].to_list() == [10, 11, 12, 13, 14, 15, 16]
    assert stored.filter(pl.col("ts") == T0 + timedelta(hours=4))["high"].item() == 15
    imports = store.query(
        "SELECT rows_read, rows_inserted, rows_filled, rows_conflicting "
        "FROM imports ORDER BY import_id"
    )
    assert imports.rows() == [(5, 5, 0, 0), (4, 2, 0, 1)]


def test_overlap_overwrite_policy_replaces(store: Store, tmp_path: Path) -> None:
    a, b = _overlapping(tmp_path)
    import_files(store, [a], options=OPTIONS)
    summary = import_files(store, [b], options=OPTIONS, policy="overwrite")
    (sb,) = summary.files[0].series
    assert (sb.inserted, sb.filled, sb.conflicting) == (2, 1, 1)
    stored = read_series(store, KEY)
    assert stored["close"].to_list() == [10, 11, 12, 13, 40, 15, 16]
    assert stored.filter(pl.col("ts") == T0 + timedelta(hours=4))["high"].item() == 41


def test_keep_policy_fills_missing_columns(store: Store, tmp_path: Path) -> None:
    spot = tmp_path / "data/spot/monthly/klines/BTCUSDT/1h"
    spot.mkdir(parents=True)
    short = spot / "BTCUSDT-1h-2024-01.csv"
    short.write_text(
        "open_time,open,high,low,close,volume,taker_buy_base,taker_buy_quote\n"
        "1704067200000,10,12,9,11,100,40,440\n"
        "1704070800000,11,13,10,12,200,90,1080\n"
    )
    full = spot / "BTCUSDT-1h-2024-01-full.csv"
    full.write_text(
        "1704067200000,10,12,9,11,100,1704070799999,1100,7,40,440,0\n"
        "1704070800000,11,13,10,12,200,1704074399999,2400,9,90,1080,0\n"
    )
    import_files(store, [short], options=OPTIONS)
    assert read_series(store, KEY)["trades"].to_list() == [None, None]
    summary = import_files(store, [full], options=OPTIONS)
    (s,) = summary.files[0].series
    assert (s.inserted, s.filled, s.conflicting) == (0, 2, 0)
    assert summary.files[0].status == "imported"
    stored = read_series(store, KEY)
    assert stored["trades"].to_list() == [7, 9]
    assert stored["quote_volume"].to_list() == [1100.0, 2400.0]


# --- failures ---------------------------------------------------------------------
def test_failing_file_leaves_the_others_imported(store: Store, tmp_path: Path) -> None:
    good1 = _freqtrade(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1], [10, 11])
    bad = tmp_path / "binance" / "mystery.csv"
    bad.write_text("when,what\n2024-01-01,1\n")
    good2 = _freqtrade(tmp_path / "binance" / "ETH_USDT-1h.csv", [0, 1, 2], [5, 6, 7])
    seen: list[str] = []
    summary = import_files(
        store,
        [good1, bad, good2],
        options=OPTIONS,
        on_file=lambda r: seen.append(r.status),
    )
    assert [f.status for f in summary.files] == ["imported", "failed", "imported"]
    assert seen == ["imported", "failed", "imported"]
    (failed,) = summary.failed
    assert failed.path == bad
    assert failed.error is not None
    assert failed.error.startswith("ParseError: ")
    assert str(bad) in failed.error
    assert summary.inserted == 5
    paths = [r[0] for r in store.run("SELECT path FROM imports ORDER BY path")]
    assert paths == sorted([str(good1.resolve()), str(good2.resolve())])
    assert sorted(r[0] for r in store.run("SELECT market FROM series")) == [
        "BTC/USDT",
        "ETH/USDT",
    ]


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = _freqtrade(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1, 2], [10, 11, 12])
    before = _snapshot(store)
    summary = import_files(store, [path], options=OPTIONS, dry_run=True)
    (result,) = summary.files
    assert result.status == "checked"
    assert result.series[0].rows == 3
    assert result.series[0].key == KEY
    assert summary.inserted == 0
    _assert_same(before, _snapshot(store))
    assert _count(store, "candles") == 0
    # a dry run does not count as an import: the real one is not skipped
    assert import_files(store, [path], options=OPTIONS).files[0].status == "imported"


# --- atomicity --------------------------------------------------------------------
TWO_MARKETS_RULE = """
[[file]]
match = "daily/*.csv"
preset = "generic"
venue = "coinbase"
kind = "ohlcv"
timeframe = "1d"
ts_column = "date"
market_column = "symbol"
columns = { open = "open", high = "high", low = "low", close = "close" }
"""


def _two_market_file(path: Path, closes: tuple[float, float]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "date,symbol,open,high,low,close\n"
        f"2024-01-01,BTC/USD,100,120,90,{closes[0]}\n"
        f"2024-01-02,BTC/USD,110,130,100,{closes[0] + 1}\n"
        f"2024-01-01,ETH/USD,10,12,9,{closes[1]}\n"
    )
    return path


@pytest.mark.parametrize("error", [StoreError, RuntimeError])
def test_failure_while_writing_second_series_rolls_everything_back(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: type[Exception],
) -> None:
    rules = load_mapping(_write_rules(tmp_path))
    # a first import so that the store is not empty before the failing one
    earlier = _two_market_file(tmp_path / "daily" / "old.csv", (115, 11))
    assert import_files(store, [earlier], options=OPTIONS, rules=rules).inserted == 3
    newer = tmp_path / "daily" / "new.csv"
    newer.write_text(
        "date,symbol,open,high,low,close\n"
        "2024-01-02,BTC/USD,110,130,100,116\n"
        "2024-01-03,BTC/USD,116,140,110,130\n"
        "2024-01-03,ETH/USD,11,13,10,12\n"
    )
    before = _snapshot(store)

    original = write_module._upsert
    calls: list[int] = []

    def failing_upsert(*args: object, **kwargs: object):
        calls.append(1)
        if len(calls) == 2:
            raise error("disk full while writing the second series")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(write_module, "_upsert", failing_upsert)
    if error is StoreError:
        summary = import_files(store, [newer], options=OPTIONS, rules=rules)
        (result,) = summary.files
        assert result.status == "failed"
        assert result.error == "StoreError: disk full while writing the second series"
    else:
        with pytest.raises(RuntimeError, match="disk full"):
            import_files(store, [newer], options=OPTIONS, rules=rules)
    assert len(calls) == 2  # the first series was written before the failure
    _assert_same(before, _snapshot(store))

    # the store is still usable and the file imports cleanly afterwards
    monkeypatch.setattr(write_module, "_upsert", original)
    summary = import_files(store, [newer], options=OPTIONS, rules=rules)
    assert summary.files[0].status == "imported"
    assert summary.inserted == 2
    btc = read_series(store, SeriesKey("coinbase", "BTC/USD", SeriesKind.OHLCV, "1d"))
    assert btc["close"].to_list() == [115, 116, 130]


def _write_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(TWO_MARKETS_RULE)
    return path


# --- property: chunked writes -------------------------------------------------------
@st.composite
def _chunked_frames(draw: st.DrawFn) -> tuple[pl.DataFrame, list[tuple[int, int]]]:
    n = draw(st.integers(min_value=1, max_value=30))
    closes = draw(
        st.lists(
            st.floats(min_value=1, max_value=1e6, allow_nan=False),
            min_size=n,
            max_size=n,
        )
    )
    trades = draw(st.lists(st.none() | st.integers(0, 10**6), min_size=n, max_size=n))
    frame = pl.DataFrame(
        {
            "ts": [T0 + timedelta(hours=i) for i in range(n)],
            "open": closes,
            "high": [c * 1.01 for c in closes],
            "low": [c * 0.99 for c in closes],
            "close": closes,
            "volume": [float(i) for i in range(n)],
            "quote_volume": None,
            "trades": trades,
            "taker_buy_base": None,
            "taker_buy_quote": None,
        },
        schema=dict(CANDLES.columns),
    )
    spans = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(1, n)),
            min_size=1,
            max_size=6,
        )
    )
    return frame, [(start, min(n, start + length)) for start, length in spans]


@settings(max_examples=40, deadline=None)
@given(_chunked_frames())
def test_chunked_writes_store_the_union_and_rewrites_insert_nothing(
    case: tuple[pl.DataFrame, list[tuple[int, int]]],
) -> None:
    frame, spans = case
    covered = sorted({i for start, stop in spans for i in range(start, stop)})
    with Store(":memory:") as store:
        inserted = 0
        for start, stop in spans:
            chunk = SeriesFrame(KEY, frame.slice(start, stop - start))
            report = write_series(store, [chunk])
            assert report.conflicting == 0
            inserted += report.inserted
        assert inserted == len(covered)  # every row inserted exactly once
        expected = frame.with_row_index("i").filter(pl.col("i").is_in(covered))
        assert read_series(store, KEY).equals(expected.drop("i"))
        for start, stop in spans:
            chunk = SeriesFrame(KEY, frame.slice(start, stop - start))
            again = write_series(store, [chunk])
            assert (again.inserted, again.filled, again.conflicting) == (0, 0, 0)
        assert read_series(store, KEY).equals(expected.drop("i"))
