"""Synthetic BARS frames built in code, and the real BTC daily bars (session)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rallylens.features import prepare_bars
from rallylens.schemas import ASSET, BARS, CLOSE, HIGH, LOG_RETURN, LOW, OPEN, TS
from rallylens.store import Store, load_panel

T0 = datetime(2020, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)

Column = Sequence[float | None] | float | None


def make_bars(
    closes: Sequence[float],
    *,
    asset: str = "BTC",
    start: datetime = T0,
    step: timedelta = DAY,
    **columns: Column,
) -> pl.DataFrame:
    """A BARS frame of ``len(closes)`` bars, one every ``step`` from ``start``.

    ``open``, ``high`` and ``low`` default to the close (so the drawdown high
    is the highest close); ``log_return`` is ln(close / previous close), null
    on the first bar. Any other BARS column is given as a list (one value per
    bar) or a scalar (repeated) and is null when not given.
    """
    n = len(closes)
    unknown = set(columns) - set(BARS.columns)
    if unknown:
        raise KeyError(f"not BARS columns: {sorted(unknown)}")
    close = np.asarray(closes, dtype=float)
    data: dict[str, object] = {
        ASSET: [asset] * n,
        TS: [start + i * step for i in range(n)],
        OPEN: list(close),
        HIGH: list(close),
        LOW: list(close),
        CLOSE: list(close),
        LOG_RETURN: [None, *np.log(close[1:] / close[:-1])] if n else [],
    }
    for name, value in columns.items():
        if isinstance(value, Sequence):
            if len(value) != n:
                raise ValueError(f"{name}: {len(value)} values for {n} bars")
            data[name] = list(value)
        else:
            data[name] = [value] * n
    return pl.DataFrame(
        {c: data.get(c, [None] * n) for c in BARS.columns}, schema=BARS.columns
    )


def random_walk_bars(
    seed: int,
    days: int,
    *,
    asset: str = "BTC",
    sigma: float = 0.035,
    start: datetime = T0,
) -> pl.DataFrame:
    """Daily random-walk bars with every flow and level column filled.

    Returns are Student-t-like (normal with a random scale) around a slowly
    switching drift, so rallies and declines of several thresholds appear.
    Funding starts after a random number of days and a few values of each
    flow column are null, as in real panels.
    """
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.normal(0, 0.006, days // 40 + 1), 40)[:days]
    returns = drift + sigma * rng.normal(size=days) * rng.choice([0.5, 1, 2], days)
    close = 1000.0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0, sigma / 2, (2, days)))
    volume = rng.lognormal(8, 0.4, days)
    spot_share = rng.uniform(0.2, 0.6, days)
    oi_base = 5e4 * np.exp(np.cumsum(rng.normal(0, 0.03, days)))

    def holes(values: np.ndarray, frac: float = 0.05) -> list[float | None]:
        mask = rng.random(days) < frac
        return [None if m else float(v) for v, m in zip(values, mask, strict=True)]

    funding_from = int(rng.integers(0, days // 2 + 1))
    funding = rng.normal(0.08, 0.1, days)
    return make_bars(
        list(close),
        asset=asset,
        start=start,
        open=list(open_),
        high=list(np.maximum(open_, close) * np.exp(wick[0])),
        low=list(np.minimum(open_, close) * np.exp(-wick[1])),
        volume=list(volume),
        spot_volume=list(volume * spot_share),
        perp_volume=list(volume * (1 - spot_share)),
        spot_share=list(spot_share),
        spot_delta_usd=holes(rng.normal(0, 1e6, days)),
        perp_delta_usd=holes(rng.normal(0, 3e6, days)),
        premium_rate=holes(rng.normal(0, 5e-4, days)),
        funding_apr=[None] * funding_from + list(funding[funding_from:]),
        oi_usd=list(oi_base * close),
        oi_base_est=list(oi_base),
        liq_long_usd=holes(rng.lognormal(13, 1, days)),
        liq_short_usd=holes(rng.lognormal(13, 1, days)),
    )


@pytest.fixture(scope="session")
def real_store(real_store_path: Path) -> Iterator[Store]:
    """The real data set's store (see ``real_store_path``), opened read-only."""
    with Store(real_store_path, read_only=True) as store:
        yield store


@pytest.fixture(scope="session")
def real_btc_daily(real_store: Store) -> pl.DataFrame:
    """BTC daily BARS from the real data set."""
    return prepare_bars(load_panel(real_store, "BTC", "1d").frame, "BTC")
