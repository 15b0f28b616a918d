"""Appending rows after t never changes any feature, detection or verdict at t."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rallylens.exceptions import InsufficientDataError
from rallylens.rallies import (
    DetectSpec,
    RallyAnalysis,
    analyze_rally,
    detect_rallies,
    find_rallies,
    label_regimes,
    move_thresholds,
)
from rallylens.schemas import CLOSE, HIGH, LOG_RETURN, LOW, OPEN, PANEL_OI_USD, TS
from tests.rallies.conftest import DAY, random_walk_bars

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOL = 1e-9


def append_walk(head: pl.DataFrame, seed: int, days: int, sigma: float, jump: float):
    """``head`` plus ``days`` more bars of an unrelated walk, starting ``jump``
    times the last close (any level, any volatility: the future is arbitrary)."""
    tail = random_walk_bars(seed, days, sigma=sigma, start=head[TS][-1] + DAY)
    scale = jump * head[CLOSE][-1] / tail[OPEN][0]
    tail = tail.with_columns(pl.col(OPEN, HIGH, LOW, CLOSE, PANEL_OI_USD) * scale)
    first_return = math.log(tail[CLOSE][0] / head[CLOSE][-1])
    tail = tail.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(first_return)
        .otherwise(pl.col(LOG_RETURN))
        .alias(LOG_RETURN)
    )
    return pl.concat([head, tail])  # the head's rows are untouched


@st.composite
def head_and_future(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A random-walk history of t days and the same history with days appended."""
    days = draw(st.integers(30, 450))
    head = random_walk_bars(draw(st.integers(0, 2**32 - 1)), days)
    full = append_walk(
        head,
        seed=draw(st.integers(0, 2**32 - 1)),
        days=draw(st.integers(1, 250)),
        sigma=draw(st.sampled_from([0.01, 0.035, 0.09])),
        jump=draw(st.sampled_from([0.5, 0.93, 1.0, 1.07, 2.0])),
    )
    return head, full


def same_row(a: dict[str, object], b: dict[str, object]) -> None:
    """Equal rows: floats within TOL (nulls and NaNs equal), others exactly."""
    assert a.keys() == b.keys()
    for key, x in a.items():
        y = b[key]
        if isinstance(x, float) and isinstance(y, float):
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(
                y, rel=TOL, abs=TOL
            ), key
        else:
            assert x == y, key


# --- (a) features and detection -------------------------------------------------------
@PROPERTY
@given(head_and_future())
def test_regimes_and_thresholds_up_to_t_ignore_later_rows(
    walk: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    head, full = walk
    t = head.height
    assert label_regimes(head).equals(label_regimes(full).head(t))
    spec = DetectSpec()
    assert move_thresholds(head, spec).equals(move_thresholds(full, spec).head(t))


@PROPERTY
@given(head_and_future())
def test_detection_at_t_is_what_the_full_run_knew_at_t(
    walk: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    head, full = walk
    cut_day = head[TS][-1]
    early = detect_rallies(head)
    late = detect_rallies(full)
    by_id = {r["rally_id"]: r for r in late.to_dicts()}
    for rally in early.to_dicts():
        match = by_id[rally["rally_id"]]
        assert rally["as_of"] == cut_day
        if rally["status"] == "ended":
            # identical in the full run, apart from the as-of day
            assert {**rally, "as_of": None} == {**match, "as_of": None}
        else:
            # known at t: where it started, when it was confirmed, what it retraces
            for key in ("low_ts", "low_price", "confirm_ts", "threshold", "regime"):
                assert rally[key] == match[key], key
            for key in ("decline_high_ts", "decline_high"):
                assert rally[key] == match[key], key
            assert match["peak_price"] >= rally["peak_price"]
            assert match["end_ts"] is None or match["end_ts"] > cut_day
    # and the full run knew of no other rally by t
    confirmed_by_t = late.filter(pl.col("confirm_ts") <= cut_day)
    assert confirmed_by_t["rally_id"].to_list() == early["rally_id"].to_list()


# --- (b) anatomy and verdict ----------------------------------------------------------
@PROPERTY
@given(head_and_future(), st.integers(0, 23))
def test_analysis_as_of_t_ignores_later_rows(
    walk: tuple[pl.DataFrame, pl.DataFrame], extra_hours: int
) -> None:
    head, full = walk
    # bars count once closed: the head's last bar closes at its ts + 1 day, and
    # any time before the next bar closes sees exactly the head
    cut_time = head[TS][-1] + DAY + timedelta(hours=extra_hours)
    try:
        expected = analyze_rally(head)
    except InsufficientDataError as exc:
        with pytest.raises(InsufficientDataError) as raised:
            analyze_rally(full, as_of=cut_time)
        assert str(raised.value) == str(exc)
        return
    got = analyze_rally(full, as_of=cut_time)
    assert_same_analysis(got, expected)


def assert_same_analysis(got: RallyAnalysis, expected: RallyAnalysis) -> None:
    assert (got.asset, got.as_of, got.in_progress) == (
        expected.asset,
        expected.as_of,
        expected.in_progress,
    )
    assert got.last_close == expected.last_close
    assert got.rally == expected.rally
    same_row(
        {k: np.nan if v is None else v for k, v in got.anatomy.items()},
        {k: np.nan if v is None else v for k, v in expected.anatomy.items()},
    )
    same_row(got.scores, expected.scores)
    same_row(got.coverage, expected.coverage)
    same_row(
        {k: np.nan if v is None else v for k, v in got.levels.items()},
        {k: np.nan if v is None else v for k, v in expected.levels.items()},
    )
    assert got.verdict == expected.verdict
    assert got.confidence == pytest.approx(expected.confidence, abs=TOL)
    assert got.explanation.headline == expected.explanation.headline
    for part in ("reasons", "against"):
        assert [(r.kind, r.text) for r in getattr(got.explanation, part)] == [
            (r.kind, r.text) for r in getattr(expected.explanation, part)
        ]
    assert got.explanation.missing == expected.explanation.missing


@PROPERTY
@given(head_and_future())
def test_ended_rallies_keep_their_anatomy_and_verdict(
    walk: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    # an ended rally is judged at its peak: later rows cannot change that row
    head, full = walk
    early = find_rallies(head).filter(pl.col("status") == "ended")
    late = find_rallies(full)
    by_id = {r["rally_id"]: r for r in late.to_dicts()}
    for rally in early.to_dicts():
        same_row(
            {k: np.nan if v is None else v for k, v in rally.items()},
            {
                k: np.nan if v is None else v
                for k, v in by_id[rally["rally_id"]].items()
            },
        )
