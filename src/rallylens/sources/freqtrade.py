"""freqtrade OHLCV files (feather or CSV), including ``mark`` and ``funding_rate``.

freqtrade stores one file per pair, timeframe and candle type::

    user_data/data/binance/BTC_USDT-1h.feather                       spot
    user_data/data/binance/futures/BTC_USDT_USDT-1h-futures.feather  perp
    user_data/data/binance/futures/BTC_USDT_USDT-1h-mark.feather     mark price
    user_data/data/binance/futures/BTC_USDT_USDT-1h-funding_rate.feather

with columns ``date, open, high, low, close, volume`` (volume in the base
asset). In ``funding_rate`` files ``open`` is the settled rate as a decimal
per interval and the other columns are 0 (freqtrade's convention), and the
rows are settlements whatever timeframe the file name says.
"""

from __future__ import annotations

import re

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import CLOSE, HIGH, INTERVAL_HOURS, LOW, OPEN, RATE, TS, VOLUME
from rallylens.sources._base import FileOptions, Preset, unit_scale
from rallylens.sources._convert import (
    EpochUnit,
    Parsed,
    finish_series,
    infer_timeframe,
    parse_datetime,
    parse_epoch,
    parse_float,
)
from rallylens.sources._reader import ROW, RawFile, read_strings

__all__ = ["FREQTRADE"]

_COLUMNS = ["date", "open", "high", "low", "close", "volume"]
_NAME_RE = re.compile(
    r"^(?P<base>[A-Z0-9]+)_(?P<quote>[A-Z0-9]+)(?:_(?P<settle>[A-Z0-9]+))?-(?P<tf>\d+[mhdwM])"
    r"(?:-(?P<type>futures|mark|index|premiumIndex|funding_rate))?\."
)
_KIND = {
    None: SeriesKind.OHLCV,
    "futures": SeriesKind.OHLCV,
    "mark": SeriesKind.MARK,
    "index": SeriesKind.INDEX,
    "premiumIndex": SeriesKind.PREMIUM,
    "funding_rate": SeriesKind.FUNDING,
}
_EXCHANGES = {
    "binance",
    "bybit",
    "okx",
    "kraken",
    "kucoin",
    "gateio",
    "bitget",
    "hyperliquid",
    "coinbase",
}


def _detect(raw: RawFile) -> bool:
    return [c.lower() for c in raw.columns] == _COLUMNS


def _identity(raw: RawFile, options: FileOptions) -> FileOptions:
    venue = next(
        (p.lower() for p in reversed(raw.path.parts[:-1]) if p.lower() in _EXCHANGES),
        None,
    )
    match = _NAME_RE.match(raw.name)
    if match is None:
        return options.merged(venue=venue)
    base, quote, settle = match.group("base", "quote", "settle")
    market = f"{base}/{quote}:{settle}" if settle else f"{base}/{quote}"
    kind = _KIND[match.group("type")]
    return options.merged(
        venue=venue,
        market=market,
        kind=kind,
        timeframe="settle" if kind is SeriesKind.FUNDING else match.group("tf"),
    )


def _parse_date(raw: RawFile, frame: pl.DataFrame) -> pl.Series:
    sample = str(frame["date"][0]).strip()
    if sample.replace(".", "").isdigit():
        return parse_epoch(raw, frame, "date", unit=raw_unit(sample))
    return parse_datetime(raw, frame, "date")


def raw_unit(sample: str) -> EpochUnit:
    """Epoch unit of a freqtrade feather date stored as integer (ms by default)."""
    return "ms" if len(sample.split(".")[0]) == 13 else "auto"


def parse_freqtrade(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a freqtrade candle, mark or funding-rate file."""
    frame = read_strings(raw)
    frame = frame.rename({c: c.lower() for c in frame.columns if c != ROW})
    options = _identity(raw, options)
    ts = _parse_date(raw, frame)
    if options.kind is SeriesKind.FUNDING:
        return _parse_funding(raw, frame, ts, options)
    out = pl.DataFrame({TS: ts, ROW: frame[ROW]}).with_columns(
        parse_float(raw, frame, c) for c in (OPEN, HIGH, LOW, CLOSE, VOLUME)
    )
    if options.kind in (SeriesKind.MARK, SeriesKind.INDEX, SeriesKind.PREMIUM):
        out = out.with_columns(pl.lit(None, pl.Float64).alias(VOLUME))
    if options.timeframe is None:
        options = options.merged(timeframe=infer_timeframe(ts))
    key = options.key(raw, kind=SeriesKind.OHLCV, what="freqtrade")
    return finish_series(raw, key, out, now=options.now)


def _parse_funding(
    raw: RawFile, frame: pl.DataFrame, ts: pl.Series, options: FileOptions
) -> Parsed:
    rates = parse_float(raw, frame, "open")
    scale = unit_scale(
        raw, options.rate_unit or "decimal", what="funding rate", values=rates
    )
    interval = options.interval_hours or _spacing_hours(raw, ts)
    out = pl.DataFrame(
        {
            TS: ts,
            RATE: rates * scale,
            INTERVAL_HOURS: pl.Series([interval] * frame.height, dtype=pl.Int32),
            ROW: frame[ROW],
        }
    )
    options = options.merged(timeframe="settle")
    key = options.key(raw, kind=SeriesKind.FUNDING, what="freqtrade funding")
    return finish_series(
        raw,
        key,
        out,
        now=options.now,
        notes={"rate": "decimal per interval (freqtrade 'open')"},
    )


def _spacing_hours(raw: RawFile, ts: pl.Series) -> int:
    diffs = ts.sort().diff().drop_nulls().dt.total_seconds()
    if diffs.is_empty():
        raise ParseError(f"{raw.path}: one settlement only; pass --interval-hours")
    hours = int(diffs.mode().sort()[0]) / 3600
    if hours not in (1, 2, 4, 8):
        raise ParseError(
            f"{raw.path}: settlements are {hours:g} h apart, not a funding interval; "
            "pass --interval-hours"
        )
    return int(hours)


FREQTRADE = Preset(
    "freqtrade",
    "freqtrade OHLCV / mark / funding_rate file (feather or CSV)",
    _detect,
    parse_freqtrade,
)
