"""Point-in-time rally detection: volatility-scaled swing lows to swing highs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from rallylens._typing import RallyStatus
from rallylens.exceptions import ConfigError
from rallylens.rallies._regime import RegimeSpec, label_regimes
from rallylens.schemas import (
    AS_OF,
    ASSET,
    CLOSE,
    CONFIRM_TS,
    DECLINE_HIGH,
    DECLINE_HIGH_TS,
    END_TS,
    LOG_RETURN,
    LOW_PRICE,
    LOW_TS,
    PEAK_PRICE,
    PEAK_TS,
    RALLIES,
    RALLY_ID,
    REGIME,
    STATUS,
    THRESHOLD,
    TS,
)

__all__ = ["DetectSpec", "detect_rallies", "move_thresholds"]


@dataclass(frozen=True)
class DetectSpec:
    """How big a swing must be to count, relative to recent volatility.

    Attributes
    ----------
    vol_days : int
        Trailing days of daily log returns whose standard deviation is the
        volatility ``sigma`` (at least half of them must exist).
    threshold_sigmas : float
        A move counts when it exceeds ``threshold_sigmas * sigma``.
    min_move, max_move : float
        Bounds of that threshold as a fraction (so calm years still need a
        ``min_move`` rally and wild ones no more than ``max_move``).
    stall_days : int
        A rally that makes no new closing high for this many days has ended
        (0 turns the rule off).
    """

    vol_days: int = 30
    threshold_sigmas: float = 4.0
    min_move: float = 0.08
    max_move: float = 0.30
    stall_days: int = 14

    def __post_init__(self) -> None:
        if self.vol_days < 2:
            raise ConfigError(f"vol_days must be at least 2, got {self.vol_days}")
        if not 0 < self.min_move <= self.max_move < 1:
            raise ConfigError(
                "need 0 < min_move <= max_move < 1, got "
                f"{self.min_move} and {self.max_move}"
            )
        if self.stall_days < 0:
            raise ConfigError(f"stall_days must be >= 0, got {self.stall_days}")
        if self.threshold_sigmas <= 0:
            raise ConfigError(
                f"threshold_sigmas must be positive, got {self.threshold_sigmas}"
            )


def move_thresholds(daily: pl.DataFrame, spec: DetectSpec) -> pl.Series:
    """Per-day move threshold ``clip(threshold_sigmas * sigma, min_move, max_move)``.

    ``sigma`` is the standard deviation of the ``vol_days`` daily log returns up
    to and including the day; ``max_move`` until enough returns exist.
    """
    sigma = (
        pl.col(LOG_RETURN)
        .rolling_std(spec.vol_days, min_samples=max(2, spec.vol_days // 2))
        .over(ASSET)
    )
    return daily.select(
        (sigma * spec.threshold_sigmas)
        .clip(spec.min_move, spec.max_move)
        .fill_null(spec.max_move)
        .alias(THRESHOLD)
    ).to_series()


def detect_rallies(
    daily: pl.DataFrame,
    spec: DetectSpec | None = None,
    *,
    regime_spec: RegimeSpec | None = None,
) -> pl.DataFrame:
    """Every rally of each asset, as known at the last day of ``daily``.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily bars (schema BARS, e.g. from :func:`rallylens.features.to_daily`),
        sorted by ``asset, ts``; ``high``, ``low``, ``close`` in price units.
    spec : DetectSpec, optional
        Swing threshold parameters.
    regime_spec : RegimeSpec, optional
        Rule for the ``regime`` column (the regime on the rally's low day).

    Returns
    -------
    pl.DataFrame
        Schema :data:`rallylens.schemas.RALLIES`, one row per rally, oldest first.

    Notes
    -----
    A zigzag walked forward one day at a time, so a day's state depends only
    on that day and earlier ones (appending days never changes earlier rows):

    Swings are measured on daily closes (an intraday wick neither starts nor
    ends a rally):

    * Falling leg: track the lowest close ``L`` since the last swing high
      ``H``. A rally is **confirmed** on the first day whose close reaches
      ``L * (1 + threshold)``; its low is ``L`` and the decline it retraces
      runs from ``H`` to ``L``.
    * Rising leg: track the highest close ``P`` since ``L``. The rally
      **ends** on the first day whose close falls to ``P * (1 - threshold)``
      (a close back under ``L`` is such a day too); ``P`` becomes the next
      ``H`` and the falling leg restarts from the lowest close after ``P``.
    * A rally also ends when it **stalls**: ``stall_days`` days without a new
      closing high. The next falling leg then starts on that day (the
      consolidation is the base the next rally is measured from).
    * ``threshold`` is :func:`move_thresholds` of that day.
    * Before the first rally, ``H`` is the highest close so far. After a
      stall the leg may close above the old peak before its low; the
      decline's high is then the highest close of the leg before the low.
    * A rally not yet ended at the last day is ``in_progress``; its peak is
      the highest close so far.
    """
    spec = spec or DetectSpec()
    schema = {c: RALLIES.columns[c] for c in RALLIES.columns}
    if daily.is_empty():
        return pl.DataFrame(schema=schema)
    frame = daily.select(ASSET, TS, CLOSE).with_columns(move_thresholds(daily, spec))
    regimes = label_regimes(daily, regime_spec).select(ASSET, TS, REGIME)
    out = _to_frame(frame, spec.stall_days)
    out = out.join(regimes.rename({TS: LOW_TS}), on=[ASSET, LOW_TS], how="left")
    return out.select(pl.col(c).cast(dtype) for c, dtype in RALLIES.columns.items())


_Row = tuple[int, int, int, int, int, float, float, float, float]
"""low_i, confirm_i, peak_i, end_i (-1 in progress), high_i, low, peak, high, move."""


def _zigzag(close: np.ndarray, theta: np.ndarray, stall_days: int) -> list[_Row]:
    """Walk the closes forward (see :func:`detect_rallies`); one tuple per rally."""
    rows: list[_Row] = []
    rising, first_leg = False, True
    h_i = l_i = p_i = c_i = leg = 0
    h, lo, p, th_c = float(close[0]), float(close[0]), 0.0, 0.0
    for i in range(len(close)):
        x = float(close[i])
        if not rising:
            # a new high resets the first leg unless it confirms a rally off a low
            if first_leg and x > h and (l_i == h_i or x < lo * (1 + theta[i])):
                h, h_i, lo, l_i = x, i, x, i
            elif x < lo:
                lo, l_i = x, i
            if x >= lo * (1 + theta[i]):
                rising, c_i, th_c = True, i, float(theta[i])
                top = leg + int(np.argmax(close[leg : l_i + 1]))
                if close[top] > h:  # after a stall the leg can top the old peak
                    h, h_i = float(close[top]), top
                p_i = l_i + int(np.argmax(close[l_i : i + 1]))
                p = float(close[p_i])
        else:
            if x > p:
                p, p_i = x, i
            reversed_ = x <= p * (1 - theta[i]) or x < lo
            if reversed_ or (stall_days and i - p_i >= stall_days):
                rows.append((l_i, c_i, p_i, i, h_i, lo, p, h, th_c))
                rising, first_leg = False, False
                h, h_i = p, p_i
                start = leg = p_i + 1 if reversed_ else i
                l_i = start + int(np.argmin(close[start : i + 1]))
                lo = float(close[l_i])
    if rising:
        rows.append((l_i, c_i, p_i, -1, h_i, lo, p, h, th_c))
    return rows


def _to_frame(frame: pl.DataFrame, stall_days: int) -> pl.DataFrame:
    """Run the zigzag per asset (rows sorted by asset) and build one frame."""
    close = frame[CLOSE].to_numpy()
    theta = frame[THRESHOLD].to_numpy()
    runs = frame[ASSET].rle()
    lengths = runs.struct.field("len").to_numpy()
    names = runs.struct.field("value").to_list()
    ends = np.cumsum(lengths)
    columns: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    for name, stop, size in zip(names, ends, lengths, strict=True):
        start = int(stop - size)
        rows = _zigzag(close[start:stop], theta[start:stop], stall_days)
        for number, row in enumerate(rows, start=1):
            columns[ASSET].append(name)
            columns[RALLY_ID].append(number)
            for k, col in enumerate(_INDEX_COLUMNS):
                columns[col].append(start + row[k] if row[k] >= 0 else None)
            for k, col in enumerate((LOW_PRICE, PEAK_PRICE, DECLINE_HIGH, THRESHOLD)):
                columns[col].append(row[5 + k])
            columns[STATUS].append(
                (RallyStatus.ENDED if row[3] >= 0 else RallyStatus.IN_PROGRESS).value
            )
            columns[AS_OF].append(int(stop) - 1)
    ts = frame[TS]
    data: dict[str, pl.Series] = {}
    for col, values in columns.items():
        if col in _INDEX_COLUMNS or col == AS_OF:
            data[col] = ts.gather(pl.Series(values, dtype=pl.Int64)).alias(col)
        else:
            data[col] = pl.Series(col, values, dtype=RALLIES.columns[col])
    return pl.DataFrame(data)


_INDEX_COLUMNS = (LOW_TS, CONFIRM_TS, PEAK_TS, END_TS, DECLINE_HIGH_TS)
_COLUMNS = (
    ASSET,
    RALLY_ID,
    *_INDEX_COLUMNS,
    LOW_PRICE,
    PEAK_PRICE,
    DECLINE_HIGH,
    THRESHOLD,
    STATUS,
    AS_OF,
)
