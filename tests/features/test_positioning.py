"""Chain snapshots onto price bars: newest known at the bar's close, never later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rallylens.exceptions import SchemaError
from rallylens.features import ChainSpec, attach_options, chain_series, option_snapshots
from rallylens.schemas import (
    BARS,
    OPT_ATM_IV,
    OPT_CALL_WALL,
    OPT_GAMMA_FLIP,
    OPT_GEX_USD,
    OPT_RR25,
    OPTION_BAR_COLUMNS,
    TS,
)
from tests.features.test_gamma import _frame, _opt
from tests.rallies.conftest import make_bars

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def snapshots(times: list[datetime], values: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {TS: times, **{c: values for c in OPTION_BAR_COLUMNS}},
        schema={TS: BARS.columns[TS], **dict.fromkeys(OPTION_BAR_COLUMNS, pl.Float64)},
    )


def hourly(n: int) -> pl.DataFrame:
    return make_bars([100.0] * n, start=T0, step=HOUR)


def test_a_bar_sees_the_newest_snapshot_taken_by_its_close() -> None:
    bars = hourly(6)
    snaps = snapshots([T0 + 30 * 60 * timedelta(seconds=1), T0 + 3 * HOUR], [1.0, 2.0])
    out = attach_options(bars, snaps, bar=HOUR)
    # bar 0 closes at 01:00 and sees the 00:30 snapshot; bar 2 closes at 03:00
    # and sees the 03:00 one (taken at its close)
    assert out[OPT_GEX_USD].to_list() == [1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert out.columns == bars.columns


def test_snapshots_older_than_max_age_are_not_carried() -> None:
    bars = hourly(6)
    snaps = snapshots([T0], [7.0])
    out = attach_options(bars, snaps, bar=HOUR, max_age=2 * HOUR)
    # closes at 01:00 and 02:00 are within 2 h of the 00:00 snapshot
    assert out[OPT_ATM_IV].to_list() == [7.0, 7.0, None, None, None, None]


def test_no_snapshots_leave_bars_unchanged() -> None:
    bars = hourly(3)
    out = attach_options(bars, snapshots([], []), bar=HOUR)
    assert_frame_equal(out, bars)


@settings(max_examples=30, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 48 * 60), min_size=1, max_size=8, unique=True),
    cut=st.integers(1, 47),
)
def test_later_snapshots_never_change_earlier_bars(
    offsets: list[int], cut: int
) -> None:
    bars = hourly(48)
    times = sorted(T0 + timedelta(minutes=m) for m in offsets)
    snaps = snapshots(times, [float(i) for i in range(len(times))])
    full = attach_options(bars, snaps, bar=HOUR)
    known = snaps.filter(pl.col(TS) <= T0 + cut * HOUR)
    early = attach_options(bars.head(cut), known, bar=HOUR)
    assert_frame_equal(full.head(cut), early)


def test_option_snapshots_are_the_30_day_chain_metrics() -> None:
    rows = []
    for ts in (T0, T0 + 24 * HOUR):
        for days in (7.0, 60.0):
            for strike, kind, oi in (
                (90, "put", 50),
                (100, "call", 80),
                (110, "call", 40),
            ):
                rows.append(_opt(strike, kind, oi, 0.6, days=days, ts=ts))
    chains = _frame(rows)
    out = option_snapshots(chains)
    full = chain_series(chains)
    assert out[TS].to_list() == full[TS].to_list()
    assert out[OPT_ATM_IV].to_list() == full["atm_iv_30d"].to_list()
    assert out[OPT_RR25].to_list() == full["rr25_30d"].to_list()
    assert out[OPT_GEX_USD].to_list() == full["total_gex_usd"].to_list()
    assert out[OPT_GAMMA_FLIP].to_list() == full["gamma_flip"].to_list()
    assert out[OPT_CALL_WALL].to_list() == full["call_wall"].to_list()
    assert out[OPT_ATM_IV][0] == pytest.approx(0.6)


def test_option_snapshots_need_the_30_day_maturity() -> None:
    with pytest.raises(SchemaError, match="lacks 30"):
        option_snapshots(
            _frame([_opt(100, "call", 1, 0.5)]), spec=ChainSpec(cm_days=(7,))
        )
