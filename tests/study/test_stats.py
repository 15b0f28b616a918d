"""Bootstrap intervals, hit rates, calibration and the walk-forward purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallylens.exceptions import InsufficientDataError
from rallylens.study import (
    bootstrap_ci,
    brier_score,
    fit_logistic,
    hit_rates,
    log_loss,
    reliability_table,
    separation,
    walk_forward,
    walk_forward_splits,
)

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def test_bootstrap_interval_of_a_known_proportion() -> None:
    rng = np.random.default_rng(1)
    p, n = 0.3, 400
    values = (rng.random(n) < p).astype(float)
    lo, hi = bootstrap_ci(values, lambda a: a.mean(axis=1), confidence=0.90)
    se = np.sqrt(values.mean() * (1 - values.mean()) / n)
    # the percentile interval of a mean is close to mean +- 1.645 se
    assert lo == pytest.approx(values.mean() - 1.645 * se, abs=0.01)
    assert hi == pytest.approx(values.mean() + 1.645 * se, abs=0.01)
    assert lo < p < hi


def test_bootstrap_coverage_on_a_normal_sample() -> None:
    """About 90% of 90% intervals cover the true mean (200 samples)."""
    rng = np.random.default_rng(2)
    hits = 0
    for seed in range(200):
        sample = rng.normal(5.0, 2.0, 60)
        lo, hi = bootstrap_ci(
            sample, lambda a: a.mean(axis=1), resamples=500, seed=seed
        )
        hits += lo <= 5.0 <= hi
    assert 0.82 <= hits / 200 <= 0.96


def events(
    verdicts: list[str], failed: list[bool], regime: str = "bear"
) -> pl.DataFrame:
    n = len(verdicts)
    return pl.DataFrame(
        {
            "verdict": verdicts,
            "regime": [regime] * n,
            "fwd_failed_90d": failed,
            "fwd_ret_30d": [(-0.1 if f else 0.1) for f in failed],
        }
    )


def test_hit_rates_by_hand_and_too_few() -> None:
    frame = events(
        ["bear_market_rally"] * 8 + ["spot_led"] * 3,
        [True] * 6 + [False] * 2 + [False] * 3,
    )
    out = hit_rates(frame, failed="fwd_failed_90d", fwd_30d="fwd_ret_30d")
    rows = {(r["by"], r["group"]): r for r in out.iter_rows(named=True)}
    bear = rows[("verdict", "bear_market_rally")]
    assert bear["n"] == 8 and bear["n_failed"] == 6
    assert bear["fail_rate"] == pytest.approx(6 / 8)
    assert bear["fail_lo"] <= 0.75 <= bear["fail_hi"]
    assert bear["fwd_30d_median"] == pytest.approx(-0.1)
    spot = rows[("verdict", "spot_led")]
    assert spot["fail_rate"] is None and spot["fail_lo"] is None
    assert spot["note"] == "too few (n=3 < 5)"
    everyone = rows[("all", "all rallies")]
    assert everyone["n"] == 11 and everyone["fail_rate"] == pytest.approx(6 / 11)


def test_reliability_table_on_known_probabilities() -> None:
    """Outcomes drawn with known probabilities land on the diagonal."""
    rng = np.random.default_rng(3)
    p = rng.random(20_000)
    y = (rng.random(p.size) < p).astype(float)
    table = reliability_table(p, y, bins=5)
    assert table["n"].sum() == p.size
    for row in table.iter_rows(named=True):
        assert row["observed"] == pytest.approx(row["mean_p"], abs=0.02)
        assert row["bin_lo"] <= row["mean_p"] <= row["bin_hi"]
    # Brier of the true probabilities: E[p(1-p)] = 1/6 for p ~ U(0, 1)
    assert brier_score(p, y) == pytest.approx(1 / 6, abs=0.01)
    assert brier_score(np.full(p.size, y.mean()), y) == pytest.approx(0.25, abs=0.01)
    assert log_loss(p, y) < log_loss(np.full(p.size, 0.5), y)


def test_logistic_fit_recovers_a_known_slope() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5000, 1))
    y = (rng.random(5000) < 1 / (1 + np.exp(-(0.5 + 2.0 * x[:, 0])))).astype(float)
    model = fit_logistic(x, y, features=("x",), l2=0.0)
    # coefficients are on the standardised scale: slope * std(x)
    assert model.coef[0] / model.scale[0] == pytest.approx(2.0, rel=0.1)
    assert model.intercept - model.coef[0] * model.mean[0] / model.scale[0] == (
        pytest.approx(0.5, abs=0.1)
    )
    with pytest.raises(InsufficientDataError, match="one outcome"):
        fit_logistic(x[:10], np.zeros(10), features=("x",))


@settings(max_examples=50, deadline=None)
@given(
    days=st.lists(st.integers(0, 2000), min_size=1, max_size=60),
    horizon=st.integers(1, 200),
)
def test_no_training_window_overlaps_the_test_event(
    days: list[int], horizon: int
) -> None:
    decision = [T0 + timedelta(days=d) for d in days]
    gap = timedelta(days=horizon)
    for i, train in walk_forward_splits(decision, gap):
        assert i not in train
        for j in train:
            # j's outcome window [decision_j, decision_j + horizon] closed by the
            # test decision, so it cannot overlap [decision_i, decision_i + horizon]
            assert decision[j] + gap <= decision[i]
        expected = {j for j, d in enumerate(decision) if d + gap <= decision[i]}
        assert set(train.tolist()) == expected


def test_walk_forward_scores_only_with_enough_history() -> None:
    rng = np.random.default_rng(5)
    n = 80
    x = rng.normal(size=n)
    failed = rng.random(n) < 1 / (1 + np.exp(-2 * x))
    frame = pl.DataFrame(
        {
            "event_id": list(range(n)),
            "decision_ts": [T0 + timedelta(days=10 * i) for i in range(n)],
            "f": x,
            "fwd_failed_90d": failed,
        }
    )
    kw = {"label": "fwd_failed_90d", "decision": "decision_ts"}
    out = walk_forward(
        frame, **kw, horizon=timedelta(days=90), features=("f",), min_train=20
    )
    # event i (day 10 i) may train on events 0 .. i - 9: i - 8 of them
    assert out["n_train"].min() >= 20
    first = out["event_id"][0]
    assert first >= 28
    assert out["n_train"][0] == first - 8
    with pytest.raises(InsufficientDataError, match="outcomes"):
        walk_forward(frame, **kw, horizon=timedelta(days=90), features=("fwd_x",))


def test_separation_auc_by_hand() -> None:
    frame = pl.DataFrame(
        {
            "s": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, None],
            "fwd_failed_90d": [False] * 5 + [True] * 5 + [True],
        }
    )
    out = separation(frame, ["s"], failed="fwd_failed_90d")
    assert out.row(0, named=True)["auc"] == 1.0
    assert out["n"][0] == 10
