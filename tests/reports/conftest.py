"""Hand-built frames for the report figures: a decline, then a rally."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import pytest

from rallylens.schemas import (
    ASSET,
    BARS,
    CLOSE,
    DECLINE_HIGH,
    DECLINE_HIGH_TS,
    END_TS,
    HIGH,
    LOW,
    LOW_PRICE,
    LOW_TS,
    OPEN,
    PEAK_PRICE,
    PEAK_TS,
    STATUS,
    TS,
    VOLUME,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HIGH_DAY, LOW_DAY, N_DAYS = 40, 120, 160
AS_OF = START + N_DAYS * DAY


def day(i: int) -> datetime:
    return START + i * DAY


def _close(i: int) -> float:
    """Up to 100 on day 40, down to 60 on day 120 with bounces, then up."""
    if i <= HIGH_DAY:
        base = 80 + 20 * i / HIGH_DAY
    elif i <= LOW_DAY:
        base = 100 - 40 * (i - HIGH_DAY) / (LOW_DAY - HIGH_DAY)
        base += 3 * math.sin((i - HIGH_DAY) / 5) if i < LOW_DAY - 5 else 0
    else:
        base = 60 + 20 * (i - LOW_DAY) / (N_DAYS - LOW_DAY)
    return round(base, 6)


def make_daily(n: int = N_DAYS, **columns: list[Any]) -> pl.DataFrame:
    """Daily BARS rows: prices from :func:`_close`, volume 10, other columns null.

    Keyword arguments replace whole columns (lists of length ``n``).
    """
    closes = [_close(i) for i in range(n)]
    data: dict[str, list[Any]] = {c: [None] * n for c in BARS.columns}
    data.update(
        {
            ASSET: ["BTC"] * n,
            TS: [day(i) for i in range(n)],
            OPEN: [closes[max(i - 1, 0)] for i in range(n)],
            HIGH: [c * 1.01 for c in closes],
            LOW: [c * 0.99 for c in closes],
            CLOSE: closes,
            VOLUME: [10.0] * n,
        }
    )
    data.update(columns)
    return pl.DataFrame(data, schema=dict(BARS.columns))


@pytest.fixture
def daily() -> pl.DataFrame:
    return make_daily()


@pytest.fixture
def rally() -> dict[str, Any]:
    return {
        LOW_TS: day(LOW_DAY),
        LOW_PRICE: _close(LOW_DAY),
        DECLINE_HIGH_TS: day(HIGH_DAY),
        DECLINE_HIGH: _close(HIGH_DAY),
        PEAK_TS: day(N_DAYS - 1),
        PEAK_PRICE: _close(N_DAYS - 1),
        END_TS: None,
        STATUS: "in_progress",
    }


@pytest.fixture
def levels() -> dict[str, float | None]:
    return {
        "resistance_above": None,
        "vwap_decline_high": 80.0,
        "vwap_rally_low": 70.0,
        "invalidation_below": _close(LOW_DAY),
    }


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def assert_degraded(fig: go.Figure, message: str) -> None:
    """The figure is an empty panel whose only annotation says ``message``."""
    assert len(fig.data) == 0
    assert annotation_texts(fig) == [message]
    assert fig.layout.xaxis.visible is False
    assert fig.layout.yaxis.visible is False


def trace_names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of generated BTC data (400 days, with option chains)."""
    from rallylens.datasets import build_synthetic_store

    path = tmp_path_factory.mktemp("synthetic") / "synthetic.duckdb"
    return build_synthetic_store(path, assets=["BTC"], days=400)
