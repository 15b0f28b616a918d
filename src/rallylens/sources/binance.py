"""Binance files: kline CSVs of the public bulk archive, funding and metrics files.

Kline CSV (``data/spot|futures/um/.../klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip``),
12 columns, with or without a header line::

    1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704070799999,
    53957248.973789,47134,682.57581,28957416.819645,0

open_time, open, high, low, close, volume (base), close_time, quote_volume,
count, taker_buy_base, taker_buy_quote, ignore. Spot files from 2025 carry
microsecond timestamps; the unit is decided per row by magnitude. A common
8-column variant keeps ``open_time, open, high, low, close, volume,
taker_buy_base, taker_buy_quote`` with a header.

Funding (``.../fundingRate/BTCUSDT-fundingRate-2024-01.csv``)::

    calc_time,funding_interval_hours,last_funding_rate
    1704067200000,8,0.00037409

Metrics (``.../metrics/BTCUSDT-metrics-2024-01-01.csv``), 5-minute samples::

    create_time,symbol,sum_open_interest,sum_open_interest_value,...
    2024-01-01 00:05:00,BTCUSDT,73041.425,3092152381.1,...
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import (
    CLOSE,
    HIGH,
    INTERVAL_HOURS,
    LOW,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD,
    OI_USD_DERIVED,
    OPEN,
    QUOTE_VOLUME,
    RATE,
    TAKER_BUY_BASE,
    TAKER_BUY_QUOTE,
    TRADES,
    TS,
    VOLUME,
)
from rallylens.sources._base import FileOptions, Preset
from rallylens.sources._convert import (
    Parsed,
    finish_series,
    infer_timeframe,
    parse_datetime,
    parse_epoch,
    parse_float,
    parse_int,
    require_columns,
    timeframe_from_seconds,
)
from rallylens.sources._reader import ROW, RawFile, read_strings
from rallylens.sources._symbols import split_pair

__all__ = ["BINANCE_FUNDING", "BINANCE_KLINES", "BINANCE_METRICS"]

KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_SHORT_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "taker_buy_base",
    "taker_buy_quote",
)
_NAME_RE = re.compile(r"^(?P<symbol>[A-Z0-9]+(?:_PERP)?)-(?P<tf>\d+[smhdwM])(?:-|\.|$)")
_EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)
_TIMEFRAMES = {
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
}


def _first_fields(raw: RawFile) -> list[str]:
    return raw.head_lines[0].split(",") if raw.head_lines else []


def _detect_klines(raw: RawFile) -> bool:
    fields = _first_fields(raw)
    if len(fields) == 12 and fields[0].strip().isdigit():
        return True
    return tuple(raw.columns) in (KLINE_COLUMNS, _SHORT_COLUMNS)


def _market_from_path(raw: RawFile, symbol: str) -> str | None:
    parts = [p.lower() for p in raw.path.parts]
    base, quote = split_pair(symbol)
    if "futures" in parts and "um" in parts:
        return f"{base}/{quote}:{quote}"
    if "futures" in parts and "cm" in parts:
        return f"{base}/USD:{base}"
    if "spot" in parts:
        return f"{base}/{quote}"
    return None


def _identity_from_name(raw: RawFile, options: FileOptions) -> FileOptions:
    match = _NAME_RE.match(raw.name)
    if match is None:
        return options.merged(venue="binance")
    symbol, tf = match.group("symbol"), match.group("tf")
    return options.merged(
        venue="binance",
        market=_market_from_path(raw, symbol),
        timeframe=tf if tf in _TIMEFRAMES else None,
    )


def _read_kline_strings(raw: RawFile) -> pl.DataFrame:
    fields = _first_fields(raw)
    has_header = not fields[0].strip().isdigit()
    frame = read_strings(raw, has_header=has_header)
    if not has_header:
        if frame.width - 1 != 12:
            raise ParseError(
                f"{raw.path}: {frame.width - 1} columns; Binance klines have 12 "
                "(open_time ... ignore)"
            )
        data_columns = [c for c in frame.columns if c != ROW]
        frame = frame.rename(dict(zip(data_columns, KLINE_COLUMNS, strict=True)))
    elif "taker_buy_base" in frame.columns:
        frame = frame.rename(
            {
                "taker_buy_base": "taker_buy_volume",
                "taker_buy_quote": "taker_buy_quote_volume",
            }
        )
    return frame


def _read_typed(raw: RawFile, epoch_unit: str) -> pl.DataFrame | None:
    """Fast path for a well-formed headerless 12-column file (None otherwise).

    Anything unusual (a header, a bad value, a missing field) returns None so
    the string path can name the offending line.
    """
    fields = _first_fields(raw)
    if len(fields) != len(KLINE_COLUMNS) or not fields[0].strip().isdigit():
        return None
    floats: dict[str, type[pl.DataType]] = {c: pl.Float64 for c in KLINE_COLUMNS}
    floats.update(open_time=pl.Int64, close_time=pl.Int64, count=pl.Int64)
    try:
        frame = pl.read_csv(
            raw.data,
            has_header=False,
            new_columns=list(KLINE_COLUMNS),
            schema_overrides=floats,
        )
    except pl.exceptions.PolarsError:
        return None
    if (
        frame.width != len(KLINE_COLUMNS)
        or frame.select(KLINE_COLUMNS[:6]).null_count().sum_horizontal().item()
    ):
        return None
    ms = pl.col("open_time")
    factor = {"s": 1_000_000, "ms": 1_000, "us": 1}.get(epoch_unit)
    scale = (
        pl.lit(factor)
        if factor
        else pl.when(ms < 10**11)
        .then(1_000_000)
        .when(ms < 10**14)
        .then(1_000)
        .otherwise(1)
    )
    return (
        frame.select(
            (ms * scale).cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(TS),
            pl.col("open").alias(OPEN),
            pl.col("high").alias(HIGH),
            pl.col("low").alias(LOW),
            pl.col("close").alias(CLOSE),
            pl.col("volume").alias(VOLUME),
            pl.col("quote_volume").alias(QUOTE_VOLUME),
            pl.col("count").alias(TRADES),
            pl.col("taker_buy_volume").alias(TAKER_BUY_BASE),
            pl.col("taker_buy_quote_volume").alias(TAKER_BUY_QUOTE),
            ((pl.col("close_time") - ms) * scale).alias("__span_us"),
        )
        .with_row_index(ROW, offset=1)
        .with_columns(pl.col(ROW).cast(pl.Int64))
    )


def parse_klines(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a Binance kline CSV (12 columns, or the 8-column taker variant)."""
    typed = _read_typed(raw, options.epoch_unit)
    if typed is not None and typed.height and typed[TS].min() >= _EARLIEST:  # type: ignore[operator]
        options = _identity_from_name(raw, options)
        if options.timeframe is None:
            timeframe = _timeframe_from_span(typed["__span_us"])
            options = options.merged(timeframe=timeframe or infer_timeframe(typed[TS]))
        out = typed.drop("__span_us")
        _check_ohlc(raw, out)
        key = options.key(raw, kind=SeriesKind.OHLCV, what="Binance klines")
        return finish_series(raw, key, out, now=options.now)
    frame = _read_kline_strings(raw)
    require_columns(raw, frame, ["open_time", "open", "high", "low", "close", "volume"])
    ts = parse_epoch(raw, frame, "open_time", unit=options.epoch_unit)
    columns = {TS: ts}
    for target, source in (
        (OPEN, "open"),
        (HIGH, "high"),
        (LOW, "low"),
        (CLOSE, "close"),
        (VOLUME, "volume"),
        (QUOTE_VOLUME, "quote_volume"),
        (TAKER_BUY_BASE, "taker_buy_volume"),
        (TAKER_BUY_QUOTE, "taker_buy_quote_volume"),
    ):
        if source in frame.columns:
            columns[target] = parse_float(raw, frame, source).alias(target)
    if "count" in frame.columns:
        columns[TRADES] = parse_int(raw, frame, "count").alias(TRADES)
    out = pl.DataFrame(columns).with_columns(frame[ROW])
    options = _identity_from_name(raw, options)
    if options.timeframe is None:
        options = options.merged(
            timeframe=_timeframe_from_close(raw, frame, ts) or infer_timeframe(ts)
        )
    _check_ohlc(raw, out)
    key = options.key(raw, kind=SeriesKind.OHLCV, what="Binance klines")
    return finish_series(raw, key, out, now=options.now)


def _timeframe_from_close(
    raw: RawFile, frame: pl.DataFrame, ts: pl.Series
) -> str | None:
    if "close_time" not in frame.columns:
        return None
    close = parse_epoch(raw, frame, "close_time")
    return _timeframe_from_span((close - ts).dt.total_microseconds())


def _timeframe_from_span(span_us: pl.Series) -> str | None:
    """Bar length from ``close_time - open_time`` (close is 1 ms or 1 µs early)."""
    span = span_us.drop_nulls().mode().sort()
    if span.is_empty():
        return None
    return timeframe_from_seconds(round((int(span[0]) + 1) / 1_000_000))


def _check_ohlc(raw: RawFile, frame: pl.DataFrame) -> None:
    bad = frame.filter(
        (pl.col(HIGH) < pl.max_horizontal(OPEN, CLOSE, LOW) * (1 - 1e-9))
        | (pl.col(LOW) > pl.min_horizontal(OPEN, CLOSE, HIGH) * (1 + 1e-9))
        | (pl.min_horizontal(OPEN, HIGH, LOW, CLOSE) <= 0)
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise ParseError(
            f"{raw.where(row[ROW])}: inconsistent bar "
            f"(open {row[OPEN]}, high {row[HIGH]}, "
            f"low {row[LOW]}, close {row[CLOSE]}); are the columns in the order "
            "open, high, low, close?"
        )


def parse_funding(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a Binance archive funding-rate CSV (decimal rates, interval per row)."""
    frame = read_strings(raw)
    require_columns(
        raw, frame, ["calc_time", "funding_interval_hours", "last_funding_rate"]
    )
    ts = parse_epoch(raw, frame, "calc_time", unit=options.epoch_unit)
    # settlement times carry a few milliseconds of jitter: settle on the second
    ts = ts.dt.truncate("1s")
    out = pl.DataFrame(
        {
            TS: ts,
            RATE: parse_float(raw, frame, "last_funding_rate"),
            INTERVAL_HOURS: parse_int(raw, frame, "funding_interval_hours").cast(
                pl.Int32
            ),
            ROW: frame[ROW],
        }
    )
    symbol = raw.name.split("-")[0]
    options = options.merged(
        venue="binance", market=_market_from_path(raw, symbol), timeframe="settle"
    )
    return finish_series(
        raw, options.key(raw, kind=SeriesKind.FUNDING), out, now=options.now
    )


def parse_metrics(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a Binance futures metrics CSV into open interest (base and USD)."""
    frame = read_strings(raw)
    require_columns(
        raw,
        frame,
        ["create_time", "symbol", "sum_open_interest", "sum_open_interest_value"],
    )
    symbols = frame["symbol"].unique().to_list()
    if len(symbols) != 1:
        raise ParseError(
            f"{raw.path}: mixed symbols {symbols[:5]}; split the file per symbol"
        )
    out = pl.DataFrame(
        {
            TS: parse_datetime(raw, frame, "create_time"),
            OI_BASE: parse_float(raw, frame, "sum_open_interest"),
            OI_USD: parse_float(raw, frame, "sum_open_interest_value"),
            OI_BASE_DERIVED: pl.Series([False] * frame.height),
            OI_USD_DERIVED: pl.Series([False] * frame.height),
            ROW: frame[ROW],
        }
    )
    base, quote = split_pair(str(symbols[0]))
    options = options.merged(
        venue="binance", market=f"{base}/{quote}:{quote}", timeframe="5m"
    )
    return finish_series(
        raw, options.key(raw, kind=SeriesKind.OPEN_INTEREST), out, now=options.now
    )


BINANCE_KLINES = Preset(
    "binance-klines",
    "Binance kline CSV (bulk archive, 12 or 8 columns)",
    _detect_klines,
    parse_klines,
)
BINANCE_FUNDING = Preset(
    "binance-funding",
    "Binance archive fundingRate CSV",
    lambda raw: (
        raw.columns[:3] == ["calc_time", "funding_interval_hours", "last_funding_rate"]
    ),
    parse_funding,
)
BINANCE_METRICS = Preset(
    "binance-metrics",
    "Binance archive futures metrics CSV (5-minute open interest)",
    lambda raw: (
        raw.columns[:4]
        == ["create_time", "symbol", "sum_open_interest", "sum_open_interest_value"]
    ),
    parse_metrics,
)
