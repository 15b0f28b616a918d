"""Feature bars from the panel, and their daily aggregation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallylens.features import prepare_bars, to_daily
from rallylens.schemas import BARS, PANEL

T0 = datetime(2024, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def frame(
    schema: dict[str, pl.DataType], rows: list[dict[str, object]]
) -> pl.DataFrame:
    """Rows given as dicts of the non-null values; every other column null."""
    return pl.DataFrame(
        [{c: row.get(c) for c in schema} for row in rows], schema=schema, orient="row"
    )


def panel(rows: list[dict[str, object]]) -> pl.DataFrame:
    return frame(dict(PANEL.columns), rows)


def bars(rows: list[dict[str, object]]) -> pl.DataFrame:
    return frame(dict(BARS.columns), [{"asset": "BTC", **r} for r in rows])


# --- prepare_bars ------------------------------------------------------------------
PANEL_ROWS: list[dict[str, object]] = [
    {  # spot and perp both present: spot wins
        "ts": T0,
        "spot_open": 100.0,
        "spot_high": 110.0,
        "spot_low": 90.0,
        "spot_close": 105.0,
        "perp_open": 101.0,
        "perp_high": 111.0,
        "perp_low": 91.0,
        "perp_close": 106.0,
        "spot_volume": 2.0,
        "perp_volume": 6.0,
        # taker buy/sell in USD wins over 2 * buy_quote - quote (1000 * 2 - 1500)
        "spot_taker_buy_usd": 300.0,
        "spot_taker_sell_usd": 100.0,
        "spot_taker_buy_quote": 1000.0,
        "spot_quote_volume": 1500.0,
        # perp has the quote columns only
        "perp_taker_buy_quote": 350.0,
        "perp_quote_volume": 600.0,
        "oi_usd": 2100.0,
        "funding_apr": 0.12,
        "liq_long_usd": 5e5,
        "liq_short_usd": 1e5,
        "dvol": 0.55,
        "basis_usd": 40.0,
        "etf_net_flow_usd": -2e7,
        "coinbase_premium_rate": 0.0004,
    },
    {  # perp only: perp prices, volume = perp volume; OI in base units
        "ts": T0 + D,
        "perp_open": 200.0,
        "perp_high": 220.0,
        "perp_low": 180.0,
        "perp_close": 210.0,
        "perp_volume": 4.0,
        "mark_close": 211.0,
        "oi_base": 7.0,
        "oi_usd": 1000.0,
        "perp_taker_buy_usd": 50.0,
        "perp_taker_buy_quote": 300.0,
        "perp_quote_volume": 500.0,
    },
    {"ts": T0 + 2 * D, "funding_apr": 0.2},  # no price at all: dropped
    {  # spot close only: OHLC all 220; no volumes; premium from the mark
        "ts": T0 + 3 * D,
        "spot_close": 220.0,
        "mark_close": 222.0,
        "oi_usd": 4400.0,
    },
]


@pytest.fixture
def prepared() -> pl.DataFrame:
    return prepare_bars(panel(PANEL_ROWS), "ETH")


def test_prepare_bars_schema_and_dropped_rows(prepared: pl.DataFrame) -> None:
    assert prepared.schema == pl.Schema(BARS.columns)
    assert prepared["ts"].to_list() == [T0, T0 + D, T0 + 3 * D]
    assert prepared["asset"].to_list() == ["ETH"] * 3


def test_prices_prefer_spot_then_perp_then_the_close(prepared: pl.DataFrame) -> None:
    ohlc = prepared.select("open", "high", "low", "close").rows()
    assert ohlc == [
        (100.0, 110.0, 90.0, 105.0),  # spot over perp
        (200.0, 220.0, 180.0, 210.0),  # perp where spot is null
        (220.0, 220.0, 220.0, 220.0),  # a close alone fills open/high/low
    ]


def test_volume_and_spot_share(prepared: pl.DataFrame) -> None:
    assert prepared["volume"].to_list() == [8.0, 4.0, None]  # null when both null
    assert prepared["spot_volume"].to_list() == [2.0, None, None]
    assert prepared["perp_volume"].to_list() == [6.0, 4.0, None]
    assert prepared["spot_share"].to_list() == [0.25, None, None]  # 2 / (2 + 6)


def test_taker_deltas(prepared: pl.DataFrame) -> None:
    # spot: 300 - 100 (USD series); perp: 2 * 350 - 600 (quote columns)
    assert prepared["spot_delta_usd"].to_list() == [200.0, None, None]
    # perp day 2: the sell side is missing, so 2 * 300 - 500
    assert prepared["perp_delta_usd"].to_list() == [100.0, 100.0, None]


def test_premium_open_interest_and_levels(prepared: pl.DataFrame) -> None:
    premium = prepared["premium_rate"].to_list()
    assert premium[0] == pytest.approx(106 / 105 - 1)  # perp / spot
    assert premium[1] is None  # no spot close
    assert premium[2] == pytest.approx(222 / 220 - 1)  # mark / spot, no perp
    # oi_usd / close, oi_base when given, oi_usd / close
    assert prepared["oi_base_est"].to_list() == pytest.approx([20.0, 7.0, 20.0])
    assert prepared["oi_usd"].to_list() == [2100.0, 1000.0, 4400.0]
    first = prepared.row(0, named=True)
    assert (first["funding_apr"], first["dvol"], first["basis_usd"]) == (
        0.12,
        0.55,
        40.0,
    )
    assert (first["liq_long_usd"], first["liq_short_usd"]) == (5e5, 1e5)
    assert first["etf_net_flow_usd"] == -2e7
    assert first["coinbase_premium_rate"] == 0.0004


def test_log_return_uses_the_previous_priced_bar(prepared: pl.DataFrame) -> None:
    ret = prepared["log_return"].to_list()
    assert ret[0] is None
    assert ret[1] == pytest.approx(math.log(2))  # 210 / 105
    assert ret[2] == pytest.approx(math.log(220 / 210))  # across the dropped row


def test_prepare_bars_empty_and_single_row() -> None:
    empty = prepare_bars(PANEL.empty(), "BTC")
    assert empty.is_empty()
    assert empty.schema == pl.Schema(BARS.columns)
    one = prepare_bars(panel(PANEL_ROWS[:1]), "BTC")
    assert one.height == 1
    assert one["log_return"].to_list() == [None]
    assert one["close"].to_list() == [105.0]


def test_prepare_bars_all_prices_null_gives_empty() -> None:
    out = prepare_bars(panel([{"ts": T0, "oi_usd": 1.0}]), "BTC")
    assert out.is_empty()
    assert out.schema == pl.Schema(BARS.columns)


# --- to_daily ------------------------------------------------------------------------
HOURLY: list[dict[str, object]] = [
    # day 0: 00:00, 01:00 and 23:00
    {
        "ts": T0,
        "open": 10.0,
        "high": 12.0,
        "low": 9.0,
        "close": 11.0,
        "spot_volume": 1.0,
        "perp_volume": 3.0,
        "volume": 4.0,
        "spot_delta_usd": 5.0,
        "perp_delta_usd": -2.0,
        "liq_long_usd": 100.0,
        "funding_apr": 0.1,
        "oi_usd": 1000.0,
        "oi_base_est": 100.0,
        "premium_rate": 0.001,
        "dvol": 0.5,
        "etf_net_flow_usd": 7.0,
    },
    {
        "ts": T0 + H,
        "open": 11.0,
        "high": 15.0,
        "low": 10.0,
        "close": 14.0,
        "spot_volume": 6.0,
        "perp_volume": 2.0,
        "volume": 8.0,
        "perp_delta_usd": 4.0,
        "funding_apr": 0.2,
        "oi_usd": 1100.0,
        "premium_rate": 0.002,
    },
    {
        "ts": T0 + 23 * H,
        "open": 14.0,
        "high": 14.0,
        "low": 8.0,
        "close": 9.0,
        "spot_volume": 2.0,
        "perp_volume": 2.0,
        "volume": 4.0,
        "spot_delta_usd": 1.0,
        "liq_long_usd": 50.0,
        "oi_usd": 1200.0,
        "oi_base_est": 110.0,
        "dvol": 0.6,
    },
    # day 1: 00:00 and 12:00; perp volume missing in the first bar
    {
        "ts": T0 + D,
        "open": 9.0,
        "high": 10.0,
        "low": 7.0,
        "close": 8.0,
        "spot_volume": 1.0,
        "volume": 1.0,
    },
    {
        "ts": T0 + D + 12 * H,
        "open": 8.0,
        "high": 13.0,
        "low": 8.0,
        "close": 12.0,
        "spot_volume": 1.0,
        "perp_volume": 1.0,
        "volume": 2.0,
    },
]


@pytest.fixture
def daily() -> pl.DataFrame:
    return to_daily(bars(HOURLY))


def test_to_daily_ohlc(daily: pl.DataFrame) -> None:
    assert daily.schema == pl.Schema(BARS.columns)
    assert daily["ts"].to_list() == [T0, T0 + D]
    assert daily.select("open", "high", "low", "close").rows() == [
        (10.0, 15.0, 8.0, 9.0),
        (9.0, 13.0, 7.0, 12.0),
    ]


def test_to_daily_sums_flows_and_keeps_all_null_as_null(daily: pl.DataFrame) -> None:
    day0, day1 = daily.to_dicts()
    assert (day0["volume"], day0["spot_volume"], day0["perp_volume"]) == (16, 9, 7)
    assert (day1["volume"], day1["spot_volume"], day1["perp_volume"]) == (3, 2, 1)
    assert (day0["spot_delta_usd"], day0["perp_delta_usd"]) == (6.0, 2.0)
    assert day0["liq_long_usd"] == 150.0
    assert day0["liq_short_usd"] is None  # no value that day: null, not 0
    assert day0["etf_net_flow_usd"] == 7.0
    assert day1["spot_delta_usd"] is None


def test_to_daily_levels_are_the_last_known_value(daily: pl.DataFrame) -> None:
    day0, day1 = daily.to_dicts()
    # funding and premium are null at 23:00: the 01:00 value is the last known
    assert (day0["funding_apr"], day0["premium_rate"]) == (0.2, 0.002)
    assert (day0["oi_usd"], day0["oi_base_est"], day0["dvol"]) == (1200, 110, 0.6)
    assert day1["funding_apr"] is None  # nothing known that day


def test_to_daily_recomputes_spot_share_and_log_return(daily: pl.DataFrame) -> None:
    # 9 / 16, not the mean of the hourly shares (0.25, 0.75, 0.5 -> 0.5)
    assert daily["spot_share"].to_list() == pytest.approx([9 / 16, 2 / 3])
    ret = daily["log_return"].to_list()
    assert ret[0] is None
    assert ret[1] == pytest.approx(math.log(12 / 9))


def test_to_daily_keeps_assets_apart() -> None:
    eth = [{**HOURLY[0], "asset": "ETH", "close": 20.0}]
    both = pl.concat([bars(HOURLY), frame(dict(BARS.columns), eth)])
    out = to_daily(both)
    assert out.select("asset", "ts").rows() == [
        ("BTC", T0),
        ("BTC", T0 + D),
        ("ETH", T0),
    ]
    assert out["log_return"].to_list()[2] is None  # not ln(20 / 12)


def test_daily_bars_pass_through() -> None:
    prepared = prepare_bars(panel(PANEL_ROWS), "BTC")
    assert to_daily(prepared).equals(prepared)


def test_to_daily_empty_and_single_row() -> None:
    empty = bars([])
    assert to_daily(empty).equals(empty)
    assert to_daily(empty).schema == pl.Schema(BARS.columns)
    one = to_daily(bars([{**HOURLY[1], "ts": T0 + 5 * H}]))
    assert one.height == 1
    row = one.row(0, named=True)
    assert row["ts"] == T0  # labelled by the day's open
    assert (row["open"], row["close"], row["volume"]) == (11.0, 14.0, 8.0)
    assert row["spot_share"] == 0.75
    assert row["log_return"] is None


# --- point in time --------------------------------------------------------------------
def random_panel(seed: int, hours: int) -> pl.DataFrame:
    """Hourly panel rows with random values and about 20 % nulls in every column."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {"ts": [T0 + i * H for i in range(hours)]}
    for name, dtype in PANEL.columns.items():
        if name == "ts":
            continue
        values = rng.uniform(50, 150, hours)
        if dtype == pl.Int32:
            values = rng.integers(1, 9, hours)
        data[name] = [
            None if m else v
            for v, m in zip(values, rng.random(hours) < 0.2, strict=True)
        ]
    return pl.DataFrame(data, schema=dict(PANEL.columns))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 120), st.data())
def test_rows_after_t_never_change_bars_up_to_t(
    seed: int, hours: int, data: st.DataObject
) -> None:
    full = random_panel(seed, hours)
    t = data.draw(st.integers(1, hours), label="t")
    head = full.head(t)
    early, late = prepare_bars(head, "BTC"), prepare_bars(full, "BTC")
    assert early.equals(late.head(early.height))
    # days complete before the cut aggregate the same; the cut's own day is
    # partial in the head and may differ
    cut_day = head["ts"][-1].replace(hour=0)
    daily_early = to_daily(early).filter(pl.col("ts") < cut_day)
    daily_late = to_daily(late).filter(pl.col("ts") < cut_day)
    assert daily_early.equals(daily_late)
