"""Known-answer tests of the rally anatomy, one per signal group.

Every expected value is computed here from the formula in the docstrings of
``rallylens.rallies._anatomy`` / ``_signals.UNITS`` on tiny hand-built daily
frames (day ``i`` is ``T0 + i days``; a rally is given by its low day, as-of
day and decline high).
"""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rallylens.features import to_daily
from rallylens.rallies import FIB_LEVELS, AnatomySpec, Signal, compute_anatomies
from rallylens.schemas import (
    ASSET,
    CLOSE,
    COINBASE_PREMIUM_RATE,
    DVOL,
    ETF_NET_FLOW_USD,
    FUNDING_APR,
    HIGH,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    LOG_RETURN,
    LOW,
    OI_BASE_EST,
    PANEL_OI_USD,
    PERP_DELTA_USD,
    PERP_VOLUME,
    PREMIUM_RATE,
    RALLIES,
    RALLY_ID,
    SPOT_DELTA_USD,
    SPOT_VOLUME,
    TS,
    VOLUME,
)
from tests.rallies._scenarios import (
    T0,
    bear_market_rally,
    daily_frame,
    rally_frame,
    spot_led,
)

SMALL = AnatomySpec(baseline_days=6, prior_days=4, start_days=2, rv_days=4)
"""Windows short enough for frames of a dozen days."""

LEVERAGE = (
    Signal.OI_CHANGE,
    Signal.OI_USD_CHANGE,
    Signal.SHORT_COVERING,
    Signal.NEW_LONGS_BARS,
    Signal.SHORT_COVERING_BARS,
    Signal.NEW_SHORTS_BARS,
    Signal.LONG_LIQUIDATION_BARS,
)


def anatomy_of(
    daily: pl.DataFrame, rally: dict[str, Any], spec: AnatomySpec = SMALL
) -> dict[str, Any]:
    """The one anatomy row of ``rally`` (daily bars double as the bar frame)."""
    out = compute_anatomies(daily, daily, rally_frame([rally]), spec)
    assert out.height == 1
    return out.row(0, named=True)


def log_returns(closes: list[float]) -> list[float]:
    return [math.log(b / a) for a, b in itertools.pairwise(closes)]


# --- price -------------------------------------------------------------------


def test_price_signals() -> None:
    # decline 120 (day 0) -> 100 (day 2); rally to 115, as of day 6 at 110.
    # Day 7 is after the as-of day and must not be read.
    closes = [120.0, 110.0, 100.0, 104.0, 115.0, 108.0, 110.0, 500.0]
    daily = daily_frame({CLOSE: closes})
    rally = {
        "low": 2,
        "as_of": 6,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 120.0,
    }
    row = anatomy_of(daily, rally)

    window = closes[2:7]
    returns = log_returns(window)  # bars after the low day
    assert row[Signal.GAIN] == pytest.approx(110 / 100 - 1)
    assert row[Signal.MAX_GAIN] == pytest.approx(115 / 100 - 1)
    assert row[Signal.OFF_PEAK] == pytest.approx(110 / 115 - 1)
    assert row[Signal.DURATION_DAYS] == 4
    assert row[Signal.SPEED] == pytest.approx(math.log(1.10) / 4)
    assert row[Signal.REALIZED_VOL] == pytest.approx(
        statistics.stdev(returns) * math.sqrt(365)
    )
    assert row[Signal.RETRACED] == pytest.approx((110 - 100) / (120 - 100))
    assert row[Signal.MAX_RETRACED] == pytest.approx((115 - 100) / (120 - 100))
    assert row[Signal.FIB_LEVEL] == 0.618
    assert row[Signal.INVALIDATION] == 100.0


def test_realized_vol_annualises_by_bar_length() -> None:
    # 12-hour bars over 4 days (daily closes 98, 102, 105, 108): sqrt(730)
    # bars a year; bars of the low day itself carry no rally return.
    closes = [100.0, 98.0, 99.0, 102.0, 101.0, 105.0, 104.0, 108.0]
    bars = daily_frame({CLOSE: closes}).with_columns(
        pl.Series(TS, [T0 + i * timedelta(hours=12) for i in range(8)])
    )
    daily = to_daily(bars)
    rally = {
        "low": 0,
        "as_of": 3,
        "high_day": 0,
        "low_price": 98.0,
        "decline_high": 120.0,
    }
    out = compute_anatomies(bars, daily, rally_frame([rally]), SMALL)
    row = out.row(0, named=True)
    after_low = log_returns(closes)[1:]  # the returns of bars 2-7 (from day 1)
    assert row[Signal.REALIZED_VOL] == pytest.approx(
        statistics.stdev(after_low) * math.sqrt(730)
    )
    assert row[Signal.GAIN] == pytest.approx(108 / 98 - 1)


@pytest.mark.parametrize(
    ("retraced", "level"),
    [
        (0.30, 0.0),
        (0.40, 0.382),
        (0.55, 0.5),
        (0.70, 0.618),
        (0.80, 0.786),
        (1.20, 0.786),
    ],
)
def test_fib_level_is_highest_level_reached_by_the_peak(
    retraced: float, level: float
) -> None:
    # decline 200 -> 100; the peak close retraces ``retraced`` of it, then
    # price eases to 101 (the level is set by the peak, not the close).
    peak = 100 + retraced * 100
    daily = daily_frame({CLOSE: [200.0, 150.0, 100.0, peak, 101.0]})
    rally = {
        "low": 2,
        "as_of": 4,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 200.0,
    }
    row = anatomy_of(daily, rally)
    assert row[Signal.MAX_RETRACED] == pytest.approx(retraced)
    assert row[Signal.RETRACED] == pytest.approx(0.01)
    assert row[Signal.FIB_LEVEL] == level
    assert level == 0.0 or level in FIB_LEVELS


# --- leverage ----------------------------------------------------------------


def test_open_interest_signals() -> None:
    # day:      0     1(low)  2     3     4     5     6(as of)
    closes = [105.0, 100.0, 102.0, 101.0, 104.0, 106.0, 105.0]
    oi = [1000.0, 1000.0, 990.0, 1000.0, 980.0, 985.0, 960.0]
    oi_usd = [9e4, 1e5, 1.1e5, 1.05e5, 1.15e5, 1.2e5, None]
    daily = daily_frame({CLOSE: closes, OI_BASE_EST: oi, PANEL_OI_USD: oi_usd})
    rally = {
        "low": 1,
        "as_of": 6,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 105.0,
    }
    row = anatomy_of(daily, rally)

    # Bars after the low: (log return, change of OI) per bar.
    bars = list(zip(log_returns(closes)[1:], np.diff(oi)[1:], strict=True))
    ups = [r for r, _ in bars if r > 0]
    covering = [r for r, d in bars if r > 0 and d < 0]
    assert row[Signal.OI_CHANGE] == pytest.approx(960 / 1000 - 1)
    # last non-null (day 5) over first non-null (the low day)
    assert row[Signal.OI_USD_CHANGE] == pytest.approx(1.2e5 / 1e5 - 1)
    assert row[Signal.SHORT_COVERING] == pytest.approx(sum(covering) / sum(ups))
    # up & OI up: day 5; up & OI down: days 2, 4; down & OI up: day 3;
    # down & OI down: day 6.
    assert row[Signal.NEW_LONGS_BARS] == pytest.approx(1 / 5)
    assert row[Signal.SHORT_COVERING_BARS] == pytest.approx(2 / 5)
    assert row[Signal.NEW_SHORTS_BARS] == pytest.approx(1 / 5)
    assert row[Signal.LONG_LIQUIDATION_BARS] == pytest.approx(1 / 5)


def test_all_null_open_interest_gives_null_leverage_signals() -> None:
    closes = [105.0, 100.0, 102.0, 101.0, 104.0]
    daily = daily_frame({CLOSE: closes, OI_BASE_EST: [None] * 5})
    rally = {
        "low": 1,
        "as_of": 4,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 105.0,
    }
    row = anatomy_of(daily, rally)
    assert {s: row[s] for s in LEVERAGE} == dict.fromkeys(LEVERAGE)
    assert row[Signal.GAIN] == pytest.approx(0.04)


# --- liquidations ------------------------------------------------------------


def test_liquidation_signals() -> None:
    # 8 days before the low (only the last 6 form the baseline), low on day 8,
    # as of day 11; day 12 is after the as-of day.
    base_short = [1000.0, 1000.0, 10.0, 20.0, 30.0, 20.0, 10.0, 30.0]
    short = [*base_short, 50.0, 200.0, 40.0, 30.0, 999.0]
    long_ = [5.0] * 8 + [30.0, 10.0, None, 20.0, 999.0]
    closes = [110.0] * 8 + [100.0, 105.0, 104.0, 108.0, 90.0]
    daily = daily_frame({CLOSE: closes, LIQ_SHORT_USD: short, LIQ_LONG_USD: long_})
    rally = {
        "low": 8,
        "as_of": 11,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)

    baseline = base_short[-SMALL.baseline_days :]
    assert row[Signal.LIQ_SHORT_USD] == 50 + 200 + 40 + 30
    assert row[Signal.LIQ_LONG_USD] == 30 + 10 + 20
    assert row[Signal.LIQ_SHORT_SHARE] == pytest.approx(320 / (320 + 60))
    assert row[Signal.LIQ_START_SHORT_USD] == 50 + 200  # start_days = 2
    assert row[Signal.LIQ_MAX_DAY_USD] == 200 + 10
    assert row[Signal.LIQ_SHORT_Z] == pytest.approx(
        (200 - statistics.mean(baseline)) / statistics.stdev(baseline)
    )


def test_all_null_liquidations_give_null_signals() -> None:
    daily = daily_frame({CLOSE: [110.0, 100.0, 104.0], LIQ_SHORT_USD: [None] * 3})
    rally = {
        "low": 1,
        "as_of": 2,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)
    liquidations = (
        Signal.LIQ_LONG_USD,
        Signal.LIQ_SHORT_USD,
        Signal.LIQ_SHORT_SHARE,
        Signal.LIQ_START_SHORT_USD,
        Signal.LIQ_MAX_DAY_USD,
        Signal.LIQ_SHORT_Z,
    )
    assert {s: row[s] for s in liquidations} == dict.fromkeys(liquidations)


# --- funding -----------------------------------------------------------------


def test_funding_signals() -> None:
    baseline = [0.05, 0.07, 0.06, 0.08, 0.04, 0.06]
    rally_apr = [0.08, 0.12, 0.30, 0.20, None]
    closes = [110.0] * 6 + [100.0, 102.0, 105.0, 107.0, 109.0]
    daily = daily_frame({CLOSE: closes, FUNDING_APR: [*baseline, *rally_apr]})
    rally = {
        "low": 6,
        "as_of": 10,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)

    known = [f for f in rally_apr if f is not None]
    mu, sd = statistics.mean(baseline), statistics.stdev(baseline)
    z = [(f - mu) / sd for f in known]
    assert row[Signal.FUNDING_MEAN] == pytest.approx(statistics.mean(known))
    assert row[Signal.FUNDING_LAST] == pytest.approx(0.20)  # last non-null
    # first half of 5 days: the first 3
    assert row[Signal.FUNDING_FIRST_HALF] == pytest.approx((0.08 + 0.12 + 0.30) / 3)
    assert row[Signal.FUNDING_Z] == pytest.approx((0.20 - mu) / sd)
    assert row[Signal.FUNDING_SPIKE_DAYS] == sum(v > SMALL.spike_z for v in z) == 3


def test_zscores_against_a_flat_baseline_are_null() -> None:
    # Funding pinned at one rate and no liquidations before the low: the
    # baselines have no spread, so no z-score (not +-inf or NaN spike days).
    closes = [110.0] * 6 + [100.0, 104.0, 108.0, 110.0]
    daily = daily_frame(
        {
            CLOSE: closes,
            FUNDING_APR: [0.1095] * 6 + [0.1095, 0.1095, 0.30, 0.1095],
            LIQ_SHORT_USD: [0.0] * 6 + [0.0, 5e6, 0.0, 0.0],
        }
    )
    rally = {
        "low": 6,
        "as_of": 9,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)
    assert row[Signal.FUNDING_Z] is None
    assert row[Signal.FUNDING_SPIKE_DAYS] is None
    assert row[Signal.LIQ_SHORT_Z] is None
    assert row[Signal.FUNDING_MEAN] == pytest.approx((0.1095 * 3 + 0.30) / 4)
    assert row[Signal.LIQ_SHORT_USD] == 5e6


# --- spot vs perp ------------------------------------------------------------


def test_spot_share_cvd_and_premium() -> None:
    # 5 days before the low (prior_days = 4: days 1-4 count), low on day 5,
    # as of day 8.
    closes = [120.0, 118.0, 116.0, 114.0, 112.0, 100.0, 104.0, 103.0, 108.0]
    spot = [900.0, 10.0, 20.0, 30.0, 40.0, 40.0, 50.0, None, 70.0]
    perp = [100.0, 90.0, 80.0, 70.0, 60.0, 60.0, 50.0, 40.0, 30.0]
    spot_delta = [0.0] * 5 + [500.0, -200.0, 300.0, 400.0]
    perp_delta = [0.0] * 5 + [1000.0, 800.0, -200.0, 600.0]
    premium = [0.05, 0.001, 0.002, 0.003, 0.002, 0.004, None, 0.006, 0.005]
    daily = daily_frame(
        {
            CLOSE: closes,
            SPOT_VOLUME: spot,
            PERP_VOLUME: perp,
            SPOT_DELTA_USD: spot_delta,
            PERP_DELTA_USD: perp_delta,
            PREMIUM_RATE: premium,
        }
    )
    rally = {
        "low": 5,
        "as_of": 8,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 120.0,
    }
    row = anatomy_of(daily, rally)

    prior_share = sum(spot[1:5]) / (sum(spot[1:5]) + sum(perp[1:5]))
    both = [5, 6, 8]  # window days with spot and perp volume
    share = sum(spot[i] for i in both) / sum(spot[i] + perp[i] for i in both)
    spot_usd = sum(spot[i] * closes[i] for i in both)  # type: ignore[operator]
    spot_ratio = sum(spot_delta[i] for i in both) / spot_usd
    perp_ratio = sum(perp_delta[5:]) / sum(
        p * c for p, c in zip(perp[5:], closes[5:], strict=True)
    )
    assert row[Signal.SPOT_SHARE] == pytest.approx(share)
    assert row[Signal.SPOT_SHARE_CHANGE] == pytest.approx(share - prior_share)
    assert row[Signal.SPOT_CVD_USD] == 500 - 200 + 300 + 400
    assert row[Signal.PERP_CVD_USD] == 1000 + 800 - 200 + 600
    assert row[Signal.SPOT_CVD_RATIO] == pytest.approx(spot_ratio)
    assert row[Signal.PERP_CVD_RATIO] == pytest.approx(perp_ratio)
    assert row[Signal.CVD_GAP] == pytest.approx(perp_ratio - spot_ratio)
    assert row[Signal.PREMIUM] == 0.005
    assert row[Signal.PREMIUM_CHANGE] == pytest.approx(
        0.005 - statistics.mean(premium[1:5])  # type: ignore[arg-type]
    )


# --- conviction and volatility -----------------------------------------------


def test_volume_at_highs_and_volume_trend() -> None:
    closes = [100.0, 104.0, 110.0, 121.0, 118.0, 125.0, 122.0]
    volume = [50.0, 40.0, 30.0, 20.0, 25.0, 10.0, 15.0]
    daily = daily_frame({CLOSE: closes, VOLUME: volume})
    rally = {
        "low": 0,
        "as_of": 6,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 150.0,
    }
    row = anatomy_of(daily, rally)

    top = 100 + 0.8 * (125 - 100)  # closes >= 120: days 3, 5, 6
    at_highs = [v for c, v in zip(closes, volume, strict=True) if c >= top]
    assert at_highs == [20.0, 10.0, 15.0]
    assert row[Signal.VOLUME_AT_HIGHS] == pytest.approx(
        statistics.mean(at_highs) / statistics.mean(volume)
    )
    # 7 days: first half is the first 4
    assert row[Signal.VOLUME_TREND] == pytest.approx(
        statistics.mean(volume[4:]) / statistics.mean(volume[:4]) - 1
    )


def test_implied_and_realised_volatility_change() -> None:
    closes = [100.0, 102.0, 99.0, 103.0, 98.0, 95.0, 97.0, 96.0, 100.0, 101.0]
    dvol = [0.5] * 5 + [0.60, None, 0.55, 0.52, 0.50]
    daily = daily_frame({CLOSE: closes, DVOL: dvol})
    rally = {
        "low": 5,
        "as_of": 9,
        "high_day": 0,
        "low_price": 95.0,
        "decline_high": 103.0,
    }
    row = anatomy_of(daily, rally)

    returns = log_returns(closes)  # returns[i - 1] is day i's return
    rv_low = statistics.stdev(returns[1:5])  # days 2-5 (rv_days = 4)
    rv_now = statistics.stdev(returns[5:9])  # days 6-9
    assert row[Signal.IV_CHANGE] == pytest.approx(0.50 / 0.60 - 1)
    assert row[Signal.IV_LAST] == 0.50
    assert row[Signal.RV_CHANGE] == pytest.approx(rv_now / rv_low - 1)


def test_etf_flows_and_coinbase_premium() -> None:
    daily = daily_frame(
        {
            CLOSE: [110.0, 100.0, 103.0, 105.0, 107.0, 90.0],
            ETF_NET_FLOW_USD: [9e9, 100e6, None, -30e6, 50e6, 9e9],
            COINBASE_PREMIUM_RATE: [1.0, 0.001, 0.002, None, 0.003, 1.0],
        }
    )
    rally = {
        "low": 1,
        "as_of": 4,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)
    assert row[Signal.ETF_FLOW_USD] == pytest.approx(120e6)
    assert row[Signal.COINBASE_PREMIUM] == pytest.approx(0.002)


def test_missing_inputs_give_null_signals() -> None:
    """Prices only: everything beyond price, levels and volume is null."""
    daily = daily_frame({CLOSE: [110.0, 100.0, 103.0, 105.0, 107.0]})
    rally = {
        "low": 1,
        "as_of": 4,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)
    price_only = {
        Signal.GAIN,
        Signal.MAX_GAIN,
        Signal.OFF_PEAK,
        Signal.DURATION_DAYS,
        Signal.SPEED,
        Signal.REALIZED_VOL,
        Signal.RETRACED,
        Signal.MAX_RETRACED,
        Signal.FIB_LEVEL,
        Signal.RV_CHANGE,
        Signal.INVALIDATION,
        Signal.RESISTANCE_TESTED,
        Signal.REGIME_LEVEL,
        Signal.AT_RESISTANCE,
    }
    assert {s for s in Signal if row[s] is not None} == price_only
    assert row[Signal.ETF_FLOW_USD] is None  # a sum of nothing is unknown, not 0


# --- levels ------------------------------------------------------------------

# day:   0      1      2(A)   3      4(H)   5      6(B)   7      8      9(low)
LEVEL_CLOSES = [150.0, 140.0, 130.0, 135.0, 160.0, 150.0, 120.0, 125.0, 110.0, 100.0]
"""Swing lows (k = 1) at 130 (day 2) and 120 (day 6), both broken in the
decline from 160 (day 4) to 100 (day 9)."""


@pytest.mark.parametrize(
    ("rally_closes", "lookback", "resistance", "tested"),
    [
        # closes at 115, nearest old support above is 120; peak 118.5 is within
        # 1.5% of it (118.2 .. 121.8)
        ([108.0, 118.5, 115.0], 3, 120.0, 1.0),
        # peak 117 stays under 118.2: not tested
        ([108.0, 117.0, 115.0], 3, 120.0, 0.0),
        # closes at 125 above 120: 130 is the resistance; 125 tested nothing
        ([108.0, 118.0, 125.0], 3, 130.0, 0.0),
        # day 2's low formed more than 1 day before the decline's high: ignored
        ([108.0, 118.0, 125.0], 1, None, 0.0),
        # closes above every level: none above, yet the peak tested 130
        ([108.0, 129.0, 131.5], 3, None, 1.0),
        ([108.0, 128.5, 127.0], 3, 130.0, 1.0),
    ],
)
def test_support_turned_resistance(
    rally_closes: list[float],
    lookback: int,
    resistance: float | None,
    tested: float,
) -> None:
    spec = AnatomySpec(fractal_days=1, level_lookback_days=lookback)
    closes = LEVEL_CLOSES + rally_closes
    daily = daily_frame({CLOSE: closes})
    rally = {
        "low": 9,
        "as_of": len(closes) - 1,
        "high_day": 4,
        "low_price": 100.0,
        "decline_high": 160.0,
    }
    row = anatomy_of(daily, rally, spec)
    assert row[Signal.RESISTANCE] == resistance
    if resistance is None:
        assert row[Signal.RESISTANCE_DISTANCE] is None
    else:
        assert row[Signal.RESISTANCE_DISTANCE] == pytest.approx(
            resistance / closes[-1] - 1
        )
    assert row[Signal.RESISTANCE_TESTED] == tested
    if tested:
        assert row[Signal.AT_RESISTANCE] == 1.0


def test_anchored_vwaps() -> None:
    # decline high day 1, low day 3, as of day 5; days 0 and 6 are outside.
    highs = [200.0, 160.0, 130.0, 104.0, 112.0, 118.0, 300.0]
    lows = [180.0, 140.0, 110.0, 98.0, 103.0, 110.0, 250.0]
    closes = [190.0, 150.0, 115.0, 100.0, 110.0, 116.0, 280.0]
    volume = [1e6, 10.0, 20.0, 40.0, None, 30.0, 1e6]
    daily = daily_frame({HIGH: highs, LOW: lows, CLOSE: closes, VOLUME: volume})
    rally = {
        "low": 3,
        "as_of": 5,
        "high_day": 1,
        "low_price": 100.0,
        "decline_high": 150.0,
    }
    row = anatomy_of(daily, rally)

    typical = [(h + lo + c) / 3 for h, lo, c in zip(highs, lows, closes, strict=True)]
    vol = [v or 0.0 for v in volume]

    def vwap(first: int, last: int) -> float:
        days = range(first, last + 1)
        return sum(typical[i] * vol[i] for i in days) / sum(vol[i] for i in days)

    assert row[Signal.VWAP_DECLINE] == pytest.approx(vwap(1, 5))
    assert row[Signal.VWAP_RALLY] == pytest.approx(vwap(3, 5))
    assert row[Signal.VS_VWAP_DECLINE] == pytest.approx(116 / vwap(1, 5) - 1)
    assert row[Signal.VS_VWAP_RALLY] == pytest.approx(116 / vwap(3, 5) - 1)


@pytest.mark.parametrize(
    ("close", "in_node"),
    [
        # bins hold 10 / 90 / 0 / 50 of 150; a node holds >= 1.25 * 150 / 4
        (140.0, 1.0),  # bin [125, 150): 90
        (126.0, 1.0),
        (110.0, 0.0),  # bin [100, 125): 10
        (160.0, 0.0),  # bin [150, 175): nothing traded there in the decline
        (190.0, 1.0),  # bin [175, 200] (the decline's high included): 50
    ],
)
def test_high_volume_node(close: float, in_node: float) -> None:
    # Decline 200 (day 1) -> 100 (day 5) in 4 bins of 25, typical price =
    # close. Day 0 precedes the decline: counting its volume would make the
    # top bin the only node.
    closes = [190.0, 200.0, 180.0, 140.0, 130.0, 100.0, close]
    volume = [1e6, 40.0, 10.0, 50.0, 40.0, 10.0, 5.0]
    spec = AnatomySpec(profile_bins=4, hvn_factor=1.25)
    daily = daily_frame({CLOSE: closes, VOLUME: volume})
    rally = {
        "low": 5,
        "as_of": 6,
        "high_day": 1,
        "low_price": 100.0,
        "decline_high": 200.0,
    }
    assert anatomy_of(daily, rally, spec)[Signal.IN_HVN] == in_node


# --- context -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("regime", "level"),
    [("bear", -1.0), ("neutral", 0.0), ("bull", 1.0), (None, None)],
)
def test_regime_level(regime: str | None, level: float | None) -> None:
    daily = daily_frame({CLOSE: [110.0, 100.0, 104.0]})
    rally = {
        "low": 1,
        "as_of": 2,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
        "regime": regime,
    }
    assert anatomy_of(daily, rally)[Signal.REGIME_LEVEL] == level


@pytest.mark.parametrize(
    ("peak", "close", "expected"),
    [
        (150.0, 150.0, 1.0),  # retraced 0.5: inside the 38.2-78.6% zone
        (135.0, 101.0, 0.0),  # retraced 0.35 at the peak, far under the VWAP
        (250.0, 250.0, 0.0),  # retraced 1.5, far above the VWAP
        (250.0, 134.0, 1.0),  # close 134 within -3% .. +1% of the VWAP (~135)
    ],
)
def test_at_resistance(peak: float, close: float, expected: float) -> None:
    # flat decline day at 135 holds all the volume before the rally
    closes = [200.0, 135.0, 100.0, peak, close]
    volume = [1.0, 1e6, 1.0, 1.0, 1.0]
    daily = daily_frame({CLOSE: closes, VOLUME: volume})
    rally = {
        "low": 2,
        "as_of": 4,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 200.0,
    }
    row = anatomy_of(daily, rally, AnatomySpec(fractal_days=1))
    assert row[Signal.RESISTANCE_TESTED] == 0.0
    assert row[Signal.AT_RESISTANCE] == expected


# --- frames ------------------------------------------------------------------


def test_two_rallies_of_one_asset_use_their_own_windows() -> None:
    closes = [120.0, 100.0, 110.0, 115.0, 111.0, 105.0, 90.0, 99.0, 108.0]
    daily = daily_frame({CLOSE: closes})
    rallies = rally_frame(
        [
            {
                "low": 1,
                "as_of": 3,
                "high_day": 0,
                "low_price": 100.0,
                "decline_high": 120.0,
            },
            {
                "low": 6,
                "as_of": 8,
                "high_day": 3,
                "low_price": 90.0,
                "decline_high": 115.0,
            },
        ]
    )
    out = compute_anatomies(daily, daily, rallies, SMALL).sort(RALLY_ID)
    assert out[Signal.GAIN].to_list() == pytest.approx([0.15, 108 / 90 - 1])
    assert out[Signal.RETRACED].to_list() == pytest.approx([0.75, 18 / 25])
    assert out[Signal.DURATION_DAYS].to_list() == [2.0, 2.0]


SPOT = spot_led()


def scenario_rally(bars: pl.DataFrame, low: int, *, asset: str) -> dict[str, Any]:
    closes = bars[CLOSE].to_list()
    high_day = low - 20 + int(np.argmax(closes[low - 20 : low]))
    return {
        "asset": asset,
        "rally_id": 1,
        "low": low,
        "as_of": bars.height - 1,
        "high_day": high_day,
        "low_price": closes[low],
        "decline_high": closes[high_day],
    }


def test_two_assets_at_once_match_each_alone() -> None:
    spot, bear = spot_led(), bear_market_rally()
    parts = {
        "AAA": (spot.bars.with_columns(pl.lit("AAA").alias(ASSET)), spot.low_index),
        "BBB": (bear.bars.with_columns(pl.lit("BBB").alias(ASSET)), bear.low_index),
    }
    alone = []
    for asset, (bars, low) in parts.items():
        rallies = rally_frame([scenario_rally(bars, low, asset=asset)])
        alone.append(compute_anatomies(bars, bars, rallies))
    both = pl.concat([bars for bars, _ in parts.values()])
    rallies = rally_frame(
        [scenario_rally(bars, low, asset=a) for a, (bars, low) in parts.items()]
    )
    together = compute_anatomies(both, both, rallies).sort(ASSET)
    assert_frame_equal(together, pl.concat(alone).sort(ASSET))
    assert together[Signal.REGIME_LEVEL.value].to_list() == [0.0, 0.0]
    assert together[Signal.GAIN.value].n_unique() == 2


def test_rally_of_a_single_day() -> None:
    """Low day = as-of day: no change yet, and nothing per bar to measure."""
    daily = daily_frame(
        {CLOSE: [110.0, 100.0, 120.0], VOLUME: [1.0, 2.0, 3.0], OI_BASE_EST: [5.0] * 3}
    )
    rally = {
        "low": 1,
        "as_of": 1,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)
    for signal in (Signal.GAIN, Signal.DURATION_DAYS, Signal.SPEED, Signal.OI_CHANGE):
        assert row[signal] == 0.0
    for signal in (Signal.REALIZED_VOL, Signal.SHORT_COVERING, Signal.VOLUME_TREND):
        assert row[signal] is None


def test_missing_day_inside_the_rally() -> None:
    """A gap: duration counts calendar days, returns span the gap."""
    closes = [110.0, 100.0, 104.0, 999.0, 103.0, 108.0]
    daily = (
        daily_frame({CLOSE: closes})
        .filter(pl.col(CLOSE) != 999.0)
        .with_columns((pl.col(CLOSE) / pl.col(CLOSE).shift(1)).log().alias(LOG_RETURN))
    )
    rally = {
        "low": 1,
        "as_of": 5,
        "high_day": 0,
        "low_price": 100.0,
        "decline_high": 110.0,
    }
    row = anatomy_of(daily, rally)
    assert row[Signal.DURATION_DAYS] == 4
    assert row[Signal.SPEED] == pytest.approx(math.log(1.08) / 4)
    assert row[Signal.REALIZED_VOL] == pytest.approx(
        statistics.stdev(log_returns([100.0, 104.0, 103.0, 108.0])) * math.sqrt(365)
    )


def test_empty_rallies_frame() -> None:
    daily = daily_frame({CLOSE: [110.0, 100.0, 104.0]})
    out = compute_anatomies(daily, daily, pl.DataFrame(schema=RALLIES.columns))
    assert out.is_empty()
    assert out.columns == [ASSET, RALLY_ID, *(s.value for s in Signal)]
    assert all(out.schema[s.value] == pl.Float64 for s in Signal)


@settings(max_examples=25, deadline=None)
@given(
    future=st.lists(st.floats(min_value=1.0, max_value=1000.0), min_size=1, max_size=8)
)
def test_days_after_as_of_are_never_read(future: list[float]) -> None:
    """Point in time: appending any days after ``as_of`` changes nothing."""
    bars, low = SPOT.bars, SPOT.low_index
    head = bars.head(low + 15)
    rally = scenario_rally(head, low, asset="BTC")
    before = compute_anatomies(head, head, rally_frame([rally]))
    tail = bars.slice(low + 15, len(future)).with_columns(
        pl.Series(CLOSE, future), pl.Series(HIGH, future), pl.Series(LOW, future)
    )
    longer = pl.concat([head, tail]).with_columns(
        (pl.col(CLOSE) / pl.col(CLOSE).shift(1)).log().alias(LOG_RETURN)
    )
    after = compute_anatomies(longer, longer, rally_frame([rally]))
    assert_frame_equal(before, after)
