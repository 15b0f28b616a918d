"""Generated frames for the anatomy and verdict tests.

Two kinds of builders:

* :func:`daily_frame` and :func:`rally_frame` make tiny hand-built BARS and
  RALLIES frames for known-answer tests of ``compute_anatomies``;
* :func:`spot_led`, :func:`bear_market_rally` and :func:`leveraged_long` make
  ~400 daily bars (a long history for the baselines, a decline, then a rally in
  progress at the last bar) whose anatomy is dominated by one kind of rally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from rallylens.schemas import (
    AS_OF,
    ASSET,
    BARS,
    CLOSE,
    COINBASE_PREMIUM_RATE,
    CONFIRM_TS,
    DECLINE_HIGH,
    DECLINE_HIGH_TS,
    DVOL,
    END_TS,
    ETF_NET_FLOW_USD,
    FUNDING_APR,
    HIGH,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    LOG_RETURN,
    LOW,
    LOW_PRICE,
    LOW_TS,
    OI_BASE_EST,
    OPEN,
    PANEL_OI_USD,
    PEAK_PRICE,
    PEAK_TS,
    PERP_DELTA_USD,
    PERP_VOLUME,
    PREMIUM_RATE,
    RALLIES,
    RALLY_ID,
    REGIME,
    SPOT_DELTA_USD,
    SPOT_SHARE,
    SPOT_VOLUME,
    STATUS,
    THRESHOLD,
    TS,
    VOLUME,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)

Column = Sequence[float | None] | np.ndarray


def day(i: int) -> datetime:
    """The ``i``-th day after :data:`T0` (00:00 UTC)."""
    return T0 + i * DAY


# --- tiny hand-built frames ----------------------------------------------------


def daily_frame(columns: Mapping[str, Column], *, asset: str = "BTC") -> pl.DataFrame:
    """A BARS frame of daily bars from ``T0``, one row per value of ``close``.

    Columns not given are null, except ``open``/``high``/``low`` (default: the
    close) and ``log_return`` (default: ``ln(close / previous close)``).
    """
    close = np.asarray(columns[CLOSE], dtype=float)
    n = close.size
    data: dict[str, object] = {
        ASSET: [asset] * n,
        TS: [day(i) for i in range(n)],
        OPEN: close,
        HIGH: close,
        LOW: close,
    }
    data[LOG_RETURN] = [None, *np.diff(np.log(close)).tolist()]
    for name, values in columns.items():
        data[name] = list(values)
    return pl.DataFrame(
        {c: data.get(c, [None] * n) for c in BARS.columns}, schema=BARS.columns
    )


def rally_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """A RALLIES frame from rows of day numbers and prices.

    Each row gives ``low``, ``as_of`` and ``high_day`` (day numbers: the low,
    the last day the anatomy may use, the decline's high), ``low_price`` and
    ``decline_high``; optionally ``asset``, ``rally_id`` and ``regime``.
    """
    records = []
    for k, row in enumerate(rows):
        low_i, end_i = int(row["low"]), int(row["as_of"])
        records.append(
            {
                ASSET: row.get("asset", "BTC"),
                RALLY_ID: row.get("rally_id", k + 1),
                LOW_TS: day(low_i),
                LOW_PRICE: row["low_price"],
                CONFIRM_TS: day(end_i),
                PEAK_TS: day(end_i),
                PEAK_PRICE: None,
                END_TS: None,
                DECLINE_HIGH_TS: day(int(row["high_day"])),
                DECLINE_HIGH: row["decline_high"],
                THRESHOLD: 0.08,
                REGIME: row.get("regime", "neutral"),
                STATUS: "in_progress",
                AS_OF: day(end_i),
            }
        )
    return pl.DataFrame(records, schema=RALLIES.columns)


# --- generated scenarios ---------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Generated daily bars plus where the rally was placed."""

    bars: pl.DataFrame
    low_index: int
    """Row of the rally's low (the last day of the decline)."""


@dataclass(frozen=True)
class _Legs:
    """Price path as (days, drift per day, noise) log-return legs."""

    legs: tuple[tuple[int, float, float], ...]

    def closes(self, rng: np.random.Generator, start: float = 100.0) -> np.ndarray:
        parts = [
            drift + noise * rng.standard_normal(n) for n, drift, noise in self.legs
        ]
        returns = np.concatenate(parts)
        return start * np.exp(np.concatenate([[0.0], np.cumsum(returns[1:])]))

    @property
    def size(self) -> int:
        return sum(n for n, _, _ in self.legs)


def _assemble(
    close: np.ndarray, columns: Mapping[str, np.ndarray], rng: np.random.Generator
) -> pl.DataFrame:
    """BARS frame: OHLC around the closes, volumes summed, OI in USD from base."""
    n = close.size
    opens = np.concatenate([[close[0]], close[:-1]])
    wick = 1 + np.abs(rng.normal(0, 0.004, n))
    spot, perp = columns[SPOT_VOLUME], columns[PERP_VOLUME]
    data: dict[str, Column] = {
        CLOSE: close,
        OPEN: opens,
        HIGH: np.maximum(opens, close) * wick,
        LOW: np.minimum(opens, close) / wick,
        VOLUME: spot + perp,
        SPOT_SHARE: spot / (spot + perp),
        **columns,
    }
    if OI_BASE_EST in columns:
        data[PANEL_OI_USD] = columns[OI_BASE_EST] * close
    return daily_frame(data)


def _ramp(n: int, start: float, end: float) -> np.ndarray:
    return np.linspace(start, end, n)


def _noisy(
    rng: np.random.Generator, level: np.ndarray | float, scale: float, n: int
) -> np.ndarray:
    return np.asarray(level, dtype=float) + scale * rng.standard_normal(n)


def spot_led(seed: int = 7) -> Scenario:
    """The issue's seed case: a steady rally in an uptrend carried by spot.

    History: 340 days rising 0.3%/day; a 20-day decline of ~15%; then a 40-day
    rally of ~+30% (past the decline's high) in progress at the last bar.
    Over the rally funding is ~4% APR (vs ~8% before), OI falls ~28% (a bit
    every day), one day liquidates ~$180M (mostly shorts, vs ~$20M/day
    before), spot's share of volume rises from 30% to ~48%, spot takers net
    buy 5% of spot volume while perp takers are flat, the perp premium
    narrows, DVOL drifts up and volume grows into the highs.
    """
    rng = np.random.default_rng(seed)
    hist, dec, ral = 340, 20, 40
    legs = _Legs(((hist, 0.003, 0.008), (dec, -0.008, 0.003), (ral, 0.007, 0.003)))
    close = legs.closes(rng)
    n, low = legs.size, hist + dec - 1
    before, after = low + 1, n - low - 1
    spot = np.concatenate(
        [_noisy(rng, 3000.0, 200.0, before), _ramp(after, 4000.0, 10000.0)]
    )
    perp = np.concatenate(
        [_noisy(rng, 7000.0, 400.0, before), _ramp(after, 7000.0, 8000.0)]
    )
    oi = np.concatenate(
        [_ramp(before, 80_000.0, 100_000.0), _ramp(after, 99_200.0, 72_000.0)]
    )
    liq_short = np.abs(_noisy(rng, 20e6, 6e6, n))
    liq_long = np.abs(_noisy(rng, 25e6, 6e6, n))
    liq_short[low + 2], liq_long[low + 2] = 165e6, 15e6
    columns = {
        SPOT_VOLUME: spot,
        PERP_VOLUME: perp,
        SPOT_DELTA_USD: np.concatenate(
            [_noisy(rng, 0.0, 0.01, before), np.full(after, 0.05)]
        )
        * spot
        * close,
        PERP_DELTA_USD: _noisy(rng, 0.0, 0.005, n) * perp * close,
        FUNDING_APR: np.concatenate(
            [_noisy(rng, 0.08, 0.02, before), _noisy(rng, 0.04, 0.004, after)]
        ),
        OI_BASE_EST: oi,
        LIQ_LONG_USD: liq_long,
        LIQ_SHORT_USD: liq_short,
        PREMIUM_RATE: np.concatenate(
            [_noisy(rng, 5e-4, 2e-4, before), _noisy(rng, 2e-4, 5e-5, after)]
        ),
        DVOL: np.concatenate(
            [_noisy(rng, 0.50, 0.01, before), _ramp(after, 0.52, 0.56)]
        ),
        ETF_NET_FLOW_USD: np.concatenate(
            [_noisy(rng, 0.0, 50e6, before), _noisy(rng, 150e6, 20e6, after)]
        ),
        COINBASE_PREMIUM_RATE: np.concatenate(
            [_noisy(rng, 0.0, 2e-4, before), _noisy(rng, 8e-4, 1e-4, after)]
        ),
    }
    return Scenario(_assemble(close, columns, rng), low)


def bear_market_rally(seed: int = 11) -> Scenario:
    """A short-covering bounce into old support inside a bear market.

    History: 130 days up, 180 days down 0.4%/day (price far below a falling
    200-day average), a +12% bounce that fails; then the decline under study:
    down ~17% to a swing low, a 3% bounce, down ~14% more to the low. The
    rally climbs ~13% back to that broken swing low and stalls there (within
    its tolerance) on thinning volume. Shorts are liquidated (~$250M in a
    day vs ~$20M/day before), OI falls ~25% (a bit every day), DVOL falls
    from 0.9 to 0.65, funding is ~0 and spot takers are net sellers.
    """
    rng = np.random.default_rng(seed)
    legs = _Legs(
        (
            (130, 0.004, 0.008),
            (180, -0.004, 0.006),
            (20, 0.006, 0.002),
            (15, -0.012, 0.002),
            (5, 0.006, 0.001),
            (15, -0.010, 0.001),
            (14, 0.12 / 14, 0.001),
            (6, -0.001, 0.001),
        )
    )
    close = legs.closes(rng)
    n = legs.size
    low = n - 20 - 1
    before, after = low + 1, n - low - 1
    spot = _noisy(rng, 3000.0, 150.0, n)
    perp = np.concatenate(
        [_noisy(rng, 7000.0, 300.0, before), _ramp(after, 22000.0, 4000.0)]
    )
    spot[before:] = perp[before:] * 3 / 7
    oi = np.concatenate(
        [_ramp(before, 120_000.0, 100_000.0), _ramp(after, 99_000.0, 75_000.0)]
    )
    liq_short = np.abs(_noisy(rng, 20e6, 6e6, n))
    liq_short[low + 1] = 250e6
    dvol = np.concatenate(
        [
            _noisy(rng, 0.60, 0.01, before - 15),
            _ramp(15, 0.65, 0.90),
            _ramp(after, 0.88, 0.65),
        ]
    )
    columns = {
        SPOT_VOLUME: spot,
        PERP_VOLUME: perp,
        SPOT_DELTA_USD: np.concatenate(
            [_noisy(rng, 0.0, 0.01, before), np.full(after, -0.02)]
        )
        * spot
        * close,
        PERP_DELTA_USD: np.concatenate(
            [_noisy(rng, 0.0, 0.01, before), np.full(after, 0.01)]
        )
        * perp
        * close,
        FUNDING_APR: np.concatenate(
            [_noisy(rng, 0.02, 0.01, before), _noisy(rng, 0.0, 0.003, after)]
        ),
        OI_BASE_EST: oi,
        LIQ_LONG_USD: np.abs(_noisy(rng, 25e6, 6e6, n)),
        LIQ_SHORT_USD: liq_short,
        PREMIUM_RATE: np.concatenate(
            [_noisy(rng, 3e-4, 1e-4, before), _noisy(rng, 1e-4, 5e-5, after)]
        ),
        DVOL: dvol,
    }
    return Scenario(_assemble(close, columns, rng), low)


def leveraged_long(seed: int = 3) -> Scenario:
    """A rally driven by perps and fresh leverage.

    Same uptrend history and decline as :func:`spot_led`; over the rally OI
    rises 25% (a bit every day), funding climbs from 10% to 40% APR (vs ~8%
    ± 2% before: z far above 3), the perp premium widens from ~5 bp to
    40 bp, perp takers net buy 8% of perp volume while spot takers are flat,
    and spot's share of volume falls from 30% to ~20%.
    """
    rng = np.random.default_rng(seed)
    hist, dec, ral = 340, 20, 40
    legs = _Legs(((hist, 0.003, 0.008), (dec, -0.008, 0.003), (ral, 0.007, 0.003)))
    close = legs.closes(rng)
    n, low = legs.size, hist + dec - 1
    before, after = low + 1, n - low - 1
    spot = np.concatenate(
        [_noisy(rng, 3000.0, 200.0, before), _ramp(after, 2800.0, 2600.0)]
    )
    perp = np.concatenate(
        [_noisy(rng, 7000.0, 400.0, before), _ramp(after, 8000.0, 12000.0)]
    )
    columns = {
        SPOT_VOLUME: spot,
        PERP_VOLUME: perp,
        SPOT_DELTA_USD: _noisy(rng, 0.0, 0.005, n) * spot * close,
        PERP_DELTA_USD: np.concatenate(
            [_noisy(rng, 0.0, 0.01, before), np.full(after, 0.08)]
        )
        * perp
        * close,
        FUNDING_APR: np.concatenate(
            [_noisy(rng, 0.08, 0.02, before), _ramp(after, 0.10, 0.40)]
        ),
        OI_BASE_EST: np.concatenate(
            [_ramp(before, 90_000.0, 80_000.0), _ramp(after, 80_500.0, 100_000.0)]
        ),
        LIQ_LONG_USD: np.abs(_noisy(rng, 25e6, 6e6, n)),
        LIQ_SHORT_USD: np.abs(_noisy(rng, 20e6, 6e6, n)),
        PREMIUM_RATE: np.concatenate(
            [_noisy(rng, 5e-4, 2e-4, before), _ramp(after, 6e-4, 4e-3)]
        ),
        DVOL: np.concatenate(
            [_noisy(rng, 0.50, 0.01, before), _ramp(after, 0.52, 0.60)]
        ),
    }
    return Scenario(_assemble(close, columns, rng), low)


def without(bars: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``bars`` with ``columns`` set to null (a source missing from the store)."""
    return bars.with_columns(pl.lit(None, pl.Float64).alias(c) for c in columns)
