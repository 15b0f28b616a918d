"""Type aliases and option sets shared across rallylens (no heavy imports)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

__all__ = [
    "POSITIONINGS",
    "ConflictPolicy",
    "MarketType",
    "OptionType",
    "Positioning",
    "RallyKind",
    "RallyStatus",
    "Regime",
    "SeriesKind",
    "Side",
]


class SeriesKind(StrEnum):
    """What a stored series holds; each kind maps to one canonical schema.

    ``ohlcv`` are traded-price candles (spot or perp, told apart by the market
    symbol); ``mark``, ``index`` and ``premium`` are the venue's mark-price,
    index-price and premium-index candles of a derivative.
    """

    OHLCV = "ohlcv"
    MARK = "mark"
    INDEX = "index"
    PREMIUM = "premium"
    FUNDING = "funding"
    OPEN_INTEREST = "open_interest"
    LIQUIDATIONS = "liquidations"
    LIQUIDATION_EVENTS = "liquidation_events"
    TAKER_VOLUME = "taker_volume"
    OPTIONS_CHAIN = "options_chain"
    VOL_INDEX = "vol_index"
    FLOWS = "flows"
    POSITIONING = "positioning"
    BASIS = "basis"
    OPTIONS_ACTIVITY = "options_activity"
    OPTIONS_SUMMARY = "options_summary"


MarketType = Literal["spot", "perp", "future", "option", "aggregate", "index"]
OptionType = Literal["call", "put"]
Side = Literal["long", "short"]
ConflictPolicy = Literal["keep", "overwrite"]
Positioning = Literal[
    "dealer_long_calls_short_puts", "dealer_short_all", "dealer_long_all"
]
"""Who is assumed to hold a chain's open interest (``features.gamma``)."""
POSITIONINGS: tuple[str, ...] = get_args(Positioning)


class Regime(StrEnum):
    """Market regime of a day, from price alone (see :mod:`rallylens.rallies`)."""

    BEAR = "bear"
    NEUTRAL = "neutral"
    BULL = "bull"


class RallyKind(StrEnum):
    """What carried a rally: the verdict classes."""

    BEAR_MARKET_RALLY = "bear_market_rally"
    SPOT_LED = "spot_led"
    LEVERAGED_LONG = "leveraged_long"
    UNDETERMINED = "undetermined"


class RallyStatus(StrEnum):
    """Whether a rally is still running at the as-of time."""

    IN_PROGRESS = "in_progress"
    ENDED = "ended"
