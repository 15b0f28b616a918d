"""The gamma and event-study figures on hand-built frames."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from rallylens.reports.figures import gamma_figure, hit_rates_figure, reliability_figure
from rallylens.reports.figures.study import hit_rate_rows
from tests.reports.conftest import annotation_texts, assert_degraded, trace_names

SNAPSHOT = datetime(2024, 5, 24, 8, tzinfo=UTC)


def _by_strike(scale: float = 1.0) -> pl.DataFrame:
    strikes = [30_000.0, 50_000, 55_000, 60_000, 65_000, 70_000, 90_000]
    calls = [0.0, 1e6, 2e6, 5e6, 3e6, 8e6, 1e6]
    puts = [-1e6, -6e6, -3e6, -2e6, -1e6, 0.0, 0.0]
    return pl.DataFrame(
        {
            "strike": strikes,
            "call_gex_usd": [c * scale for c in calls],
            "put_gex_usd": [p * scale for p in puts],
            "net_gex_usd": [(c + p) * scale for c, p in zip(calls, puts, strict=True)],
        }
    )


def test_gamma_figure_marks_spot_flip_and_walls() -> None:
    fig = gamma_figure(
        _by_strike(),
        spot=60_000.0,
        gamma_flip=52_500.0,
        call_wall=70_000.0,
        put_wall=50_000.0,
        snapshot_ts=SNAPSHOT,
    )
    assert trace_names(fig) == ["call GEX", "put GEX", "net GEX"]
    # strikes beyond spot +-35% (30,000 and 90,000) are left out
    assert list(fig.data[0].x) == [50_000.0, 55_000, 60_000, 65_000, 70_000]
    assert fig.layout.barmode == "relative"
    lines = {s.x0 for s in fig.layout.shapes if s.type == "line"}
    assert lines == {60_000.0, 52_500.0, 70_000.0, 50_000.0}
    texts = annotation_texts(fig)
    for label in (
        "spot 60,000",
        "gamma flip 52,500",
        "call wall 70,000",
        "put wall 50,000",
    ):
        assert label in texts
    note = next(t for t in texts if t.startswith("estimate"))
    assert "dealer long calls short puts" in note and "2024-05-24 08:00" in note


def test_gamma_figure_skips_unknown_levels() -> None:
    fig = gamma_figure(_by_strike(), spot=60_000.0, gamma_flip=None, call_wall=None)
    assert [s.x0 for s in fig.layout.shapes if s.type == "line"] == [60_000.0]


def test_gamma_figure_without_a_chain_says_why() -> None:
    why = "no option chain within 7 days of the as-of time"
    assert_degraded(gamma_figure(None, spot=None, empty_message=why), why)


def test_gamma_figure_without_open_interest_says_so() -> None:
    fig = gamma_figure(_by_strike(0.0), spot=60_000.0, snapshot_ts=SNAPSHOT)
    assert_degraded(
        fig,
        "the option chain snapshot of 2024-05-24 08:00 UTC holds no open interest: "
        "no gamma exposure to estimate",
    )


def _hit_rates() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "by": ["all", "verdict", "verdict"],
            "group": ["all rallies", "bear_market_rally", "spot_led"],
            "n": [40, 12, 3],
            "fail_rate": [0.25, 0.5, None],
            "fail_lo": [0.15, 0.3, None],
            "fail_hi": [0.35, 0.7, None],
            "fwd_30d_median": [0.02, -0.05, None],
            "fwd_30d_lo": [-0.01, -0.1, None],
            "fwd_30d_hi": [0.05, 0.01, None],
            "note": ["", "", "too few (n=3 < 5)"],
        }
    )


def test_hit_rate_rows_show_intervals_and_too_few() -> None:
    rows = hit_rate_rows(_hit_rates())
    assert rows[0] == [
        "all",
        "all rallies",
        "40",
        "25% [15%, 35%]",
        "+2.0% [-1.0%, +5.0%]",
        "",
    ]
    assert rows[1][1] == "bear market rally"
    assert rows[2][3:] == ["too few", "too few", "too few (n=3 < 5)"]


def test_hit_rates_figure_is_a_table() -> None:
    fig = hit_rates_figure(_hit_rates())
    (table,) = fig.data
    assert table.type == "table"
    assert table.header.values[3].startswith("failed within 90 days")
    assert list(table.cells.values[2]) == ["40", "12", "3"]


def test_hit_rates_figure_without_study_says_so() -> None:
    assert_degraded(hit_rates_figure(None), "event study not run")


def test_reliability_figure_has_diagonal_and_sized_bins() -> None:
    reliability = pl.DataFrame(
        {
            "bin_lo": [0.0, 0.2, 0.4],
            "bin_hi": [0.2, 0.4, 0.6],
            "n": [100, 25, 0],
            "mean_p": [0.1, 0.3, None],
            "observed": [0.12, 0.2, None],
        }
    )
    fig = reliability_figure(
        reliability, scores={"brier": 0.18, "base_brier": 0.2, "n_scored": 125}
    )
    diagonal, bins = fig.data
    assert list(diagonal.x) == [0, 1] and list(diagonal.y) == [0, 1]
    assert list(bins.x) == [0.1, 0.3]  # the empty bin is left out
    assert bins.marker.size[0] > bins.marker.size[1]
    assert list(bins.text) == ["n=100", "n=25"]
    assert "Brier 0.180 vs 0.200 for the base rate (n=125)" in annotation_texts(fig)


@pytest.mark.parametrize("frame", [None, pl.DataFrame({"observed": [None]})])
def test_reliability_figure_without_scores_says_so(frame: pl.DataFrame | None) -> None:
    assert_degraded(
        reliability_figure(frame, empty_message="study not run"), "study not run"
    )
