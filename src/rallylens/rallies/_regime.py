"""Daily market regime (bear / neutral / bull) from price alone."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rallylens._typing import Regime
from rallylens.exceptions import ConfigError
from rallylens.schemas import ASSET, CLOSE, HIGH, REGIME, TS

__all__ = ["RegimeSpec", "label_regimes"]

DRAWDOWN = "drawdown"
MA = "ma"
MA_SLOPE = "ma_slope"


@dataclass(frozen=True)
class RegimeSpec:
    """The regime rule; every day is labelled from its own and earlier closes.

    Attributes
    ----------
    high_window_days : int
        Trailing window of the high that drawdown is measured from.
    ma_days : int
        Length of the simple moving average of closes.
    slope_days : int
        The average's slope is its change over this many days.
    bear_drawdown : float
        Drawdown (negative fraction) at or below which a day can be bear.
    """

    high_window_days: int = 365
    ma_days: int = 200
    slope_days: int = 20
    bear_drawdown: float = -0.20

    def __post_init__(self) -> None:
        if min(self.high_window_days, self.ma_days, self.slope_days) <= 0:
            raise ConfigError(f"regime windows must be positive days, got {self}")
        if not -1 < self.bear_drawdown < 0:
            raise ConfigError(
                f"bear_drawdown must be a negative fraction, got {self.bear_drawdown}"
            )


def label_regimes(daily: pl.DataFrame, spec: RegimeSpec | None = None) -> pl.DataFrame:
    """Label each day bear, neutral or bull.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily bars (schema BARS): ``asset, ts, high, close``, sorted by
        ``asset, ts``, one row per day.
    spec : RegimeSpec, optional
        The rule's parameters (defaults documented there).

    Returns
    -------
    pl.DataFrame
        ``asset, ts, drawdown, ma, ma_slope, regime``.

    Notes
    -----
    With ``dd = close / max(high over the trailing high_window_days) - 1``,
    ``ma`` the ``ma_days`` simple average of closes and
    ``slope = ma_t / ma_{t - slope_days} - 1``:

    * **bear** when ``dd <= bear_drawdown`` and (``close < ma`` or
      ``slope < 0``): deep below the year's high and below a falling trend;
    * **bull** when ``close > ma``, ``slope > 0`` and ``dd > bear_drawdown``;
    * **neutral** otherwise. Before ``ma_days`` of history only the drawdown
      test applies (bear or neutral).

    Windows count rows, so the input must have one row per day.
    """
    spec = spec or RegimeSpec()
    close = pl.col(CLOSE)
    frame = daily.select(
        ASSET,
        TS,
        (
            close
            / pl.col(HIGH).rolling_max(spec.high_window_days, min_samples=1).over(ASSET)
            - 1
        ).alias(DRAWDOWN),
        close.rolling_mean(spec.ma_days).over(ASSET).alias(MA),
        close,
    ).with_columns(
        (pl.col(MA) / pl.col(MA).shift(spec.slope_days).over(ASSET) - 1).alias(MA_SLOPE)
    )
    deep = pl.col(DRAWDOWN) <= spec.bear_drawdown
    below = (close < pl.col(MA)) | (pl.col(MA_SLOPE) < 0)
    no_ma = pl.col(MA).is_null() | pl.col(MA_SLOPE).is_null()
    regime = (
        pl.when(deep & (below | no_ma))
        .then(pl.lit(Regime.BEAR.value))
        .when(~no_ma & (close > pl.col(MA)) & (pl.col(MA_SLOPE) > 0) & ~deep)
        .then(pl.lit(Regime.BULL.value))
        .otherwise(pl.lit(Regime.NEUTRAL.value))
    )
    return frame.with_columns(regime.alias(REGIME)).drop(CLOSE)
