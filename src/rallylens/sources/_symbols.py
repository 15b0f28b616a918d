"""Venue symbol spellings and their ccxt unified markets."""

from __future__ import annotations

import re

from rallylens.exceptions import ParseError

__all__ = ["QUOTES", "split_pair"]

QUOTES = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "DAI",
    "USD",
    "EUR",
    "BTC",
    "ETH",
    "BNB",
)
"""Quote currencies recognised at the end of a concatenated pair, longest first."""


def split_pair(symbol: str) -> tuple[str, str]:
    """Split a venue pair like ``BTCUSDT``, ``BTC_USDT`` or ``BTC-USDT``.

    Raises
    ------
    ParseError
        If no known quote currency ends the symbol.

    Examples
    --------
    >>> split_pair("ETHUSDT")
    ('ETH', 'USDT')
    """
    clean = symbol.upper().replace("_PERP", "")
    parts = re.split(r"[/_\\-]", clean)
    if len(parts) >= 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    for quote in QUOTES:
        if clean.endswith(quote) and len(clean) > len(quote):
            return clean[: -len(quote)], quote
    raise ParseError(
        f"cannot tell base and quote in symbol {symbol!r}; pass --market, "
        "e.g. --market BTC/USDT"
    )
