"""Price levels of the price figure: known answers."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from rallylens.rallies import FIB_LEVELS
from rallylens.reports.figures._levels import (
    LEVEL,
    PROFILE_HI,
    PROFILE_LO,
    VWAP,
    anchored_vwap,
    fib_levels,
    support_levels,
    volume_profile,
)
from rallylens.schemas import CLOSE, DECLINE_HIGH, HIGH, LOW, LOW_PRICE, TS, VOLUME
from tests.reports.conftest import HIGH_DAY, LOW_DAY, day, make_daily


def test_anchored_vwap_known_answer() -> None:
    daily = make_daily(
        4,
        **{
            HIGH: [11.0, 22.0, 33.0, 44.0],
            LOW: [9.0, 18.0, 27.0, 36.0],
            CLOSE: [10.0, 20.0, 30.0, 40.0],
            VOLUME: [5.0, 1.0, None, 3.0],
        },
    )
    curve = anchored_vwap(daily, day(1))
    assert curve[TS].to_list() == [day(1), day(2), day(3)]
    # typical = close here; day 2 has no volume, so the VWAP holds
    assert curve[VWAP].to_list() == pytest.approx([20.0, 20.0, (20 + 3 * 40) / 4])


def test_anchored_vwap_is_null_before_any_volume() -> None:
    daily = make_daily(3, **{VOLUME: [None, 0.0, 2.0]})
    assert anchored_vwap(daily, day(0))[VWAP].null_count() == 2


def test_fib_levels_retrace_the_decline() -> None:
    levels = fib_levels(60.0, 100.0)
    assert [f for f, _ in levels] == list(FIB_LEVELS)
    assert [p for _, p in levels] == pytest.approx([75.28, 80.0, 84.72, 91.44])


def test_support_levels_are_swing_lows_broken_in_the_decline(
    daily: pl.DataFrame, rally: dict[str, Any]
) -> None:
    found = support_levels(daily, rally)
    assert found.height > 0
    lows = daily.filter(pl.col(TS).is_in(found[TS].to_list()))
    for ts, level in found.select(TS, LEVEL).iter_rows():
        assert rally[LOW_PRICE] < level < rally[DECLINE_HIGH]
        assert day(HIGH_DAY - 180) <= ts <= day(LOW_DAY - 3)
        window = daily.filter(
            pl.col(TS).is_between(
                ts - 3 * (day(1) - day(0)), ts + 3 * (day(1) - day(0))
            )
        )
        assert level == window[CLOSE].min()  # a local minimum of closes
    assert lows.height == found.height
    assert found[LEVEL].is_sorted()


def test_support_levels_merge_levels_within_tolerance() -> None:
    closes = [100.0, 90, 80, 70, 80.5, 90, 80.3, 70, 60, 50, 40, 50, 60]
    daily = make_daily(len(closes), **{CLOSE: closes})
    rally = {
        "low_ts": day(10),
        "low_price": 40.0,
        "decline_high_ts": day(0),
        "decline_high": 100.0,
    }
    found = support_levels(daily, rally)
    # 70 (day 3) and 70 (day 7) merge into one level
    assert found[LEVEL].to_list() == [70.0]


def test_support_levels_without_a_decline_are_empty(daily: pl.DataFrame) -> None:
    assert support_levels(daily, {"low_ts": day(5)}).is_empty()


def test_volume_profile_keeps_every_bin_and_all_volume(daily: pl.DataFrame) -> None:
    profile = volume_profile(
        daily,
        start=day(HIGH_DAY),
        end=day(LOW_DAY),
        price_lo=50.0,
        price_hi=110.0,
        bins=12,
    )
    assert profile.height == 12
    assert profile[PROFILE_LO][0] == 50.0
    assert profile[PROFILE_HI][-1] == pytest.approx(110.0)
    assert profile[VOLUME].sum() == pytest.approx(10.0 * (LOW_DAY - HIGH_DAY + 1))


def test_volume_profile_of_a_flat_range_is_zero(daily: pl.DataFrame) -> None:
    profile = volume_profile(
        daily, start=day(0), end=day(5), price_lo=10.0, price_hi=10.0, bins=4
    )
    assert profile[VOLUME].to_list() == [0.0] * 4
