"""Live venue adapters by name, and the series keys users write in configs."""

from __future__ import annotations

from typing import Any

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError
from rallylens.schemas import SeriesKey
from rallylens.sources._base import Source
from rallylens.sources._ccxt import RetryPolicy, make_exchange

__all__ = ["LIVE_VENUES", "make_source", "parse_series_key"]

LIVE_VENUES: dict[str, tuple[str, str, str]] = {
    "binance": ("binance", "rallylens.sources.live_binance", "BinanceSource"),
    "bybit": ("bybit", "rallylens.sources.live_bybit", "BybitSource"),
    "okx": ("okx", "rallylens.sources.live_okx", "OkxSource"),
    "deribit": ("deribit", "rallylens.sources.live_deribit", "DeribitSource"),
}
"""venue -> (ccxt exchange id, adapter module, adapter class)."""


def make_source(
    venue: str,
    *,
    base_url: str | None = None,
    timeout_seconds: float = 15.0,
    policy: RetryPolicy | None = None,
) -> Source:
    """The live adapter of ``venue`` with a fresh keyless ccxt client.

    Raises
    ------
    ConfigError
        If rallylens has no live adapter for ``venue``.
    """
    try:
        exchange_id, module_name, class_name = LIVE_VENUES[venue]
    except KeyError:
        raise ConfigError(
            f"no live adapter for venue {venue!r}; use one of {sorted(LIVE_VENUES)}"
        ) from None
    import importlib

    module = importlib.import_module(module_name)
    exchange = make_exchange(
        exchange_id, base_url=base_url, timeout_ms=int(timeout_seconds * 1000)
    )
    cls: Any = getattr(module, class_name)
    source: Source = cls(exchange, policy=policy)
    return source


def parse_series_key(text: str) -> SeriesKey:
    """``venue:market:kind:timeframe`` (the market may hold a colon).

    Raises
    ------
    ConfigError
        If the text does not have four parts or names an unknown kind.
    """
    parts = text.split(":")
    if len(parts) < 4:
        raise ConfigError(
            f"series {text!r}: write venue:market:kind:timeframe, "
            "e.g. binance:BTC/USDT:USDT:funding:settle"
        )
    venue, kind, timeframe = parts[0], parts[-2], parts[-1]
    market = ":".join(parts[1:-2])
    try:
        series_kind = SeriesKind(kind)
    except ValueError:
        raise ConfigError(
            f"series {text!r}: unknown kind {kind!r}; one of "
            f"{', '.join(k.value for k in SeriesKind)}"
        ) from None
    return SeriesKey(venue, market, series_kind, timeframe)
