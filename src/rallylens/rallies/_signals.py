"""Names, units and groups of the rally anatomy's signals."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["GROUPS", "SOURCES", "UNITS", "Signal"]


class Signal(StrEnum):
    """One number of a rally's anatomy (a column of the anatomy frame)."""

    # context
    REGIME_LEVEL = "regime_level"
    AT_RESISTANCE = "at_resistance"
    # price
    GAIN = "gain"
    MAX_GAIN = "max_gain"
    OFF_PEAK = "off_peak"
    DURATION_DAYS = "duration_days"
    SPEED = "speed_per_day"
    REALIZED_VOL = "realized_vol"
    RETRACED = "retraced"
    MAX_RETRACED = "max_retraced"
    FIB_LEVEL = "fib_level"
    # levels
    RESISTANCE = "resistance"
    RESISTANCE_DISTANCE = "resistance_distance"
    RESISTANCE_TESTED = "resistance_tested"
    INVALIDATION = "invalidation"
    VWAP_DECLINE = "vwap_decline"
    VWAP_RALLY = "vwap_rally"
    VS_VWAP_DECLINE = "vs_vwap_decline"
    VS_VWAP_RALLY = "vs_vwap_rally"
    IN_HVN = "in_high_volume_node"
    # leverage
    OI_CHANGE = "oi_change"
    OI_USD_CHANGE = "oi_usd_change"
    SHORT_COVERING = "short_covering_share"
    NEW_LONGS_BARS = "new_longs_bars"
    SHORT_COVERING_BARS = "short_covering_bars"
    NEW_SHORTS_BARS = "new_shorts_bars"
    LONG_LIQUIDATION_BARS = "long_liquidation_bars"
    # liquidations
    LIQ_LONG_USD = "liq_long_usd"
    LIQ_SHORT_USD = "liq_short_usd"
    LIQ_SHORT_SHARE = "liq_short_share"
    LIQ_START_SHORT_USD = "liq_start_short_usd"
    LIQ_MAX_DAY_USD = "liq_max_day_usd"
    LIQ_SHORT_Z = "liq_short_z"
    # funding
    FUNDING_MEAN = "funding_apr_mean"
    FUNDING_LAST = "funding_apr_last"
    FUNDING_FIRST_HALF = "funding_apr_first_half"
    FUNDING_Z = "funding_z"
    FUNDING_SPIKE_DAYS = "funding_spike_days"
    # spot vs perp
    SPOT_SHARE = "spot_share"
    SPOT_SHARE_CHANGE = "spot_share_change"
    SPOT_CVD_USD = "spot_cvd_usd"
    PERP_CVD_USD = "perp_cvd_usd"
    SPOT_CVD_RATIO = "spot_cvd_ratio"
    PERP_CVD_RATIO = "perp_cvd_ratio"
    CVD_GAP = "perp_minus_spot_cvd_ratio"
    PREMIUM = "premium"
    PREMIUM_CHANGE = "premium_change"
    # conviction
    VOLUME_AT_HIGHS = "volume_at_highs"
    VOLUME_TREND = "volume_trend"
    # volatility
    IV_CHANGE = "iv_change"
    IV_LAST = "iv_last"
    RV_CHANGE = "rv_change"
    # options positioning
    SKEW_CHANGE = "rr25_change"
    SKEW_LAST = "rr25_last"
    DEALER_GEX = "dealer_gex_usd"
    VS_GAMMA_FLIP = "vs_gamma_flip"
    CALL_WALL_DISTANCE = "call_wall_distance"
    CALL_WALL_PIN = "call_wall_pin"
    # flows
    ETF_FLOW_USD = "etf_flow_usd"
    COINBASE_PREMIUM = "coinbase_premium"


UNITS: dict[Signal, str] = {
    Signal.REGIME_LEVEL: "regime on the low day: -1 bear, 0 neutral, 1 bull",
    Signal.AT_RESISTANCE: "1 if the peak tested a level, reached the 38.2-78.6% "
    "retracement or the VWAP of the decline; else 0",
    Signal.GAIN: "fraction: close at the as-of day / rally low - 1",
    Signal.MAX_GAIN: "fraction: highest close since the low / low - 1",
    Signal.OFF_PEAK: "fraction: close / highest close since the low - 1 (<= 0)",
    Signal.DURATION_DAYS: "days from the low to the as-of day",
    Signal.SPEED: "log gain per day",
    Signal.REALIZED_VOL: "annualised stdev of bar log returns over the rally",
    Signal.RETRACED: "share of the prior decline retraced by the close",
    Signal.MAX_RETRACED: "share of the prior decline retraced at the peak",
    Signal.FIB_LEVEL: "highest of 0.382/0.5/0.618/0.786 reached by the peak",
    Signal.RESISTANCE: "price: nearest prior support (broken in the decline) above",
    Signal.RESISTANCE_DISTANCE: "fraction: resistance / close - 1",
    Signal.RESISTANCE_TESTED: "1 if the peak came within the tolerance of a level",
    Signal.INVALIDATION: "price: the rally's low (a close below ends it)",
    Signal.VWAP_DECLINE: "price: VWAP anchored at the decline's high",
    Signal.VWAP_RALLY: "price: VWAP anchored at the rally's low",
    Signal.VS_VWAP_DECLINE: "fraction: close / VWAP(decline high) - 1",
    Signal.VS_VWAP_RALLY: "fraction: close / VWAP(rally low) - 1",
    Signal.IN_HVN: "1 if the close sits in a high-volume node of the decline",
    Signal.OI_CHANGE: "fraction: open interest (base units) change since the low",
    Signal.OI_USD_CHANGE: "fraction: open interest (USD) change since the low",
    Signal.SHORT_COVERING: "share of the up-moves made in bars where OI fell",
    Signal.NEW_LONGS_BARS: "share of bars with price up and OI up",
    Signal.SHORT_COVERING_BARS: "share of bars with price up and OI down",
    Signal.NEW_SHORTS_BARS: "share of bars with price down and OI up",
    Signal.LONG_LIQUIDATION_BARS: "share of bars with price down and OI down",
    Signal.LIQ_LONG_USD: "USD of longs liquidated over the rally",
    Signal.LIQ_SHORT_USD: "USD of shorts liquidated over the rally",
    Signal.LIQ_SHORT_SHARE: "shorts / (longs + shorts) liquidated",
    Signal.LIQ_START_SHORT_USD: "USD of shorts liquidated in the rally's first days",
    Signal.LIQ_MAX_DAY_USD: "USD: largest one-day liquidation total in the rally",
    Signal.LIQ_SHORT_Z: "z-score of the largest daily short liquidation vs before",
    Signal.FUNDING_MEAN: "decimal APR, mean over the rally",
    Signal.FUNDING_LAST: "decimal APR, last value",
    Signal.FUNDING_FIRST_HALF: "decimal APR, mean over the rally's first half",
    Signal.FUNDING_Z: "z-score of the last daily APR vs the days before the low",
    Signal.FUNDING_SPIKE_DAYS: "days in the rally with funding z-score above the spike",
    Signal.SPOT_SHARE: "spot / (spot + perp) base volume over the rally",
    Signal.SPOT_SHARE_CHANGE: "spot share minus its value in the weeks before",
    Signal.SPOT_CVD_USD: "USD: spot taker buys minus sells over the rally",
    Signal.PERP_CVD_USD: "USD: perp taker buys minus sells over the rally",
    Signal.SPOT_CVD_RATIO: "spot CVD / spot taker volume",
    Signal.PERP_CVD_RATIO: "perp CVD / perp taker volume",
    Signal.CVD_GAP: "perp CVD ratio - spot CVD ratio (> 0: perps lead)",
    Signal.PREMIUM: "fraction: perp / spot - 1 at the as-of day",
    Signal.PREMIUM_CHANGE: "premium minus its mean in the weeks before the low",
    Signal.VOLUME_AT_HIGHS: "mean volume in the top 20% of the range / rally mean",
    Signal.VOLUME_TREND: "mean volume of the second half / first half - 1",
    Signal.IV_CHANGE: "fraction: DVOL change since the low (else the 30-day "
    "constant-maturity ATM IV's, when a chain snapshot is near the low)",
    Signal.IV_LAST: "decimal: DVOL (else 30-day ATM IV) at the as-of day",
    Signal.RV_CHANGE: "fraction: 14-day realised vol change since the low",
    Signal.ETF_FLOW_USD: "USD: spot ETF net flows over the rally",
    Signal.COINBASE_PREMIUM: "mean Coinbase premium rate over the rally",
    Signal.SKEW_CHANGE: "decimal vol: 30-day 25-delta risk reversal change since "
    "the low (> 0: calls bid)",
    Signal.SKEW_LAST: "decimal vol: 30-day 25-delta risk reversal at the as-of day",
    Signal.DEALER_GEX: "USD per 1% move: dealer gamma at the as-of day (estimate; "
    "> 0 dealers long gamma, they damp moves)",
    Signal.VS_GAMMA_FLIP: "fraction: close / gamma flip - 1 (< 0: below the flip)",
    Signal.CALL_WALL_DISTANCE: "fraction: call wall / close - 1 (> 0: wall above)",
    Signal.CALL_WALL_PIN: "0-1: how close the close sits to the call wall while "
    "dealers are long gamma (1 at the wall, 0 beyond the band or short gamma)",
}

GROUPS: dict[str, tuple[Signal, ...]] = {
    "context": (Signal.REGIME_LEVEL, Signal.AT_RESISTANCE),
    "price": (
        Signal.GAIN,
        Signal.MAX_GAIN,
        Signal.OFF_PEAK,
        Signal.DURATION_DAYS,
        Signal.SPEED,
        Signal.REALIZED_VOL,
        Signal.RETRACED,
        Signal.MAX_RETRACED,
        Signal.FIB_LEVEL,
    ),
    "levels": (
        Signal.RESISTANCE,
        Signal.RESISTANCE_DISTANCE,
        Signal.RESISTANCE_TESTED,
        Signal.INVALIDATION,
        Signal.VWAP_DECLINE,
        Signal.VWAP_RALLY,
        Signal.VS_VWAP_DECLINE,
        Signal.VS_VWAP_RALLY,
        Signal.IN_HVN,
    ),
    "leverage": (
        Signal.OI_CHANGE,
        Signal.OI_USD_CHANGE,
        Signal.SHORT_COVERING,
        Signal.NEW_LONGS_BARS,
        Signal.SHORT_COVERING_BARS,
        Signal.NEW_SHORTS_BARS,
        Signal.LONG_LIQUIDATION_BARS,
    ),
    "liquidations": (
        Signal.LIQ_LONG_USD,
        Signal.LIQ_SHORT_USD,
        Signal.LIQ_SHORT_SHARE,
        Signal.LIQ_START_SHORT_USD,
        Signal.LIQ_MAX_DAY_USD,
        Signal.LIQ_SHORT_Z,
    ),
    "funding": (
        Signal.FUNDING_MEAN,
        Signal.FUNDING_LAST,
        Signal.FUNDING_FIRST_HALF,
        Signal.FUNDING_Z,
        Signal.FUNDING_SPIKE_DAYS,
    ),
    "spot_vs_perp": (
        Signal.SPOT_SHARE,
        Signal.SPOT_SHARE_CHANGE,
        Signal.SPOT_CVD_USD,
        Signal.PERP_CVD_USD,
        Signal.SPOT_CVD_RATIO,
        Signal.PERP_CVD_RATIO,
        Signal.CVD_GAP,
        Signal.PREMIUM,
        Signal.PREMIUM_CHANGE,
    ),
    "conviction": (Signal.VOLUME_AT_HIGHS, Signal.VOLUME_TREND),
    "volatility": (Signal.IV_CHANGE, Signal.IV_LAST, Signal.RV_CHANGE),
    "options": (
        Signal.SKEW_CHANGE,
        Signal.SKEW_LAST,
        Signal.DEALER_GEX,
        Signal.VS_GAMMA_FLIP,
        Signal.CALL_WALL_DISTANCE,
        Signal.CALL_WALL_PIN,
    ),
    "flows": (Signal.ETF_FLOW_USD, Signal.COINBASE_PREMIUM),
}
"""Anatomy signals by topic, in display order."""

SOURCES: dict[Signal, tuple[str, ...]] = {
    **{s: ("open_interest",) for s in GROUPS["leverage"]},
    **{s: ("liquidations",) for s in GROUPS["liquidations"]},
    **{s: ("funding",) for s in GROUPS["funding"]},
    Signal.SPOT_SHARE: ("spot", "perp"),
    Signal.SPOT_SHARE_CHANGE: ("spot", "perp"),
    Signal.SPOT_CVD_USD: ("spot_taker",),
    Signal.SPOT_CVD_RATIO: ("spot_taker",),
    Signal.PERP_CVD_USD: ("perp_taker",),
    Signal.PERP_CVD_RATIO: ("perp_taker",),
    Signal.CVD_GAP: ("spot_taker", "perp_taker"),
    Signal.PREMIUM: ("spot", "perp"),
    Signal.PREMIUM_CHANGE: ("spot", "perp"),
    Signal.IV_CHANGE: ("dvol", "options"),
    Signal.IV_LAST: ("dvol", "options"),
    **{s: ("options",) for s in GROUPS["options"]},
    Signal.ETF_FLOW_USD: ("etf",),
    Signal.COINBASE_PREMIUM: ("coinbase",),
}
"""Panel column groups (``rallylens.store.GROUPS``) each signal is computed from."""
