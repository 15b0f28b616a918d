"""The event table: point in time, every event kept with a status, outcomes apart."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rallylens.exceptions import InsufficientDataError, LookAheadError
from rallylens.rallies import Signal, find_rallies
from rallylens.schemas import ASSET, TS
from rallylens.study import (
    MODEL_FEATURES,
    StudySpec,
    build_events,
    check_point_in_time,
    run_study,
)
from tests.rallies.conftest import random_walk_bars

DAY = timedelta(days=1)
FEATURES = [s.value for s in Signal] + ["verdict", "score_bear_market_rally"]


@pytest.fixture(scope="module")
def two_assets() -> pl.DataFrame:
    return pl.concat(
        [random_walk_bars(11, 900, asset="AAA"), random_walk_bars(12, 900, asset="BBB")]
    )


def test_every_rally_and_checkpoint_is_a_row(two_assets: pl.DataFrame) -> None:
    events = build_events(two_assets)
    rallies = find_rallies(two_assets)
    assert events.height == rallies.height * 4
    assert set(events["event_status"]) <= {
        "ok", "outcome_pending", "ended_before_checkpoint", "checkpoint_in_future"
    }  # fmt: skip
    not_ok = events.filter(pl.col("event_status") != "ok")
    assert not_ok["reason"].null_count() == 0
    # judged rows are decided at the close of confirmation day + checkpoint
    ok = events.filter(pl.col("event_status") == "ok")
    expected = pl.col("confirm_ts") + pl.duration(days=pl.col("checkpoint_days")) + DAY
    assert ok.select((pl.col("decision_ts") == expected).all()).item()
    assert ok["verdict"].null_count() == 0
    # rows that were not judged carry no features and no outcomes
    ended = events.filter(pl.col("event_status") == "ended_before_checkpoint")
    assert ended["gain"].null_count() == ended.height
    assert ended["fwd_failed_90d"].null_count() == ended.height


def test_ended_rallies_are_not_judged_after_their_end(two_assets: pl.DataFrame) -> None:
    events = build_events(two_assets)
    late = events.filter(
        pl.col("end_ts").is_not_null() & (pl.col("decision_day") >= pl.col("end_ts"))
    )
    assert late.height > 0
    assert (late["event_status"] == "ended_before_checkpoint").all()


@settings(max_examples=6, deadline=None)
@given(cut_days=st.integers(200, 880))
def test_future_rows_never_change_a_decided_event(cut_days: int) -> None:
    """Cutting the bars after a time leaves every event decided by then intact
    (features, verdict, and outcomes already settled by then)."""
    bars = random_walk_bars(11, 900, asset="AAA")
    full = build_events(bars)
    cut = bars[TS][0] + cut_days * DAY
    short = build_events(bars.filter(pl.col(TS) < cut))
    decided = full.filter(
        (pl.col("event_status") == "ok") & (pl.col("decision_ts") <= cut)
    )
    keys = ["low_ts", "checkpoint_days"]
    both = decided.select(*keys, *FEATURES).join(
        short.select(*keys, *FEATURES), on=keys, how="left", suffix="_cut"
    )
    assert both.height == decided.height
    for name in FEATURES:
        assert_frame_equal(
            both.select(pl.col(name)),
            both.select(pl.col(f"{name}_cut").alias(name)),
            check_exact=False,
        )


def test_look_ahead_is_refused(two_assets: pl.DataFrame) -> None:
    events = build_events(two_assets)
    check_point_in_time(events)
    tampered = events.with_columns(
        pl.when(pl.col("event_id") == events["event_id"][3])
        .then(pl.col("decision_ts") + DAY)
        .otherwise(pl.col("features_as_of"))
        .alias("features_as_of")
    )
    with pytest.raises(LookAheadError, match="1 events use data from after"):
        check_point_in_time(tampered)


def test_outcome_columns_are_apart_from_features() -> None:
    assert not any(f.startswith("fwd_") for f in MODEL_FEATURES)
    assert not any(s.value.startswith("fwd_") for s in Signal)


def test_study_summary(two_assets: pl.DataFrame) -> None:
    result = run_study(two_assets, StudySpec(bootstrap=200))
    known = result.known()
    first = known.filter(pl.col("checkpoint_days") == 0)
    overall = result.hit_rates.filter(pl.col("by") == "all").row(0, named=True)
    assert overall["n"] == first.height
    assert overall["n_failed"] == first["fwd_failed_90d"].sum()
    assert result.hit_rates.filter(pl.col("by") == "verdict")["n"].sum() == first.height
    # every scored event was known; warm-up + scored = known
    warm = result.dropped.filter(pl.col("reason") == "model_warm_up")["n"][0]
    assert warm + result.predictions.height == known.height
    assert result.scores["n_scored"] == result.predictions.height
    assert result.reliability["n"].sum() == result.predictions.height
    assert any(line.startswith("OI available for") for line in result.coverage)
    assert sorted(result.events[ASSET].unique()) == ["AAA", "BBB"]


def test_no_rally_is_a_clear_error(two_assets: pl.DataFrame) -> None:
    late = two_assets[TS].max()
    with pytest.raises(InsufficientDataError, match="no rally with a low on or after"):
        run_study(two_assets, StudySpec(since=late))
