"""Option-positioning signals of the anatomy and their optional evidence."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from rallylens._typing import RallyKind
from rallylens.rallies import (
    DEFAULT_SPEC,
    AnatomySpec,
    Signal,
    compute_anatomies,
    score_verdicts,
)
from rallylens.rallies._verdict import coverage_column, score_column
from rallylens.schemas import (
    ASSET,
    CLOSE,
    DVOL,
    OPT_ATM_IV,
    OPT_CALL_WALL,
    OPT_GAMMA_FLIP,
    OPT_GEX_USD,
    OPT_RR25,
    RALLY_ID,
)
from tests.rallies._scenarios import daily_frame, rally_frame

SPEC = AnatomySpec(baseline_days=6, prior_days=4, start_days=2, rv_days=4)
CLOSES = [120.0, 110.0, 100.0, 104.0, 108.0, 112.0, 115.0, 118.0, 200.0]
RALLY = {"low": 2, "as_of": 7, "high_day": 0, "low_price": 100.0, "decline_high": 120.0}
N = len(CLOSES)


def options_row(**columns: Any) -> dict[str, Any]:
    daily = daily_frame({CLOSE: CLOSES, **columns})
    out = compute_anatomies(daily, daily, rally_frame([RALLY]), SPEC)
    assert out.height == 1
    return out.row(0, named=True)


def column(values: dict[int, float]) -> list[float | None]:
    """A daily column with values on the given days only."""
    return [values.get(i) for i in range(N)]


def test_positions_come_from_the_as_of_day_snapshot() -> None:
    # close 118 on the as-of day (7); day 8 is in the future and must not count
    row = options_row(
        **{
            OPT_GEX_USD: column({3: -5e6, 7: 2e6, 8: -9e9}),
            OPT_GAMMA_FLIP: column({3: 130.0, 7: 110.0, 8: 1.0}),
            OPT_CALL_WALL: column({3: 150.0, 7: 120.0, 8: 1.0}),
            OPT_RR25: column({2: -0.06, 7: -0.01, 8: 0.5}),
            OPT_ATM_IV: column({2: 0.80, 7: 0.60, 8: 2.0}),
        }
    )
    assert row[Signal.DEALER_GEX] == 2e6
    assert row[Signal.VS_GAMMA_FLIP] == pytest.approx(118 / 110 - 1)
    assert row[Signal.CALL_WALL_DISTANCE] == pytest.approx(120 / 118 - 1)
    # dealers long gamma, wall 1.69% above, band 5%: pin = 1 - 0.0169 / 0.05
    assert row[Signal.CALL_WALL_PIN] == pytest.approx(1 - (120 / 118 - 1) / 0.05)
    assert row[Signal.SKEW_CHANGE] == pytest.approx(-0.01 - -0.06)
    assert row[Signal.SKEW_LAST] == pytest.approx(-0.01)
    # no DVOL: the IV change falls back to the 30-day ATM IV
    assert row[Signal.IV_CHANGE] == pytest.approx(0.60 / 0.80 - 1)
    assert row[Signal.IV_LAST] == pytest.approx(0.60)


def test_dvol_wins_over_atm_iv() -> None:
    dvol = [0.5, 0.5, 0.70, 0.7, 0.7, 0.7, 0.7, 0.56, 0.1]
    row = options_row(**{DVOL: dvol, OPT_ATM_IV: column({2: 0.80, 7: 0.60})})
    assert row[Signal.IV_CHANGE] == pytest.approx(0.56 / 0.70 - 1)
    assert row[Signal.IV_LAST] == pytest.approx(0.56)


@pytest.mark.parametrize(
    ("gex", "wall", "pin"),
    [
        (2e6, 118.0, 1.0),  # at the wall, long gamma
        (2e6, 118 * 1.06, 0.0),  # beyond the band
        (2e6, 118 * 0.98, 1 - 0.02 / 0.05),  # just broke through the wall
        (-2e6, 118.0, 0.0),  # short gamma: no pin
    ],
)
def test_call_wall_pin(gex: float, wall: float, pin: float) -> None:
    row = options_row(
        **{OPT_GEX_USD: column({7: gex}), OPT_CALL_WALL: column({7: wall})}
    )
    assert row[Signal.CALL_WALL_PIN] == pytest.approx(pin)


def test_a_stale_or_late_snapshot_gives_no_change_or_position() -> None:
    # first snapshot on day 5, after the rally's first start_days=2 days: no
    # change; no snapshot on the as-of day: no positions
    row = options_row(
        **{
            OPT_ATM_IV: column({5: 0.8, 6: 0.7}),
            OPT_RR25: column({5: -0.05, 6: 0.0}),
            OPT_GEX_USD: column({5: 1e6}),
            OPT_CALL_WALL: column({5: 120.0}),
        }
    )
    for signal in (
        Signal.IV_CHANGE,
        Signal.SKEW_CHANGE,
        Signal.SKEW_LAST,
        Signal.DEALER_GEX,
        Signal.CALL_WALL_PIN,
        Signal.VS_GAMMA_FLIP,
    ):
        assert row[signal] is None, signal


def test_optional_evidence_counts_only_where_present() -> None:
    """A rally without option data is scored on the rest alone; with it, the
    options evidence joins both the weight and the score."""
    base = {s.value: [np.nan, np.nan] for s in Signal}
    frame = pl.DataFrame(
        {ASSET: ["A", "B"], RALLY_ID: [0, 1], **base},
        schema={
            ASSET: pl.String,
            RALLY_ID: pl.Int64,
            **dict.fromkeys(base, pl.Float64),
        },
    ).with_columns(
        pl.Series(Signal.REGIME_LEVEL.value, [-1.0, -1.0]),
        pl.Series(Signal.CALL_WALL_PIN.value, [np.nan, 1.0]),
        pl.Series(Signal.SKEW_LAST.value, [np.nan, -0.05]),
    )
    out = score_verdicts(frame)
    kind = RallyKind.BEAR_MARKET_RALLY
    core = sum(e.weight for e in DEFAULT_SPEC.of(kind) if not e.optional)
    optional = sum(e.weight for e in DEFAULT_SPEC.of(kind) if e.optional)
    assert optional == pytest.approx(1.5)
    regime = 2.0  # the bear-regime flag, strength 1
    assert out[score_column(kind)][0] == pytest.approx(regime / core)
    assert out[coverage_column(kind)][0] == pytest.approx(regime / core)
    assert out[score_column(kind)][1] == pytest.approx(
        (regime + optional) / (core + optional)
    )
    assert out[coverage_column(kind)][1] == pytest.approx(
        (regime + optional) / (core + optional)
    )
