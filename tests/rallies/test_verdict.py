"""Verdict rules: strength curves, score arithmetic, explanations, scenarios.

Scores are checked by hand against the formula of ``rallylens.rallies._verdict``::

    score    = sum(weight * strength over computable evidence) / sum(weight)
    coverage = sum(weight over computable evidence) / sum(weight)

and the issue's scenarios are generated bars run through ``analyze_rally``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl
import pytest

from rallylens._typing import RallyKind
from rallylens.exceptions import ConfigError
from rallylens.rallies import (
    CONFIDENCE,
    DEFAULT_SPEC,
    GROUPS,
    VERDICT,
    Evidence,
    RallyAnalysis,
    Signal,
    VerdictSpec,
    analyze_rally,
    coverage_column,
    explain_verdict,
    score_column,
    score_verdicts,
)
from rallylens.schemas import (
    ASSET,
    CLOSE,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    OI_BASE_EST,
    PANEL_OI_USD,
    RALLY_ID,
)
from tests.rallies._scenarios import (
    Scenario,
    bear_market_rally,
    leveraged_long,
    spot_led,
    without,
)

B, S, L = RallyKind.BEAR_MARKET_RALLY, RallyKind.SPOT_LED, RallyKind.LEVERAGED_LONG
KINDS = (B, S, L)


# --- strength curves ---------------------------------------------------------


def rising(*xp: float) -> Evidence:
    fp = tuple(i / (len(xp) - 1) for i in range(len(xp)))
    return Evidence(S, (Signal.GAIN,), xp, fp, 1.0, "gain {v}")


@pytest.mark.parametrize(
    ("evidence", "value", "expected"),
    [
        # rising ramp 0.3 -> 0.7
        (rising(0.3, 0.7), 0.3, 0.0),
        (rising(0.3, 0.7), 0.4, 0.25),
        (rising(0.3, 0.7), 0.5, 0.5),
        (rising(0.3, 0.7), 0.7, 1.0),
        (rising(0.3, 0.7), -5.0, 0.0),  # flat below the first point
        (rising(0.3, 0.7), 9.0, 1.0),  # flat beyond the last point
        (rising(0.3, 0.7), math.inf, 1.0),
        # falling ramp (OI fell: -10% -> 1, -2% -> 0)
        (Evidence(B, (Signal.OI_CHANGE,), (-0.1, -0.02), (1, 0), 1, "x"), -0.06, 0.5),
        (Evidence(B, (Signal.OI_CHANGE,), (-0.1, -0.02), (1, 0), 1, "x"), -0.5, 1.0),
        (Evidence(B, (Signal.OI_CHANGE,), (-0.1, -0.02), (1, 0), 1, "x"), 0.3, 0.0),
    ],
)
def test_strength_is_piecewise_linear_and_flat_beyond_the_ends(
    evidence: Evidence, value: float, expected: float
) -> None:
    assert evidence.strength(np.array([value]))[0] == pytest.approx(expected)


HUMP = Evidence(
    S, (Signal.FUNDING_MEAN,), (-0.05, 0.0, 0.10, 0.20), (0, 1, 1, 0), 1.5, "f {v}"
)


def test_strength_of_a_hump_curve_and_nan() -> None:
    values = np.array([-0.2, -0.05, -0.025, 0.0, 0.05, 0.10, 0.15, 0.2, 0.5, np.nan])
    expected = [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    out = HUMP.strength(values)
    assert out[:-1] == pytest.approx(expected)
    assert np.isnan(out[-1])


# --- score arithmetic --------------------------------------------------------

TINY = VerdictSpec(
    evidence=(
        Evidence(B, (Signal.GAIN,), (0.0, 0.2), (0, 1), 2.0, "gain {v}"),
        Evidence(B, (Signal.OI_CHANGE,), (-0.1, 0.0), (1, 0), 1.0, "OI {v}"),
        Evidence(S, (Signal.FUNDING_MEAN,), (0.0, 0.1), (1, 0), 1.0, "funding {v}"),
        Evidence(
            S, (Signal.SPOT_SHARE_CHANGE,), (0.0, 0.05), (0, 1), 3.0, "spot {v}", "pts"
        ),
        Evidence(L, (Signal.FUNDING_Z,), (1.0, 3.0), (0, 1), 1.0, "z {v}", "z"),
        Evidence(
            L, (Signal.IV_CHANGE, Signal.RV_CHANGE), (-0.2, 0.0), (1, 0), 1.0, "vol {v}"
        ),
    ),
    min_score=0.45,
    min_margin=0.05,
    taglines={S: "spot carried it", L: "perps carried it", B: "shorts covered"},
)


def anatomy_frame(rows: list[Mapping[Signal, float | None]]) -> pl.DataFrame:
    """Anatomy frame of the given signal values (every other signal null)."""
    return pl.DataFrame(
        {
            ASSET: ["BTC"] * len(rows),
            RALLY_ID: list(range(1, len(rows) + 1)),
            **{s.value: [row.get(s) for row in rows] for s in Signal},
        },
        schema={ASSET: pl.String, RALLY_ID: pl.Int64}
        | {s.value: pl.Float64 for s in Signal},
    )


def scored(row: Mapping[Signal, float | None], spec: VerdictSpec = TINY) -> dict:
    return score_verdicts(anatomy_frame([row]), spec).row(0, named=True)


def test_scores_and_coverage_by_hand() -> None:
    row = {
        Signal.GAIN: 0.1,  # B: 0.5 of weight 2
        Signal.OI_CHANGE: -0.05,  # B: 0.5 of weight 1
        Signal.FUNDING_MEAN: 0.02,  # S: 0.8 of weight 1
        Signal.SPOT_SHARE_CHANGE: 0.04,  # S: 0.8 of weight 3
        Signal.FUNDING_Z: None,  # L: missing, weight 1
        Signal.RV_CHANGE: -0.1,  # L: IV missing, RV stands in: 0.5 of weight 1
    }
    out = scored(row)
    assert out[score_column(B)] == pytest.approx((2 * 0.5 + 1 * 0.5) / 3)
    assert out[score_column(S)] == pytest.approx((1 * 0.8 + 3 * 0.8) / 4)
    assert out[score_column(L)] == pytest.approx((1 * 0.5) / 2)
    assert out[coverage_column(B)] == 1.0
    assert out[coverage_column(S)] == 1.0
    assert out[coverage_column(L)] == pytest.approx(1 / 2)
    assert out[VERDICT] == S.value
    assert out[CONFIDENCE] == 1.0


def test_missing_evidence_lowers_score_and_coverage() -> None:
    full = {Signal.FUNDING_MEAN: 0.0, Signal.SPOT_SHARE_CHANGE: 0.05}
    half = {Signal.SPOT_SHARE_CHANGE: 0.05}
    assert scored(full)[score_column(S)] == 1.0
    assert scored(half)[score_column(S)] == pytest.approx(3 / 4)
    assert scored(half)[coverage_column(S)] == pytest.approx(3 / 4)
    assert scored(half)[CONFIDENCE] == pytest.approx(3 / 4)


def test_first_available_alternative_is_used() -> None:
    both = {Signal.IV_CHANGE: -0.2, Signal.RV_CHANGE: 0.0, Signal.FUNDING_Z: 3.0}
    assert scored(both)[score_column(L)] == pytest.approx((1 + 1) / 2)
    rv_only = {Signal.RV_CHANGE: 0.0, Signal.FUNDING_Z: 3.0}
    assert scored(rv_only)[score_column(L)] == pytest.approx((1 + 0) / 2)
    assert scored(rv_only)[coverage_column(L)] == 1.0


@pytest.mark.parametrize(
    ("row", "why"),
    [
        # best is L at (0.25 + 0.1) / 2 = 0.175 < min_score 0.45
        (
            {
                Signal.GAIN: 0.02,
                Signal.FUNDING_Z: 1.5,
                Signal.IV_CHANGE: -0.02,
                Signal.FUNDING_MEAN: 0.1,
            },
            "weak",
        ),
        # B = 1.0 and S = (1 + 3 * 0.98) / 4 = 0.985: margin 0.015 < 0.05
        (
            {
                Signal.GAIN: 0.2,
                Signal.OI_CHANGE: -0.1,
                Signal.FUNDING_MEAN: 0.0,
                Signal.SPOT_SHARE_CHANGE: 0.049,
            },
            "close",
        ),
        ({}, "nothing"),
    ],
)
def test_undetermined_below_min_score_or_margin(
    row: Mapping[Signal, float], why: str
) -> None:
    out = scored(row)
    assert out[VERDICT] == RallyKind.UNDETERMINED.value, why
    assert out[CONFIDENCE] == 0.0


def test_margin_decides_a_close_call() -> None:
    row = {
        Signal.GAIN: 0.2,
        Signal.OI_CHANGE: -0.1,
        Signal.FUNDING_MEAN: 0.0,
        Signal.SPOT_SHARE_CHANGE: 0.049,
    }
    loose = VerdictSpec(TINY.evidence, min_score=0.45, min_margin=0.01)
    out = scored(row, loose)
    assert out[VERDICT] == B.value
    assert out[score_column(B)] - out[score_column(S)] == pytest.approx(0.015)


def test_score_verdicts_on_no_rallies() -> None:
    out = score_verdicts(anatomy_frame([]), TINY)
    assert out.is_empty()
    assert out.columns == [
        ASSET,
        RALLY_ID,
        *(score_column(k) for k in KINDS),
        *(coverage_column(k) for k in KINDS),
        VERDICT,
        CONFIDENCE,
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Evidence(S, (Signal.GAIN,), (0.0,), (1.0,), 1.0, "one point"),
        lambda: Evidence(S, (Signal.GAIN,), (0.0, 1.0), (0.0,), 1.0, "lengths"),
        lambda: Evidence(S, (Signal.GAIN,), (1.0, 0.0), (0.0, 1.0), 1.0, "order"),
        lambda: Evidence(S, (Signal.GAIN,), (0.0, 1.0), (0.0, 1.5), 1.0, "above 1"),
        lambda: Evidence(S, (Signal.GAIN,), (0.0, 1.0), (-0.1, 1.0), 1.0, "below 0"),
        lambda: Evidence(S, (Signal.GAIN,), (0.0, 1.0), (0.0, 1.0), 0.0, "weight 0"),
        lambda: Evidence(S, (Signal.GAIN,), (0.0, 1.0), (0.0, 1.0), -1.0, "weight"),
        lambda: Evidence(S, (Signal.GAIN,), (0.0, 1.0), (0, 1), 1.0, "{v}", "bp"),
        # a kind with no evidence could never be scored
        lambda: VerdictSpec(tuple(e for e in TINY.evidence if e.kind != L)),
    ],
)
def test_bad_rules_raise_config_error(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigError):
        make()


def test_every_default_reason_formats() -> None:
    """Each default rule, at its strongest value, yields its reason text."""
    for ev in DEFAULT_SPEC.evidence:
        value = ev.xp[int(np.argmax(ev.fp))]
        spec = VerdictSpec((ev, *_one_each_other(ev.kind)))
        out = explain_verdict({ev.signals[0].value: value}, ev.kind, spec)
        assert len(out.reasons) == 1
        assert out.reasons[0].strength == 1.0
        assert "{" not in out.reasons[0].text


def _one_each_other(kind: RallyKind) -> tuple[Evidence, ...]:
    return tuple(
        Evidence(k, (Signal.GAIN,), (0, 1), (0, 1), 1, "gain {v}")
        for k in KINDS
        if k != kind
    )


# --- explanations ------------------------------------------------------------


def test_explanation_by_hand() -> None:
    row = {
        Signal.GAIN.value: 0.12,
        Signal.OI_CHANGE.value: -0.05,  # B 0.5: "OI -5.0%"
        Signal.FUNDING_MEAN.value: 0.02,  # S 0.8: "funding +2.0%"
        Signal.SPOT_SHARE_CHANGE.value: 0.05,  # S 1.0: "spot 5.0"
        Signal.FUNDING_Z.value: 1.2,  # L 0.1: too weak to name
    }
    out = explain_verdict(
        row, S, TINY, missing_sources={"dvol": "no DVOL series in the store"}
    )
    # strongest first by strength * weight: 1.0 * 3 before 0.8 * 1
    assert [r.text for r in out.reasons] == ["spot 5.0", "funding +2.0%"]
    assert [(r.kind, r.strength, r.weight) for r in out.reasons] == [
        (S, 1.0, 3.0),
        (S, pytest.approx(0.8), 1.0),
    ]
    # GAIN 0.12 gives B 0.6 (weight 2) and OI 0.5 (weight 1): both named against
    assert [r.text for r in out.against] == ["gain +12.0%", "OI -5.0%"]
    assert out.missing == {Signal.IV_CHANGE.value: "dvol: no DVOL series in the store"}
    assert out.headline == "spot 5.0 and funding +2.0% while price +12.0%: " + (
        "spot carried it"
    )


def test_missing_without_a_known_reason() -> None:
    out = explain_verdict({}, RallyKind.UNDETERMINED, TINY)
    assert out.missing[Signal.OI_CHANGE.value] == (
        "no open interest data inside the rally's window"
    )
    assert out.missing[Signal.GAIN.value] == "not computable for this rally"
    assert out.reasons == ()
    assert out.headline.startswith("the move")


# --- the scenarios ---------------------------------------------------

SEEDS = (7, 11, 3)


def analyzed(scenario: Scenario, **kwargs: Any) -> RallyAnalysis:
    analysis = analyze_rally(scenario.bars, **kwargs)
    assert analysis.in_progress
    assert analysis.rally["low_ts"] == scenario.bars["ts"][scenario.low_index]
    return analysis


def assert_wins(analysis: RallyAnalysis, kind: RallyKind) -> None:
    assert analysis.verdict == kind
    best = analysis.scores[kind.value]
    others = [v for k, v in analysis.scores.items() if k != kind.value]
    assert best >= DEFAULT_SPEC.min_score
    assert best - max(others) >= DEFAULT_SPEC.min_margin
    assert analysis.confidence == analysis.coverage[kind.value] > 0


def texts(analysis: RallyAnalysis) -> str:
    return " | ".join(r.text for r in analysis.explanation.reasons)


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_case_is_spot_led(seed: int) -> None:
    """Funding ~4% APR, OI fell markedly, ~$180M liquidated in one day (mostly
    shorts), price steadily up with a rising spot share: spot-led."""
    analysis = analyzed(spot_led(seed))
    a = analysis.anatomy
    assert a[Signal.FUNDING_MEAN] == pytest.approx(0.04, abs=0.005)
    assert a[Signal.OI_CHANGE] == pytest.approx(-0.28)
    assert a[Signal.LIQ_MAX_DAY_USD] == pytest.approx(180e6)
    assert a[Signal.SPOT_SHARE_CHANGE] > 0.1
    assert a[Signal.GAIN] > 0.25

    assert_wins(analysis, S)
    said = texts(analysis)
    assert re.search(r"funding [34]\.\d% APR \(moderate\)", said)
    assert "OI -28.0%: no leverage build-up" in said
    assert "spot share of volume rose" in said
    assert "spot share of volume rose" in analysis.explanation.headline
    assert analysis.explanation.headline.endswith(DEFAULT_SPEC.taglines[S])
    # the scenario has every series but option chains: only those are missing
    assert set(analysis.explanation.missing) == {s.value for s in GROUPS["options"]} & {
        s.value for e in DEFAULT_SPEC.evidence for s in e.signals
    }
    # the short squeeze is still reported, as evidence for the other kind
    against = [r.text for r in analysis.explanation.against]
    assert any(t.startswith("short liquidations spiked") for t in against)


@pytest.mark.parametrize("seed", SEEDS)
def test_bear_regime_short_squeeze_into_old_support(seed: int) -> None:
    scenario = bear_market_rally(seed)
    analysis = analyzed(scenario)
    a = analysis.anatomy
    swing_low = scenario.bars[CLOSE][scenario.low_index - 20]
    assert a[Signal.REGIME_LEVEL] == -1.0
    assert a[Signal.RESISTANCE] == swing_low  # the support broken in the decline
    assert a[Signal.RESISTANCE_TESTED] == 1.0
    assert a[Signal.LIQ_SHORT_Z] > 3
    assert a[Signal.OI_CHANGE] == pytest.approx(-0.25)
    assert a[Signal.VOLUME_AT_HIGHS] < 0.7
    assert a[Signal.IV_CHANGE] < -0.2

    assert_wins(analysis, B)
    said = texts(analysis)
    for fact in (
        "started in a bear regime",
        "(short covering)",
        "short liquidations spiked",
        "ran into resistance",
        "OI -25.0% while price rose",
        "volume thinned at the highs",
        "volatility compressed",
    ):
        assert fact in said
    assert analysis.explanation.headline.endswith(DEFAULT_SPEC.taglines[B])


@pytest.mark.parametrize("seed", SEEDS)
def test_leverage_build_up_is_leveraged_long(seed: int) -> None:
    analysis = analyzed(leveraged_long(seed))
    a = analysis.anatomy
    assert a[Signal.OI_CHANGE] == pytest.approx(0.25)
    assert a[Signal.FUNDING_Z] > 3
    assert a[Signal.PREMIUM_CHANGE] > 0.002

    assert_wins(analysis, L)
    said = texts(analysis)
    assert "OI built up +25.0%" in said
    assert "funding spiked (z +" in said
    assert "perp premium widened" in said
    assert analysis.explanation.headline.endswith(DEFAULT_SPEC.taglines[L])


OI_COLUMNS = (PANEL_OI_USD, OI_BASE_EST)
LIQ_COLUMNS = (LIQ_LONG_USD, LIQ_SHORT_USD)


@pytest.mark.parametrize(
    ("make", "kind", "columns", "group", "signals"),
    [
        (
            spot_led,
            S,
            OI_COLUMNS,
            "open_interest",
            (Signal.OI_CHANGE, Signal.SHORT_COVERING),
        ),
        (
            bear_market_rally,
            B,
            OI_COLUMNS,
            "open_interest",
            (Signal.OI_CHANGE, Signal.SHORT_COVERING),
        ),
        (bear_market_rally, B, LIQ_COLUMNS, "liquidations", (Signal.LIQ_SHORT_Z,)),
    ],
)
def test_missing_source_is_named_and_lowers_confidence(
    make: Callable[[], Scenario],
    kind: RallyKind,
    columns: tuple[str, ...],
    group: str,
    signals: tuple[Signal, ...],
) -> None:
    scenario = make()
    full = analyzed(scenario)
    why = f"no {group.replace('_', ' ')} series in the store"
    thin = analyzed(
        Scenario(without(scenario.bars, *columns), scenario.low_index),
        missing_sources={group: why},
    )
    assert thin.verdict == kind
    assert thin.confidence < full.confidence
    for signal in signals:
        assert thin.anatomy[signal.value] is None
        assert thin.explanation.missing[signal.value] == (
            f"{group.replace('_', ' ')}: {why}"
        )
        assert signal.value not in full.explanation.missing
    named = "OI" if group == "open_interest" else "liquidations"
    assert named not in texts(thin)
    assert named in texts(full)
    # the lost weight, by hand: coverage drops by the missing evidence's weight
    lost = sum(
        e.weight
        for e in DEFAULT_SPEC.of(kind)
        if e.signals[0] in signals and len(e.signals) == 1
    )
    # optional (options) evidence is absent here, so it is out of the total
    total = sum(e.weight for e in DEFAULT_SPEC.of(kind) if not e.optional)
    assert full.confidence - thin.confidence == pytest.approx(lost / total)


def test_missing_source_without_a_reason_says_no_data_in_window() -> None:
    scenario = spot_led()
    thin = analyzed(Scenario(without(scenario.bars, *OI_COLUMNS), scenario.low_index))
    assert thin.explanation.missing[Signal.OI_CHANGE.value] == (
        "no open interest data inside the rally's window"
    )
