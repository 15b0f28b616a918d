"""Outcome labels on hand-built price paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from rallylens.schemas import ASSET, CLOSE, TS
from rallylens.study import label_outcomes

T0 = datetime(2021, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def daily(closes: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            ASSET: ["X"] * len(closes),
            TS: [T0 + i * DAY for i in range(len(closes))],
            CLOSE: closes,
        }
    )


def event(decision: int, low: float, peak: float, close: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [0],
            ASSET: ["X"],
            "decision_day": [T0 + decision * DAY],
            "close_at_decision": [close],
            "low_price": [low],
            "peak_at_decision": [peak],
        }
    )


def labels(closes: list[float], **kw: float) -> dict[str, object]:
    out = label_outcomes(daily(closes), event(**kw))  # type: ignore[arg-type]
    return out.row(0, named=True)


def test_failed_path() -> None:
    # decided on day 0 at 110 (low 100, peak 112); day 5 closes at 99
    closes = [110.0, 108, 105, 104, 101, 99] + [95.0] * 200
    row = labels(closes, decision=0, low=100, peak=112, close=110)
    assert row["fwd_failed_30d"] is True
    assert row["fwd_failed_90d"] is True
    assert row["fwd_days_to_failure"] == 5
    assert row["fwd_ret_7d"] == pytest.approx(95 / 110 - 1)
    assert row["fwd_max_drawdown_90d"] == pytest.approx(95 / 110 - 1)
    assert row["fwd_peak_exceeded_90d"] is False


def test_held_path_exceeds_the_peak_first() -> None:
    # a new high on day 3, then a collapse below the low on day 10: held
    closes = [110.0, 111, 111, 113] + [105.0] * 6 + [90.0] * 200
    row = labels(closes, decision=0, low=100, peak=112, close=110)
    assert row["fwd_failed_30d"] is False
    assert row["fwd_failed_180d"] is False
    assert row["fwd_days_to_failure"] is None
    assert row["fwd_peak_exceeded_90d"] is True
    assert row["fwd_ret_30d"] == pytest.approx(90 / 110 - 1)


def test_not_yet_known_then_settled_by_a_new_high() -> None:
    # 20 days of data, never below the low nor above the peak: nothing settled
    flat = [110.0] * 21
    row = labels(flat, decision=0, low=100, peak=112, close=110)
    assert row["fwd_failed_30d"] is None
    assert row["fwd_failed_90d"] is None
    assert row["fwd_ret_7d"] == pytest.approx(0.0)
    assert row["fwd_ret_30d"] is None
    assert row["fwd_max_drawdown_90d"] is None
    assert row["fwd_days_known"] == 20
    # a new high on day 20 settles every horizon as "held", early
    row = labels([*flat[:-1], 115.0], decision=0, low=100, peak=112, close=110)
    assert row["fwd_failed_90d"] is False
    assert row["fwd_failed_180d"] is False
    assert row["fwd_peak_exceeded_90d"] is True


def test_failure_after_the_horizon_is_not_a_failure_within_it() -> None:
    closes = [110.0] * 45 + [99.0] * 200
    row = labels(closes, decision=0, low=100, peak=112, close=110)
    assert row["fwd_failed_30d"] is False
    assert row["fwd_failed_90d"] is True
    assert row["fwd_days_to_failure"] == 45


def test_prices_on_or_before_the_decision_day_are_not_read() -> None:
    # the close below the low sits on the decision day itself (day 2)
    closes = [110.0, 105, 99, 104] + [105.0] * 200
    row = labels(closes, decision=2, low=100, peak=112, close=99)
    assert row["fwd_failed_90d"] is False
    assert row["fwd_ret_7d"] == pytest.approx(105 / 99 - 1)
