"""Anatomy of rallies: every signal from the rally's low to its as-of day.

All functions here are pure and vectorised over assets and rallies: one
Polars pass labels each bar with the rally whose window holds it, then
group-by aggregations compute each signal. A rally's window is
``[low day, as-of day]``; nothing after the as-of day is read, and trailing
baselines (funding, liquidations, spot share, premium) use only days before
the low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from rallylens._typing import Regime
from rallylens.exceptions import ConfigError
from rallylens.rallies._positioning import option_aggregations, option_finish
from rallylens.rallies._signals import Signal
from rallylens.schemas import (
    AS_OF,
    ASSET,
    CLOSE,
    COINBASE_PREMIUM_RATE,
    DECLINE_HIGH,
    DECLINE_HIGH_TS,
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
    PANEL_OI_USD,
    PERP_DELTA_USD,
    PERP_VOLUME,
    PREMIUM_RATE,
    RALLY_ID,
    REGIME,
    SPOT_DELTA_USD,
    SPOT_VOLUME,
    TS,
    VOLUME,
)

__all__ = ["FIB_LEVELS", "AnatomySpec", "compute_anatomies"]

FIB_LEVELS = (0.382, 0.5, 0.618, 0.786)
"""Fibonacci retracement levels of the prior decline."""

_DAY = timedelta(days=1)
_END = "__end"
_D_OI = "__d_oi"
_AFTER_LOW = "__after_low"
_K = "__k"


@dataclass(frozen=True)
class AnatomySpec:
    """Windows and tolerances of the anatomy (documented defaults).

    Attributes
    ----------
    baseline_days : int
        Days before the low whose funding and liquidations form the baseline
        of the z-scores.
    prior_days : int
        Days before the low that spot share and premium are compared with.
    start_days : int
        The rally's "start": its first days, for short liquidations.
    fractal_days : int
        A swing low is a close lower than the ``fractal_days`` closes on each
        side (confirmed ``fractal_days`` later).
    level_lookback_days : int
        Swing lows formed this long before the decline's high still count as
        support that the decline broke.
    level_tolerance : float
        A peak within this fraction of a level has tested it.
    profile_bins : int
        Price bins of the decline's volume profile.
    hvn_factor : float
        A bin holding at least this multiple of the mean bin volume is a
        high-volume node.
    top_range : float
        "At the highs" means closes above this fraction of the rally's range.
    spike_z : float
        Funding z-score counted as a spike.
    rv_days : int
        Window of the realised volatility compared at the low and now.
    wall_band : float
        Distance from the call wall (fraction of price) within which a rally
        with dealers long gamma counts as pinned (see ``call_wall_pin``).
    """

    baseline_days: int = 90
    prior_days: int = 28
    start_days: int = 3
    fractal_days: int = 3
    level_lookback_days: int = 180
    level_tolerance: float = 0.015
    profile_bins: int = 20
    hvn_factor: float = 1.25
    top_range: float = 0.8
    spike_z: float = 2.0
    rv_days: int = 14
    wall_band: float = 0.05

    def __post_init__(self) -> None:
        days = (
            self.baseline_days,
            self.prior_days,
            self.start_days,
            self.fractal_days,
            self.rv_days,
            self.profile_bins,
        )
        if min(days) < 1:
            raise ConfigError(f"anatomy windows must be positive, got {self}")
        if not 0 < self.wall_band < 1:
            raise ConfigError(
                f"wall_band must be a fraction in (0, 1), got {self.wall_band}"
            )
        if not 0 < self.top_range < 1:
            raise ConfigError(f"top_range must be in (0, 1), got {self.top_range}")


def compute_anatomies(
    bars: pl.DataFrame,
    daily: pl.DataFrame,
    rallies: pl.DataFrame,
    spec: AnatomySpec | None = None,
) -> pl.DataFrame:
    """Every anatomy signal of each rally, as of its ``as_of`` day.

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS at the analysis timeframe (1h, 4h or 1d), sorted by
        ``asset, ts``; used for per-bar signals (realised volatility, short
        covering, CVD, volume at the highs).
    daily : pl.DataFrame
        Schema BARS, daily (``features.to_daily(bars)``), sorted.
    rallies : pl.DataFrame
        Rows of schema RALLIES; column ``as_of`` is the last day each anatomy
        may use (the peak day of an ended rally, the last day otherwise).
        Windows of one asset must not overlap.
    spec : AnatomySpec, optional
        Windows and tolerances.

    Returns
    -------
    pl.DataFrame
        ``asset, rally_id`` plus one column per :class:`Signal` (null where the
        inputs are missing, and z-scores null when their baseline has no
        spread), one row per rally.
    """
    spec = spec or AnatomySpec()
    windows = rallies.select(
        ASSET,
        RALLY_ID,
        LOW_TS,
        LOW_PRICE,
        DECLINE_HIGH_TS,
        DECLINE_HIGH,
        pl.col(AS_OF).dt.truncate("1d").alias(_END),
    ).sort(ASSET, LOW_TS)
    keys = windows.select(ASSET, RALLY_ID)
    if windows.is_empty():
        return _empty()
    day = _daily_signals(daily, windows, spec)
    bar = _bar_signals(bars, windows, spec)
    levels = _level_signals(daily, windows, day, spec)
    out = keys.join(day, on=[ASSET, RALLY_ID], how="left")
    out = out.join(bar, on=[ASSET, RALLY_ID], how="left")
    out = out.join(levels, on=[ASSET, RALLY_ID], how="left")
    out = out.join(rallies.select(ASSET, RALLY_ID, REGIME), on=[ASSET, RALLY_ID])
    out = out.with_columns(
        pl.col(REGIME)
        .replace_strict(_REGIME_LEVEL, default=None, return_dtype=pl.Float64)
        .alias(Signal.REGIME_LEVEL),
        _at_resistance().alias(Signal.AT_RESISTANCE),
    )
    return out.select(
        ASSET,
        RALLY_ID,
        *(pl.col(s.value).cast(pl.Float64) for s in Signal),
    )


_REGIME_LEVEL = {
    Regime.BEAR.value: -1.0,
    Regime.NEUTRAL.value: 0.0,
    Regime.BULL.value: 1.0,
}


def _at_resistance() -> pl.Expr:
    """1 when the peak met resistance: a tested level, the 38.2-78.6% zone or VWAP."""
    retraced = pl.col(Signal.MAX_RETRACED)
    fib_zone = (retraced >= FIB_LEVELS[0]) & (retraced <= FIB_LEVELS[-1] + 0.05)
    near_vwap = pl.col(Signal.VS_VWAP_DECLINE).is_between(-0.03, 0.01)
    hit = (pl.col(Signal.RESISTANCE_TESTED) > 0) | fib_zone | near_vwap
    return hit.fill_null(False).cast(pl.Float64)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={ASSET: pl.String, RALLY_ID: pl.Int64}
        | {s.value: pl.Float64 for s in Signal}
    )


def _label(frame: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """Attach each row to the rally whose ``[low day, as-of day]`` holds it."""
    labelled = frame.join_asof(
        windows.select(ASSET, LOW_TS, RALLY_ID, _END, LOW_PRICE, DECLINE_HIGH),
        left_on=TS,
        right_on=LOW_TS,
        by=ASSET,
        strategy="backward",
        check_sortedness=False,
    )
    return labelled.filter(
        pl.col(RALLY_ID).is_not_null() & (pl.col(TS) < pl.col(_END) + _DAY)
    ).with_columns((pl.col(TS) >= pl.col(LOW_TS) + _DAY).alias(_AFTER_LOW))


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den != 0).then(num / den)


def _change(col: str) -> pl.Expr:
    """Last non-null value / first non-null value - 1 within the group."""
    values = pl.col(col).drop_nulls()
    return _ratio(values.last(), values.first()) - 1


def _baselines(daily: pl.DataFrame, spec: AnatomySpec) -> pl.DataFrame:
    """Per day: statistics of the days strictly before it."""
    liq_short = pl.col(LIQ_SHORT_USD)
    n, m = spec.baseline_days, spec.prior_days
    prior = {
        "__f_mean": pl.col(FUNDING_APR).rolling_mean(n, min_samples=n // 3),
        "__f_std": pl.col(FUNDING_APR).rolling_std(n, min_samples=n // 3),
        "__l_mean": liq_short.rolling_mean(n, min_samples=n // 3),
        "__l_std": liq_short.rolling_std(n, min_samples=n // 3),
        "__spot_vol": _both(SPOT_VOLUME, PERP_VOLUME).rolling_sum(
            m, min_samples=m // 2
        ),
        "__perp_vol": _both(PERP_VOLUME, SPOT_VOLUME).rolling_sum(
            m, min_samples=m // 2
        ),
        "__prem": pl.col(PREMIUM_RATE).rolling_mean(m, min_samples=m // 2),
    }
    rv = pl.col(LOG_RETURN).rolling_std(spec.rv_days, min_samples=spec.rv_days // 2)
    return daily.select(
        ASSET,
        TS,
        *(expr.shift(1).over(ASSET).alias(name) for name, expr in prior.items()),
        (rv.over(ASSET) * math.sqrt(365)).alias("__rv"),
    )


def _both(col: str, other: str) -> pl.Expr:
    """``col`` where ``other`` exists too (null otherwise)."""
    return pl.when(pl.col(other).is_not_null()).then(pl.col(col))


def _daily_signals(
    daily: pl.DataFrame, windows: pl.DataFrame, spec: AnatomySpec
) -> pl.DataFrame:
    base = _baselines(daily, spec)
    at_low = windows.join(
        base.rename({TS: LOW_TS}), on=[ASSET, LOW_TS], how="left"
    ).select(ASSET, RALLY_ID, pl.exclude(ASSET, RALLY_ID, *windows.columns))
    lab = _label(daily, windows).join(at_low, on=[ASSET, RALLY_ID], how="left")
    lab = lab.join(
        base.select(ASSET, TS, pl.col("__rv").alias("__rv_now")), on=[ASSET, TS]
    )
    lab = lab.with_columns(
        _ratio(pl.col(FUNDING_APR) - pl.col("__f_mean"), pl.col("__f_std")).alias(
            "__f_z"
        ),
        pl.int_range(pl.len()).over(ASSET, RALLY_ID).alias(_K),
        (pl.col(LIQ_LONG_USD).fill_null(0) + pl.col(LIQ_SHORT_USD).fill_null(0)).alias(
            "__liq_day"
        ),
    )
    close = pl.col(CLOSE)
    end_close, peak = close.last(), close.max()
    decline = pl.col(DECLINE_HIGH).first() - pl.col(LOW_PRICE).first()
    start = pl.col(TS) < pl.col(LOW_TS) + spec.start_days * _DAY
    has_liq = pl.col(LIQ_SHORT_USD).is_not_null().any()
    funding = pl.col(FUNDING_APR)
    half = pl.col(_K) < (pl.len() + 1) // 2
    agg = lab.group_by(ASSET, RALLY_ID).agg(
        (end_close / pl.col(LOW_PRICE).first() - 1).alias(Signal.GAIN),
        (peak / pl.col(LOW_PRICE).first() - 1).alias(Signal.MAX_GAIN),
        (end_close / peak - 1).alias(Signal.OFF_PEAK),
        ((pl.col(_END).first() - pl.col(LOW_TS).first()).dt.total_days()).alias(
            Signal.DURATION_DAYS
        ),
        _ratio(end_close - pl.col(LOW_PRICE).first(), decline).alias(Signal.RETRACED),
        _ratio(peak - pl.col(LOW_PRICE).first(), decline).alias(Signal.MAX_RETRACED),
        pl.col(LOW_PRICE).first().alias(Signal.INVALIDATION),
        end_close.alias("__close"),
        peak.alias("__peak"),
        _change(OI_BASE_EST).alias(Signal.OI_CHANGE),
        _change(PANEL_OI_USD).alias(Signal.OI_USD_CHANGE),
        pl.when(has_liq).then(pl.col(LIQ_LONG_USD).sum()).alias(Signal.LIQ_LONG_USD),
        pl.when(has_liq).then(pl.col(LIQ_SHORT_USD).sum()).alias(Signal.LIQ_SHORT_USD),
        pl.when(has_liq)
        .then(pl.col(LIQ_SHORT_USD).filter(start).sum())
        .alias(Signal.LIQ_START_SHORT_USD),
        pl.when(has_liq).then(pl.col("__liq_day").max()).alias(Signal.LIQ_MAX_DAY_USD),
        _ratio(
            pl.col(LIQ_SHORT_USD).max() - pl.col("__l_mean").first(),
            pl.col("__l_std").first(),
        ).alias(Signal.LIQ_SHORT_Z),
        funding.mean().alias(Signal.FUNDING_MEAN),
        funding.drop_nulls().last().alias(Signal.FUNDING_LAST),
        funding.filter(half).mean().alias(Signal.FUNDING_FIRST_HALF),
        pl.col("__f_z").drop_nulls().last().alias(Signal.FUNDING_Z),
        pl.when(pl.col("__f_z").is_not_null().any())
        .then((pl.col("__f_z") > spec.spike_z).sum())
        .alias(Signal.FUNDING_SPIKE_DAYS),
        _share(SPOT_VOLUME, PERP_VOLUME).alias(Signal.SPOT_SHARE),
        _ratio(
            pl.col("__spot_vol").first(),
            pl.col("__spot_vol").first() + pl.col("__perp_vol").first(),
        ).alias("__share_prior"),
        pl.col(PREMIUM_RATE).drop_nulls().last().alias(Signal.PREMIUM),
        pl.col("__prem").first().alias("__prem_prior"),
        *option_aggregations(spec.start_days),
        (
            pl.col("__rv_now").drop_nulls().last()
            / pl.col("__rv_now").drop_nulls().first()
            - 1
        ).alias(Signal.RV_CHANGE),
        _sum_if_any(ETF_NET_FLOW_USD).alias(Signal.ETF_FLOW_USD),
        pl.col(COINBASE_PREMIUM_RATE).mean().alias(Signal.COINBASE_PREMIUM),
    )
    return agg.with_columns(
        (pl.col(Signal.GAIN) + 1)
        .log()
        .truediv(pl.col(Signal.DURATION_DAYS).clip(1))
        .alias(Signal.SPEED),
        _fib_level(pl.col(Signal.MAX_RETRACED)).alias(Signal.FIB_LEVEL),
        _ratio(
            pl.col(Signal.LIQ_SHORT_USD),
            pl.col(Signal.LIQ_SHORT_USD) + pl.col(Signal.LIQ_LONG_USD),
        ).alias(Signal.LIQ_SHORT_SHARE),
        (pl.col(Signal.SPOT_SHARE) - pl.col("__share_prior")).alias(
            Signal.SPOT_SHARE_CHANGE
        ),
        (pl.col(Signal.PREMIUM) - pl.col("__prem_prior")).alias(Signal.PREMIUM_CHANGE),
        option_finish(spec.wall_band),
    ).drop("__share_prior", "__prem_prior")


def _share(part: str, other: str) -> pl.Expr:
    """Part / (part + other) summed over the rows where both exist."""
    both = pl.col(part).is_not_null() & pl.col(other).is_not_null()
    a, b = pl.col(part).filter(both).sum(), pl.col(other).filter(both).sum()
    return pl.when(both.any()).then(_ratio(a, a + b))


def _fib_level(retraced: pl.Expr) -> pl.Expr:
    expr: pl.Expr = pl.lit(None, pl.Float64)
    for level in FIB_LEVELS:
        expr = pl.when(retraced >= level).then(pl.lit(level)).otherwise(expr)
    return pl.when(retraced.is_not_null()).then(expr.fill_null(0.0))


def _bar_signals(
    bars: pl.DataFrame, windows: pl.DataFrame, spec: AnatomySpec
) -> pl.DataFrame:
    step = _bar_step(bars)
    per_year = timedelta(days=365) / step
    frame = bars.with_columns(pl.col(OI_BASE_EST).diff().over(ASSET).alias(_D_OI))
    lab = _label(frame, windows)
    after = lab.filter(pl.col(_AFTER_LOW))
    r, d_oi = pl.col(LOG_RETURN), pl.col(_D_OI)
    up = r.clip(lower_bound=0)
    both = r.is_not_null() & d_oi.is_not_null()

    def quadrant(cond: pl.Expr) -> pl.Expr:
        return _ratio((both & cond).sum(), both.sum())

    usd = pl.col(CLOSE)
    per_bar = after.group_by(ASSET, RALLY_ID).agg(
        (r.std() * math.sqrt(per_year)).alias(Signal.REALIZED_VOL),
        _ratio(up.filter(both & (d_oi < 0)).sum(), up.filter(both).sum()).alias(
            Signal.SHORT_COVERING
        ),
        quadrant((r > 0) & (d_oi > 0)).alias(Signal.NEW_LONGS_BARS),
        quadrant((r > 0) & (d_oi < 0)).alias(Signal.SHORT_COVERING_BARS),
        quadrant((r < 0) & (d_oi > 0)).alias(Signal.NEW_SHORTS_BARS),
        quadrant((r < 0) & (d_oi < 0)).alias(Signal.LONG_LIQUIDATION_BARS),
    )
    rng_lo = pl.col(LOW_PRICE).first()
    top = rng_lo + spec.top_range * (pl.col(CLOSE).max() - rng_lo)
    vol = pl.col(VOLUME)
    half = pl.int_range(pl.len()) < (pl.len() + 1) // 2
    flows = lab.group_by(ASSET, RALLY_ID).agg(
        _sum_if_any(SPOT_DELTA_USD).alias(Signal.SPOT_CVD_USD),
        _sum_if_any(PERP_DELTA_USD).alias(Signal.PERP_CVD_USD),
        _cvd_ratio(SPOT_DELTA_USD, pl.col(SPOT_VOLUME) * usd).alias(
            Signal.SPOT_CVD_RATIO
        ),
        _cvd_ratio(PERP_DELTA_USD, pl.col(PERP_VOLUME) * usd).alias(
            Signal.PERP_CVD_RATIO
        ),
        _ratio(vol.filter(pl.col(CLOSE) >= top).mean(), vol.mean()).alias(
            Signal.VOLUME_AT_HIGHS
        ),
        (_ratio(vol.filter(~half).mean(), vol.filter(half).mean()) - 1).alias(
            Signal.VOLUME_TREND
        ),
    )
    return flows.join(per_bar, on=[ASSET, RALLY_ID], how="left").with_columns(
        (pl.col(Signal.PERP_CVD_RATIO) - pl.col(Signal.SPOT_CVD_RATIO)).alias(
            Signal.CVD_GAP
        )
    )


def _sum_if_any(col: str) -> pl.Expr:
    """Sum of ``col`` in the group; null (not 0) when it has no value at all."""
    return pl.when(pl.col(col).is_not_null().any()).then(pl.col(col).sum())


def _cvd_ratio(delta: str, volume_usd: pl.Expr) -> pl.Expr:
    """CVD / taker volume, where taker volume is the quote volume of the same bars."""
    has = pl.col(delta).is_not_null() & volume_usd.is_not_null()
    return _ratio(pl.col(delta).filter(has).sum(), volume_usd.filter(has).sum())


def _bar_step(bars: pl.DataFrame) -> timedelta:
    if bars.height < 2:
        return _DAY
    head = bars.head(1024)  # the bar length, from the first rows
    step = head.select(pl.col(TS).diff().over(ASSET).drop_nulls().min()).item()
    return step if isinstance(step, timedelta) and step > timedelta(0) else _DAY


def _level_signals(
    daily: pl.DataFrame,
    windows: pl.DataFrame,
    day: pl.DataFrame,
    spec: AnatomySpec,
) -> pl.DataFrame:
    """Support turned resistance, anchored VWAPs and the decline's volume profile."""
    state = windows.join(
        day.select(ASSET, RALLY_ID, "__close", "__peak"), on=[ASSET, RALLY_ID]
    )
    out = state.select(ASSET, RALLY_ID)
    for part in (
        _resistance(daily, state, spec),
        _vwaps(daily, state),
        _profile(daily, state, spec),
    ):
        out = out.join(part, on=[ASSET, RALLY_ID], how="left")
    return out


def _resistance(
    daily: pl.DataFrame, state: pl.DataFrame, spec: AnatomySpec
) -> pl.DataFrame:
    k = spec.fractal_days
    close = pl.col(CLOSE)
    lows = daily.select(
        ASSET,
        TS,
        close.alias("__level"),
        (close.rolling_min(2 * k + 1, center=True).over(ASSET) == close).alias("__is"),
    ).filter(pl.col("__is"))
    pairs = state.join(lows, on=ASSET).filter(
        (pl.col(TS) + k * _DAY <= pl.col(LOW_TS))
        & (pl.col(TS) >= pl.col(DECLINE_HIGH_TS) - spec.level_lookback_days * _DAY)
        & (pl.col("__level") > pl.col(LOW_PRICE))
        & (pl.col("__level") < pl.col(DECLINE_HIGH))
    )
    level, peak = pl.col("__level"), pl.col("__peak")
    tol = spec.level_tolerance
    agg = pairs.group_by(ASSET, RALLY_ID).agg(
        level.filter(level > pl.col("__close")).min().alias(Signal.RESISTANCE),
        ((peak >= level * (1 - tol)) & (peak <= level * (1 + tol)))
        .any()
        .cast(pl.Float64)
        .alias(Signal.RESISTANCE_TESTED),
        pl.col("__close").first().alias("__c"),
    )
    return (
        state.select(ASSET, RALLY_ID)
        .join(agg, on=[ASSET, RALLY_ID], how="left")
        .select(
            ASSET,
            RALLY_ID,
            pl.col(Signal.RESISTANCE),
            (pl.col(Signal.RESISTANCE) / pl.col("__c") - 1).alias(
                Signal.RESISTANCE_DISTANCE
            ),
            pl.col(Signal.RESISTANCE_TESTED).fill_null(0.0),
        )
    )


def _vwaps(daily: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
    """VWAPs from prefix sums: sum over [a, b] = cum(b) - cum(before a)."""
    typical = (pl.col(HIGH) + pl.col(LOW) + pl.col(CLOSE)) / 3
    vol = pl.col(VOLUME).fill_null(0)
    cum = daily.select(
        ASSET,
        TS,
        (typical * vol).cum_sum().over(ASSET).alias("__pv"),
        vol.cum_sum().over(ASSET).alias("__v"),
        (typical * vol).alias("__pv0"),
        vol.alias("__v0"),
    )

    def at(day_col: str, prefix: str, *, before: bool) -> pl.DataFrame:
        picked = state.select(ASSET, RALLY_ID, pl.col(day_col).alias(TS)).join(
            cum, on=[ASSET, TS], how="left"
        )
        pv = pl.col("__pv") - (pl.col("__pv0") if before else 0)
        v = pl.col("__v") - (pl.col("__v0") if before else 0)
        return picked.select(
            ASSET, RALLY_ID, pv.alias(prefix + "pv"), v.alias(prefix + "v")
        )

    ends = at(_END, "e", before=False)
    out = state.select(ASSET, RALLY_ID, "__close")
    for name, col in (
        (Signal.VWAP_DECLINE, DECLINE_HIGH_TS),
        (Signal.VWAP_RALLY, LOW_TS),
    ):
        starts = at(col, "s", before=True)
        out = out.join(starts, on=[ASSET, RALLY_ID]).join(ends, on=[ASSET, RALLY_ID])
        out = out.with_columns(
            _ratio(pl.col("epv") - pl.col("spv"), pl.col("ev") - pl.col("sv")).alias(
                name
            )
        ).drop("spv", "sv", "epv", "ev")
    return out.select(
        ASSET,
        RALLY_ID,
        Signal.VWAP_DECLINE,
        Signal.VWAP_RALLY,
        (pl.col("__close") / pl.col(Signal.VWAP_DECLINE) - 1).alias(
            Signal.VS_VWAP_DECLINE
        ),
        (pl.col("__close") / pl.col(Signal.VWAP_RALLY) - 1).alias(Signal.VS_VWAP_RALLY),
    )


def _profile(
    daily: pl.DataFrame, state: pl.DataFrame, spec: AnatomySpec
) -> pl.DataFrame:
    """Whether the close sits in a high-volume node of the decline's profile."""
    declines = state.select(
        ASSET, RALLY_ID, DECLINE_HIGH_TS, LOW_TS, LOW_PRICE, DECLINE_HIGH
    )
    lab = (
        daily.select(ASSET, TS, HIGH, LOW, CLOSE, VOLUME)
        .join_asof(
            declines.sort(ASSET, DECLINE_HIGH_TS),
            left_on=TS,
            right_on=DECLINE_HIGH_TS,
            by=ASSET,
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col(RALLY_ID).is_not_null() & (pl.col(TS) <= pl.col(LOW_TS)))
    )
    n = spec.profile_bins
    width = (pl.col(DECLINE_HIGH) - pl.col(LOW_PRICE)) / n
    typical = (pl.col(HIGH) + pl.col(LOW) + pl.col(CLOSE)) / 3
    binned = lab.with_columns(
        ((typical - pl.col(LOW_PRICE)) / width)
        .floor()
        .clip(0, n - 1)
        .cast(pl.Int64)
        .alias("__bin")
    )
    bins = binned.group_by(ASSET, RALLY_ID, "__bin").agg(
        pl.col(VOLUME).sum().alias("__bv")
    )
    bins = bins.with_columns(
        (
            pl.col("__bv")
            >= spec.hvn_factor * pl.col("__bv").sum().over(ASSET, RALLY_ID) / n
        ).alias("__hvn")
    )
    position = (
        (pl.col("__close") - pl.col(LOW_PRICE))
        / ((pl.col(DECLINE_HIGH) - pl.col(LOW_PRICE)) / n)
    ).floor()
    where = state.select(
        ASSET,
        RALLY_ID,
        # a close exactly at the decline's high belongs to the top bin
        pl.when(pl.col("__close") == pl.col(DECLINE_HIGH))
        .then(n - 1)
        .otherwise(position)
        .cast(pl.Int64)
        .alias("__bin"),
    )
    has_volume = bins.group_by(ASSET, RALLY_ID).agg(
        (pl.col("__bv").sum() > 0).alias("__has")
    )
    out = where.join(bins, on=[ASSET, RALLY_ID, "__bin"], how="left").join(
        has_volume, on=[ASSET, RALLY_ID], how="left"
    )
    return out.select(
        ASSET,
        RALLY_ID,
        pl.when(pl.col("__has"))
        .then(pl.col("__hvn").fill_null(False).cast(pl.Float64))
        .alias(Signal.IN_HVN),
    )
