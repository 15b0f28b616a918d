"""Rally anatomy speed: rallylens' find_rallies vs the same pipeline in pandas.

Generates a universe of hourly bars in schema BARS (default 200 markets x
3 years = 5,256,000 rows) whose prices follow random drift and volatility
regimes, with open interest, funding, spot share and flows following separate
leverage regimes, then times, in the same process and on the same data:

* rallylens: ``find_rallies`` on the Polars frame (daily aggregation, zigzag
  detection, every anatomy signal, verdict scoring);
* baseline: the same pipeline written in plain pandas the way an analyst
  would: per asset, resample to days, rolling baselines, the same zigzag in a
  Python loop, one loop over the rallies computing each signal on slices, and
  the evidence of ``DEFAULT_SPEC`` scored row by row.

Each side starts from its native in-memory frame (the pandas copy is made
before timing). Prints rows per second for both, their ratio and how closely
the two agree. Usage::

    python benchmarks/bench_anatomy.py [--markets 200] [--years 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from rallylens._typing import RallyKind, RallyStatus, Regime
from rallylens.rallies import (
    CONFIDENCE,
    DEFAULT_SPEC,
    FIB_LEVELS,
    VERDICT,
    AnatomySpec,
    DetectSpec,
    RegimeSpec,
    Signal,
    find_rallies,
)
from rallylens.schemas import (
    ASSET,
    BARS,
    BASIS_USD,
    CLOSE,
    COINBASE_PREMIUM_RATE,
    DVOL,
    ETF_NET_FLOW_USD,
    FUNDING_APR,
    HIGH,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    LOG_RETURN,
    LOW,
    LOW_TS,
    OI_BASE_EST,
    OPEN,
    PANEL_OI_USD,
    PEAK_TS,
    PERP_DELTA_USD,
    PERP_VOLUME,
    PREMIUM_RATE,
    RALLY_ID,
    SPOT_DELTA_USD,
    SPOT_SHARE,
    SPOT_VOLUME,
    STATUS,
    TS,
    VOLUME,
)

HOURS_PER_YEAR = 365 * 24
TARGET_RATIO = 10.0
TARGET_ROWS_PER_S = 3_000_000
SLOW_BASELINE_S = 20.0
"""A baseline run longer than this is not repeated."""


# --- the generated universe ----------------------------------------------------


def _regime_table(
    rng: np.random.Generator, markets: int, days: int, mean_days: float
) -> tuple[np.ndarray, int]:
    """Regime id per market and day: a switch with probability 1 / mean_days."""
    seg = np.cumsum(rng.random((markets, days)) < 1 / mean_days, axis=1)
    return seg, int(seg.max()) + 1


def _hourly(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Per-regime values (markets x regimes) spread to every hour."""
    return np.repeat(np.take_along_axis(values, seg, axis=1), 24, axis=1)


def _prices(
    rng: np.random.Generator, markets: int, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly closes and standardised shocks under drift and volatility regimes."""
    seg, n = _regime_table(rng, markets, days, mean_days=45)
    trend = rng.choice([-1.5, 0.0, 1.5], size=(markets, n), p=[0.35, 0.3, 0.35])
    drift = _hourly(trend * rng.uniform(0.4, 1.6, (markets, n)), seg)
    vol = _hourly(rng.uniform(0.35, 1.1, (markets, n)), seg)
    shock = rng.standard_t(5, (markets, days * 24)) / math.sqrt(5 / 3)
    log_ret = drift / HOURS_PER_YEAR + vol / math.sqrt(HOURS_PER_YEAR) * shock
    start = rng.normal(2, 2, (markets, 1))
    return np.exp(start + np.cumsum(log_ret, axis=1)), shock


def _with_nulls(values: np.ndarray, markets_with_data: int) -> np.ndarray:
    """Null (NaN) for markets past ``markets_with_data``, like DVOL or ETF flows."""
    values[markets_with_data:] = np.nan
    return values


def generate_bars(markets: int, years: int, seed: int = 7) -> pl.DataFrame:
    """Hourly bars of ``markets`` assets over ``years`` years, schema BARS."""
    rng = np.random.default_rng(seed)
    days = 365 * years
    close, z = _prices(rng, markets, days)
    seg, n = _regime_table(rng, markets, days, mean_days=30)
    lev = _hourly(rng.normal(0, 1, (markets, n)), seg)
    spot_level = _hourly(rng.uniform(0.2, 0.6, (markets, n)), seg)
    shape = close.shape
    open_ = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    wick = 0.003 * np.abs(rng.normal(0, 1, (2, *shape)))
    log_ret = np.diff(np.log(close), axis=1, prepend=np.nan)
    oi_step = 0.6 * lev * log_ret + 0.004 * lev / 24 + rng.normal(0, 0.003, shape)
    size_usd = 10 ** rng.uniform(7, 10, (markets, 1)) / close[:, :1]
    oi_base = size_usd * np.exp(np.cumsum(np.nan_to_num(oi_step), axis=1))
    share = np.clip(spot_level + rng.normal(0, 0.05, shape), 0.05, 0.95)
    volume = 0.01 * size_usd * np.exp(rng.normal(0, 0.4, shape) + 0.3 * np.abs(z))
    spot_vol, perp_vol = volume * share, volume * (1 - share)
    flow = 0.25 * np.tanh(z)
    liq_base = oi_base * close * 2e-5
    etf = _with_nulls(rng.normal(0, 2e8, shape), 2)
    etf[:, np.arange(shape[1]) % 24 != 21] = np.nan
    columns = {
        OPEN: open_,
        HIGH: np.maximum(open_, close) * (1 + wick[0]),
        LOW: np.minimum(open_, close) * (1 - wick[1]),
        CLOSE: close,
        VOLUME: volume,
        SPOT_VOLUME: spot_vol,
        PERP_VOLUME: perp_vol,
        SPOT_SHARE: share,
        SPOT_DELTA_USD: spot_vol
        * close
        * (flow + (spot_level - 0.4) * 0.2 + rng.normal(0, 0.1, shape)),
        PERP_DELTA_USD: perp_vol
        * close
        * (flow + 0.02 * lev + rng.normal(0, 0.1, shape)),
        PREMIUM_RATE: 3e-4 * lev + rng.normal(0, 1e-4, shape),
        FUNDING_APR: 0.08 + 0.12 * lev + rng.normal(0, 0.03, shape),
        PANEL_OI_USD: oi_base * close,
        OI_BASE_EST: oi_base,
        LIQ_LONG_USD: liq_base
        * rng.exponential(1, shape)
        * np.exp(1.2 * np.clip(-z, 0, 4)),
        LIQ_SHORT_USD: liq_base
        * rng.exponential(1, shape)
        * np.exp(1.2 * np.clip(z, 0, 4)),
        DVOL: _with_nulls(
            np.abs(log_ret) * math.sqrt(HOURS_PER_YEAR) * 0.5
            + rng.normal(0.6, 0.02, shape),
            2,
        ),
        BASIS_USD: close * (3e-4 * lev + rng.normal(0, 1e-4, shape)),
        ETF_NET_FLOW_USD: etf,
        COINBASE_PREMIUM_RATE: _with_nulls(rng.normal(0, 3e-4, shape), 20),
        LOG_RETURN: log_ret,
    }
    return _to_frame(columns, markets, days)


def _to_frame(columns: dict[str, np.ndarray], markets: int, days: int) -> pl.DataFrame:
    hours = days * 24
    start = np.datetime64("2022-01-01T00:00", "us")
    ts = start + np.arange(hours).astype("timedelta64[h]")
    names = pl.Series([f"M{m:03d}" for m in range(markets)], dtype=pl.String)
    frame = pl.DataFrame(
        {
            ASSET: names.gather(np.repeat(np.arange(markets), hours)),
            TS: np.tile(ts, markets),
            **{name: values.ravel() for name, values in columns.items()},
        },
        nan_to_null=True,
    )
    frame = frame.with_columns(pl.col(TS).dt.replace_time_zone("UTC"))
    return frame.select(pl.col(c).cast(t) for c, t in BARS.columns.items())


# --- the pandas baseline -----------------------------------------------------

DAY = pd.Timedelta(days=1)
SUMS = [
    VOLUME,
    SPOT_VOLUME,
    PERP_VOLUME,
    SPOT_DELTA_USD,
    PERP_DELTA_USD,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    ETF_NET_FLOW_USD,
]
LASTS = [
    PREMIUM_RATE,
    FUNDING_APR,
    PANEL_OI_USD,
    OI_BASE_EST,
    DVOL,
    BASIS_USD,
    COINBASE_PREMIUM_RATE,
]
REGIME_LEVEL = {Regime.BEAR: -1.0, Regime.NEUTRAL: 0.0, Regime.BULL: 1.0}
KINDS = (RallyKind.BEAR_MARKET_RALLY, RallyKind.SPOT_LED, RallyKind.LEVERAGED_LONG)
NAN = float("nan")


def pd_daily(hourly: pd.DataFrame) -> pd.DataFrame:
    """One asset's hourly bars (indexed by ts) resampled to UTC days."""
    days = hourly.resample("1D")
    daily = days.agg(
        {OPEN: "first", HIGH: "max", LOW: "min", CLOSE: "last"}
        | {c: "last" for c in LASTS}
    )
    daily[SUMS] = hourly[SUMS].resample("1D").sum(min_count=1)
    daily[SPOT_SHARE] = daily[SPOT_VOLUME] / (daily[SPOT_VOLUME] + daily[PERP_VOLUME])
    daily[LOG_RETURN] = np.log(daily[CLOSE] / daily[CLOSE].shift(1))
    return daily


def pd_thresholds(daily: pd.DataFrame, spec: DetectSpec) -> pd.Series:
    sigma = daily[LOG_RETURN].rolling(spec.vol_days, min_periods=spec.vol_days // 2)
    move = spec.threshold_sigmas * sigma.std()
    return move.clip(spec.min_move, spec.max_move).fillna(spec.max_move)


def pd_regimes(daily: pd.DataFrame, spec: RegimeSpec) -> pd.Series:
    close = daily[CLOSE]
    high = daily[HIGH].rolling(spec.high_window_days, min_periods=1).max()
    drawdown = close / high - 1
    ma = close.rolling(spec.ma_days).mean()
    slope = ma / ma.shift(spec.slope_days) - 1
    deep = drawdown <= spec.bear_drawdown
    no_ma = ma.isna() | slope.isna()
    bear = deep & (no_ma | (close < ma) | (slope < 0))
    bull = ~no_ma & (close > ma) & (slope > 0) & ~deep
    labels = np.where(bear, Regime.BEAR, np.where(bull, Regime.BULL, Regime.NEUTRAL))
    return pd.Series(labels, index=daily.index)


def pd_zigzag(close: list[float], theta: list[float], stall_days: int) -> list[tuple]:
    """The zigzag of ``detect_rallies``, on plain lists.

    Rows: low_i, confirm_i, peak_i, end_i (-1 in progress), high_i, low, peak, high.
    """
    rows = []
    rising, first_leg = False, True
    h_i = l_i = p_i = c_i = leg = 0
    h = lo = close[0]
    p = 0.0
    for i, x in enumerate(close):
        if not rising:
            # before the first rally a new high restarts the leg unless it
            # confirms a rally off a lower low
            if first_leg and x > h and (l_i == h_i or x < lo * (1 + theta[i])):
                h, h_i, lo, l_i = x, i, x, i
            elif x < lo:
                lo, l_i = x, i
            if x >= lo * (1 + theta[i]):
                rising, c_i = True, i
                before_low = close[leg : l_i + 1]
                if max(before_low) > h:  # after a stall the leg can top the peak
                    h = max(before_low)
                    h_i = leg + before_low.index(h)
                window = close[l_i : i + 1]
                p = max(window)
                p_i = l_i + window.index(p)
            continue
        if x > p:
            p, p_i = x, i
        reversed_ = x <= p * (1 - theta[i]) or x < lo
        if reversed_ or (stall_days and i - p_i >= stall_days):
            rows.append((l_i, c_i, p_i, i, h_i, lo, p, h))
            rising, first_leg, h, h_i = False, False, p, p_i
            leg = p_i + 1 if reversed_ else i
            window = close[leg : i + 1]
            lo = min(window)
            l_i = leg + window.index(lo)
    if rising:
        rows.append((l_i, c_i, p_i, -1, h_i, lo, p, h))
    return rows


def pd_baselines(daily: pd.DataFrame, spec: AnatomySpec) -> pd.DataFrame:
    """Per day, statistics of the days strictly before it (and the 14-day RV)."""
    n, m = spec.baseline_days, spec.prior_days
    funding = daily[FUNDING_APR].rolling(n, min_periods=n // 3)
    liq = daily[LIQ_SHORT_USD].rolling(n, min_periods=n // 3)
    both = daily[SPOT_VOLUME].notna() & daily[PERP_VOLUME].notna()
    spot = daily[SPOT_VOLUME].where(both).rolling(m, min_periods=m // 2).sum()
    perp = daily[PERP_VOLUME].where(both).rolling(m, min_periods=m // 2).sum()
    premium = daily[PREMIUM_RATE].rolling(m, min_periods=m // 2).mean()
    rv = daily[LOG_RETURN].rolling(spec.rv_days, min_periods=spec.rv_days // 2)
    prior = pd.DataFrame(
        {
            "f_mean": funding.mean(),
            "f_std": funding.std(),
            "l_mean": liq.mean(),
            "l_std": liq.std(),
            "spot": spot,
            "perp": perp,
            "prem": premium,
        }
    ).shift(1)
    prior["rv"] = rv.std() * math.sqrt(365)
    return prior


def _div(num: float, den: float) -> float:
    return num / den if den != 0 and not math.isnan(den) else NAN


def _last(values: pd.Series) -> float:
    valid = values.dropna()
    return float(valid.iloc[-1]) if len(valid) else NAN


def _change(values: pd.Series) -> float:
    valid = values.dropna()
    return _div(valid.iloc[-1], valid.iloc[0]) - 1 if len(valid) else NAN


def _sum_if_any(values: pd.Series) -> float:
    return float(values.sum()) if values.notna().any() else NAN


def pd_price(w: pd.DataFrame, rally: dict[str, Any]) -> dict[str, float]:
    low, high = rally["low_price"], rally["decline_high"]
    close, peak = w[CLOSE].iloc[-1], w[CLOSE].max()
    duration = (rally["end"] - rally["low_ts"]).days
    gain = close / low - 1
    max_retraced = _div(peak - low, high - low)
    fib = max((lvl for lvl in FIB_LEVELS if max_retraced >= lvl), default=0.0)
    return {
        Signal.GAIN: gain,
        Signal.MAX_GAIN: peak / low - 1,
        Signal.OFF_PEAK: close / peak - 1,
        Signal.DURATION_DAYS: duration,
        Signal.SPEED: math.log(gain + 1) / max(duration, 1),
        Signal.RETRACED: _div(close - low, high - low),
        Signal.MAX_RETRACED: max_retraced,
        Signal.FIB_LEVEL: NAN if math.isnan(max_retraced) else fib,
        Signal.INVALIDATION: low,
    }


def pd_liquidations(
    w: pd.DataFrame, at_low: pd.Series, rally: dict[str, Any], spec: AnatomySpec
) -> dict[str, float]:
    peak_z = _div(w[LIQ_SHORT_USD].max() - at_low["l_mean"], at_low["l_std"])
    out = {Signal.LIQ_SHORT_Z: peak_z}
    if not w[LIQ_SHORT_USD].notna().any():
        return out
    longs, shorts = w[LIQ_LONG_USD].sum(), w[LIQ_SHORT_USD].sum()
    start = w.index < rally["low_ts"] + spec.start_days * DAY
    both = w[LIQ_LONG_USD].fillna(0) + w[LIQ_SHORT_USD].fillna(0)
    return out | {
        Signal.LIQ_LONG_USD: longs,
        Signal.LIQ_SHORT_USD: shorts,
        Signal.LIQ_SHORT_SHARE: _div(shorts, shorts + longs),
        Signal.LIQ_START_SHORT_USD: w.loc[start, LIQ_SHORT_USD].sum(),
        Signal.LIQ_MAX_DAY_USD: both.max(),
    }


def pd_funding(
    w: pd.DataFrame, at_low: pd.Series, spec: AnatomySpec
) -> dict[str, float]:
    funding = w[FUNDING_APR]
    std = at_low["f_std"] if at_low["f_std"] != 0 else NAN
    z = (funding - at_low["f_mean"]) / std
    return {
        Signal.FUNDING_MEAN: funding.mean(),
        Signal.FUNDING_LAST: _last(funding),
        Signal.FUNDING_FIRST_HALF: funding.iloc[: (len(w) + 1) // 2].mean(),
        Signal.FUNDING_Z: _last(z),
        Signal.FUNDING_SPIKE_DAYS: (z > spec.spike_z).sum() if z.notna().any() else NAN,
    }


def pd_daily_rest(
    w: pd.DataFrame, at_low: pd.Series, rv: pd.Series
) -> dict[str, float]:
    both = w[SPOT_VOLUME].notna() & w[PERP_VOLUME].notna()
    spot, perp = w.loc[both, SPOT_VOLUME].sum(), w.loc[both, PERP_VOLUME].sum()
    share = _div(spot, spot + perp) if both.any() else NAN
    prior = _div(at_low["spot"], at_low["spot"] + at_low["perp"])
    premium = _last(w[PREMIUM_RATE])
    rv_valid = rv.dropna()
    return {
        Signal.OI_CHANGE: _change(w[OI_BASE_EST]),
        Signal.OI_USD_CHANGE: _change(w[PANEL_OI_USD]),
        Signal.SPOT_SHARE: share,
        Signal.SPOT_SHARE_CHANGE: share - prior,
        Signal.PREMIUM: premium,
        Signal.PREMIUM_CHANGE: premium - at_low["prem"],
        Signal.IV_CHANGE: _change(w[DVOL]),
        Signal.IV_LAST: _last(w[DVOL]),
        Signal.RV_CHANGE: rv_valid.iloc[-1] / rv_valid.iloc[0] - 1
        if len(rv_valid)
        else NAN,
        Signal.ETF_FLOW_USD: _sum_if_any(w[ETF_NET_FLOW_USD]),
        Signal.COINBASE_PREMIUM: w[COINBASE_PREMIUM_RATE].mean(),
    }


def pd_bars(
    hb: pd.DataFrame, rally: dict[str, Any], per_year: float, spec: AnatomySpec
) -> dict[str, float]:
    """Per-bar signals on the rally's bars (hb) and those after the low day."""
    after = hb[hb.index >= rally["low_ts"] + DAY]
    r, d_oi = after[LOG_RETURN], after["d_oi"]
    both = r.notna() & d_oi.notna()
    up = r.clip(lower=0)
    n_both = both.sum()

    def quadrant(cond: pd.Series) -> float:
        return _div((both & cond).sum(), n_both)

    out = {
        Signal.REALIZED_VOL: r.std() * math.sqrt(per_year),
        Signal.SHORT_COVERING: _div(up[both & (d_oi < 0)].sum(), up[both].sum()),
        Signal.NEW_LONGS_BARS: quadrant((r > 0) & (d_oi > 0)),
        Signal.SHORT_COVERING_BARS: quadrant((r > 0) & (d_oi < 0)),
        Signal.NEW_SHORTS_BARS: quadrant((r < 0) & (d_oi > 0)),
        Signal.LONG_LIQUIDATION_BARS: quadrant((r < 0) & (d_oi < 0)),
    }
    for delta, volume, cvd, ratio in (
        (SPOT_DELTA_USD, SPOT_VOLUME, Signal.SPOT_CVD_USD, Signal.SPOT_CVD_RATIO),
        (PERP_DELTA_USD, PERP_VOLUME, Signal.PERP_CVD_USD, Signal.PERP_CVD_RATIO),
    ):
        usd = hb[volume] * hb[CLOSE]
        has = hb[delta].notna() & usd.notna()
        out[cvd] = _sum_if_any(hb[delta])
        out[ratio] = _div(hb.loc[has, delta].sum(), usd[has].sum())
    out[Signal.CVD_GAP] = out[Signal.PERP_CVD_RATIO] - out[Signal.SPOT_CVD_RATIO]
    vol, low = hb[VOLUME], rally["low_price"]
    top = low + spec.top_range * (hb[CLOSE].max() - low)
    half = (len(hb) + 1) // 2
    out[Signal.VOLUME_AT_HIGHS] = _div(vol[hb[CLOSE] >= top].mean(), vol.mean())
    out[Signal.VOLUME_TREND] = _div(vol.iloc[half:].mean(), vol.iloc[:half].mean()) - 1
    return out


def pd_levels(
    data: dict[str, Any],
    rally: dict[str, Any],
    state: dict[str, float],
    spec: AnatomySpec,
) -> dict[str, float]:
    """Support turned resistance and the anchored VWAPs."""
    close, peak = state["close"], state["peak"]
    low, high = rally["low_price"], rally["decline_high"]
    lows = data["lows"]
    cand = lows[
        (lows.index + spec.fractal_days * DAY <= rally["low_ts"])
        & (lows.index >= rally["high_ts"] - spec.level_lookback_days * DAY)
        & (lows > low)
        & (lows < high)
    ]
    tol = spec.level_tolerance
    resistance = cand[cand > close].min() if len(cand) else NAN
    tested = ((peak >= cand * (1 - tol)) & (peak <= cand * (1 + tol))).any()
    typical, vol = data["typical"], data["volume"]
    out = {
        Signal.RESISTANCE: resistance,
        Signal.RESISTANCE_DISTANCE: resistance / close - 1,
        Signal.RESISTANCE_TESTED: float(tested),
    }
    end = rally["end_i"] + 1
    for name, vs, start in (
        (Signal.VWAP_DECLINE, Signal.VS_VWAP_DECLINE, rally["high_i"]),
        (Signal.VWAP_RALLY, Signal.VS_VWAP_RALLY, rally["low_i"]),
    ):
        v = vol.iloc[start:end]
        out[name] = _div((typical.iloc[start:end] * v).sum(), v.sum())
        out[vs] = close / out[name] - 1
    return out


def pd_profile(
    daily: pd.DataFrame, rally: dict[str, Any], close: float, spec: AnatomySpec
) -> float:
    """1.0 when the close sits in a high-volume node of the decline's profile."""
    decline = daily.iloc[rally["high_i"] : rally["low_i"] + 1]
    n, low = spec.profile_bins, rally["low_price"]
    width = (rally["decline_high"] - low) / n
    typical = (decline[HIGH] + decline[LOW] + decline[CLOSE]) / 3
    bins = np.floor((typical - low) / width).clip(0, n - 1).astype(int)
    volume = np.bincount(bins, weights=decline[VOLUME].fillna(0), minlength=n)
    total = volume.sum()
    if not total > 0:
        return NAN
    at = n - 1 if close == rally["decline_high"] else math.floor((close - low) / width)
    return float(0 <= at < n and volume[at] >= spec.hvn_factor * total / n)


def pd_at_resistance(sig: dict[str, float]) -> float:
    retraced = sig[Signal.MAX_RETRACED]
    fib_zone = FIB_LEVELS[0] <= retraced <= FIB_LEVELS[-1] + 0.05
    near_vwap = -0.03 <= sig[Signal.VS_VWAP_DECLINE] <= 0.01
    return float(sig[Signal.RESISTANCE_TESTED] > 0 or fib_zone or near_vwap)


def pd_anatomy(
    data: dict[str, Any], rally: dict[str, Any], spec: AnatomySpec
) -> dict[str, Any]:
    """Every signal of one rally, from slices of the asset's frames."""
    daily, hourly = data["daily"], data["hourly"]
    w = daily.iloc[rally["low_i"] : rally["end_i"] + 1]
    at_low = data["base"].iloc[rally["low_i"]]
    rv = data["base"]["rv"].iloc[rally["low_i"] : rally["end_i"] + 1]
    first, stop = hourly.index.searchsorted([rally["low_ts"], rally["end"] + DAY])
    hb = hourly.iloc[first:stop]
    state = {"close": w[CLOSE].iloc[-1], "peak": w[CLOSE].max()}
    sig = pd_price(w, rally)
    sig |= pd_liquidations(w, at_low, rally, spec)
    sig |= pd_funding(w, at_low, spec)
    sig |= pd_daily_rest(w, at_low, rv)
    sig |= pd_bars(hb, rally, data["per_year"], spec)
    sig |= pd_levels(data, rally, state, spec)
    sig[Signal.IN_HVN] = pd_profile(daily, rally, state["close"], spec)
    sig[Signal.REGIME_LEVEL] = REGIME_LEVEL[data["regime"].iloc[rally["low_i"]]]
    sig[Signal.AT_RESISTANCE] = pd_at_resistance(sig)
    return sig


def pd_asset_data(hourly: pd.DataFrame, spec: AnatomySpec) -> dict[str, Any]:
    """Everything per asset that the rally loop slices from."""
    daily = pd_daily(hourly)
    hourly = hourly.assign(d_oi=hourly[OI_BASE_EST].diff())
    close = daily[CLOSE]
    k = spec.fractal_days
    is_low = close == close.rolling(2 * k + 1, center=True).min()
    step = hourly.index.to_series().diff().min()
    return {
        "daily": daily,
        "hourly": hourly,
        "base": pd_baselines(daily, spec),
        "lows": close[is_low],
        "typical": (daily[HIGH] + daily[LOW] + close) / 3,
        "volume": daily[VOLUME].fillna(0),
        "per_year": pd.Timedelta(days=365) / step,
    }


def pd_asset(asset: str, hourly: pd.DataFrame) -> list[dict[str, Any]]:
    spec = AnatomySpec()
    data = pd_asset_data(hourly, spec)
    daily = data["daily"]
    data["regime"] = pd_regimes(daily, RegimeSpec())
    theta = pd_thresholds(daily, DetectSpec()).tolist()
    rallies = pd_zigzag(daily[CLOSE].tolist(), theta, DetectSpec().stall_days)
    days = daily.index
    rows = []
    for rally_id, (low_i, _, peak_i, end_i, high_i, low, _, high) in enumerate(
        rallies, start=1
    ):
        ended = end_i >= 0
        cut = peak_i if ended else len(days) - 1
        rally = {
            "low_i": low_i,
            "end_i": cut,
            "high_i": high_i,
            "low_ts": days[low_i],
            "high_ts": days[high_i],
            "end": days[cut],
            "low_price": low,
            "decline_high": high,
        }
        row = {ASSET: asset, RALLY_ID: rally_id, LOW_TS: days[low_i]}
        row |= {PEAK_TS: days[peak_i], STATUS: _status(ended)}
        rows.append(row | pd_anatomy(data, rally, spec))
    return rows


def _status(ended: bool) -> str:
    return (RallyStatus.ENDED if ended else RallyStatus.IN_PROGRESS).value


def pd_verdict(row: dict[str, Any]) -> dict[str, Any]:
    """Score one rally for every kind and pick the verdict (DEFAULT_SPEC)."""
    spec = DEFAULT_SPEC
    scores, coverage = {}, {}
    for kind in KINDS:
        rules = spec.of(kind)
        got = avail = 0.0
        for ev in rules:
            values = (row.get(s, NAN) for s in ev.signals)
            value = next((v for v in values if not math.isnan(v)), NAN)
            if not math.isnan(value):
                got += ev.weight * float(np.interp(value, ev.xp, ev.fp))
                avail += ev.weight
        total = sum(ev.weight for ev in rules)
        scores[kind], coverage[kind] = got / total, avail / total
    ranked = sorted(KINDS, key=lambda k: -scores[k])
    top, second = scores[ranked[0]], scores[ranked[1]]
    decided = top >= spec.min_score and top - second >= spec.min_margin
    return {
        VERDICT: ranked[0].value if decided else RallyKind.UNDETERMINED.value,
        CONFIDENCE: coverage[ranked[0]] if decided else 0.0,
    }


def run_pandas(bars: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for asset, hourly in bars.groupby(ASSET, sort=False):
        rows.extend(pd_asset(str(asset), hourly.set_index(TS)))
    for row in rows:
        row |= pd_verdict(row)
    return pd.DataFrame(rows)


def run_rallylens(bars: pl.DataFrame) -> pl.DataFrame:
    return find_rallies(bars)


# --- timing and agreement ----------------------------------------------------


def best_of(
    func: Callable[[Any], Any], data: Any, repeat: int, *, give_up_s: float = 1e9
) -> tuple[float, int, Any]:
    """Best wall time of ``repeat`` runs (fewer once one run exceeds give_up_s)."""
    times: list[float] = []
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func(data)
        times.append(time.perf_counter() - start)
        if times[-1] > give_up_s:
            break
    return min(times), len(times), out


def _signal_diffs(ours: pl.DataFrame, theirs: pl.DataFrame) -> pl.DataFrame:
    """Per signal: max abs and relative difference, rows where nullness differs."""
    both = ours.join(theirs, on=[ASSET, RALLY_ID], how="inner", suffix="__pd")
    rows = []
    for s in Signal:
        pair = both.select(
            pl.col(s.value).cast(pl.Float64).fill_nan(None).alias("a"),
            pl.col(f"{s.value}__pd").cast(pl.Float64).fill_nan(None).alias("b"),
        )
        a, b = pl.col("a"), pl.col("b")
        scale = pl.max_horizontal(a.abs(), b.abs(), pl.lit(1.0))
        rows.append(
            pair.select(
                pl.lit(s.value).alias("signal"),
                (a - b).abs().max().fill_null(0.0).alias("max_abs"),
                ((a - b).abs() / scale).max().fill_null(0.0).alias("max_rel"),
                (a.is_null() != b.is_null()).sum().alias("null_mismatch"),
            )
        )
    return pl.concat(rows)


def report_agreement(ours: pl.DataFrame, base: pd.DataFrame) -> None:
    theirs = pl.from_pandas(base).with_columns(
        pl.col(LOW_TS, PEAK_TS).cast(BARS.columns[TS])
    )
    keys = [ASSET, RALLY_ID, LOW_TS, PEAK_TS, STATUS]
    same = ours.select(keys).join(theirs.select(keys), on=keys, how="inner").height
    print(
        f"agreement: rallies {ours.height:,} (rallylens) vs {theirs.height:,} "
        f"(pandas), same low/peak/status: {same:,}"
    )
    diffs = _signal_diffs(ours, theirs)
    shown = (
        Signal.GAIN,
        Signal.MAX_GAIN,
        Signal.REALIZED_VOL,
        Signal.OI_CHANGE,
        Signal.SHORT_COVERING,
        Signal.FUNDING_MEAN,
        Signal.LIQ_SHORT_Z,
        Signal.SPOT_SHARE_CHANGE,
        Signal.PERP_CVD_RATIO,
        Signal.VWAP_DECLINE,
        Signal.RESISTANCE,
        Signal.IN_HVN,
    )
    for row in diffs.filter(pl.col("signal").is_in([s.value for s in shown])).rows(
        named=True
    ):
        print(
            f"  {row['signal']:<22} max abs diff {row['max_abs']:9.2e}  "
            f"null mismatches {row['null_mismatch']}"
        )
    worst = diffs.sort("max_rel", descending=True).row(0, named=True)
    print(
        f"  all {diffs.height} signals: max rel diff {worst['max_rel']:.2e} "
        f"({worst['signal']}), null mismatches {diffs['null_mismatch'].sum()}"
    )
    joined = ours.join(theirs, on=[ASSET, RALLY_ID], how="inner", suffix="__pd")
    agree = (joined[VERDICT] == joined[f"{VERDICT}__pd"]).mean()
    conf = (joined[CONFIDENCE] - joined[f"{CONFIDENCE}__pd"]).abs().max()
    print(f"  verdicts agree on {agree:.2%} of rallies, confidence max diff {conf:.1e}")
    for kind in (*KINDS, RallyKind.UNDETERMINED):
        n_ours = int((ours[VERDICT] == kind.value).sum())
        n_base = int((theirs[VERDICT] == kind.value).sum())
        print(f"    {kind.value:<18} rallylens {n_ours:6,}  pandas {n_base:6,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=200)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bars = generate_bars(args.markets, args.years, args.seed)
    bars_pd = bars.to_pandas()
    rows = bars.height
    ours, n_ours, table = best_of(run_rallylens, bars, args.repeat)
    base, n_base, base_table = best_of(
        run_pandas, bars_pd, args.repeat, give_up_s=SLOW_BASELINE_S
    )
    print(
        f"universe: {args.markets} markets x {args.years} years of hourly bars "
        f"= {rows:,} rows, {table.height:,} rallies"
    )
    print(f"rallylens find_rallies {ours:8.3f} s  {rows / ours:12,.0f} rows/s", end="")
    print(f"  (best of {n_ours})")
    print(f"pandas baseline        {base:8.3f} s  {rows / base:12,.0f} rows/s", end="")
    note = "" if n_base == args.repeat else f", slower than {SLOW_BASELINE_S:.0f} s"
    print(f"  (best of {n_base}{note})")
    ratio = base / ours
    print(f"ratio (rallylens / pandas throughput): {ratio:.2f}x")
    print(
        f"targets: >= {TARGET_RATIO:.0f}x pandas "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}; "
        f">= {TARGET_ROWS_PER_S:,} rows/s "
        f"{'met' if rows / ours >= TARGET_ROWS_PER_S else 'NOT met'}"
    )
    report_agreement(table, base_table)


if __name__ == "__main__":
    main()
