"""CryptoDataDownload exchange CSVs (``Binance_BTCUSDT_1h.csv``).

A banner line with the site's URL may precede the header::

    https://www.CryptoDataDownload.com
    unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount
    1623283200000,2021-06-10 00:00:00,BTC/USDT,37388.05,37600.0,...,10796
    ...
    1502942400,2017-08-17 04-AM,BTC/USDT,16199.91,...

Rows are newest first. ``unix`` is in milliseconds in recent rows and in
(float) seconds in older ones; ``date`` changes format in the same way
(``YYYY-MM-DD HH-AM/PM``). Two export generations may overlap: duplicates
are dropped (the row with more values wins). ``Volume <BASE>`` is in the
base asset, ``Volume <QUOTE>`` in the quote currency.
"""

from __future__ import annotations

import re

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import (
    CLOSE,
    HIGH,
    LOW,
    OPEN,
    QUOTE_VOLUME,
    TRADES,
    TS,
    VOLUME,
    parse_market,
)
from rallylens.sources._base import FileOptions, Preset
from rallylens.sources._convert import (
    Parsed,
    finish_series,
    parse_epoch,
    parse_float,
    parse_int,
    require_columns,
)
from rallylens.sources._reader import ROW, RawFile, read_strings

__all__ = ["CRYPTODATADOWNLOAD"]

_NAME_RE = re.compile(
    r"^(?P<venue>[A-Za-z]+)_(?P<pair>[A-Z0-9]+)_(?P<tf>d|\d+h|minute|1m|1d)\.csv$"
)
_TF = {"d": "1d", "1d": "1d", "minute": "1m", "1m": "1m"}


def _detect(raw: RawFile) -> bool:
    cols = [c.lower() for c in raw.columns]
    return cols[:3] == ["unix", "date", "symbol"] and any(
        c.startswith("volume ") for c in cols
    )


def parse_cdd(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a CryptoDataDownload CSV."""
    frame = read_strings(raw)
    frame = frame.rename({c: c.lower() for c in frame.columns if c != ROW})
    require_columns(raw, frame, ["unix", "symbol", "open", "high", "low", "close"])
    symbols = frame["symbol"].str.strip_chars().unique().to_list()
    if len(symbols) != 1:
        raise ParseError(
            f"{raw.path}: mixed symbols {sorted(map(str, symbols))[:5]} in one file; "
            "split it per symbol before importing"
        )
    symbol = str(symbols[0]).upper()
    market = symbol if "/" in symbol else None
    if market is not None:
        parse_market(market)
    match = _NAME_RE.match(raw.name)
    if match is not None:
        tf = _TF.get(match.group("tf"), match.group("tf"))
        options = options.merged(
            venue=match.group("venue").lower(), timeframe=tf, market=market
        )
    else:
        options = options.merged(market=market)
    out = pl.DataFrame(
        {TS: parse_epoch(raw, frame, "unix", unit=options.epoch_unit), ROW: frame[ROW]}
    )
    out = out.with_columns(parse_float(raw, frame, c) for c in (OPEN, HIGH, LOW, CLOSE))
    out = out.with_columns(_volumes(raw, frame, options.market))
    if "tradecount" in frame.columns:
        out = out.with_columns(parse_int(raw, frame, "tradecount").alias(TRADES))
    key = options.key(raw, kind=SeriesKind.OHLCV, what="CryptoDataDownload")
    return finish_series(raw, key, out, now=options.now)


def _volumes(raw: RawFile, frame: pl.DataFrame, market: str | None) -> list[pl.Series]:
    volume_cols = [c for c in frame.columns if c.startswith("volume ")]
    if market is None:
        return []
    parsed = parse_market(market)
    out = []
    for col in volume_cols:
        unit = col.split(" ", 1)[1].upper()
        if unit == parsed.base:
            out.append(parse_float(raw, frame, col).alias(VOLUME))
        elif unit == parsed.quote:
            out.append(parse_float(raw, frame, col).alias(QUOTE_VOLUME))
    return out


CRYPTODATADOWNLOAD = Preset(
    "cryptodatadownload", "CryptoDataDownload exchange CSV", _detect, parse_cdd
)
