"""Coinalyze history exports: open interest and funding, several symbols per file.

Open interest (``/open-interest-history`` with ``convert_to_usd=true``), one
row per symbol and bar, ``timestamp`` in seconds, ``oi_*`` in USD::

    rank,coin_name,coin_symbol,symbol,date,timestamp,oi_open,oi_high,oi_low,oi_close
    1,Bitcoin,BTC,BTCUSD_PERP.A,2021-09-15,1631664000,713650900.0,...,718741000.0

The bar's close is stored as ``oi_usd`` (``oi_unit = "base"`` stores it as
``oi_base`` for exports made without ``convert_to_usd``).

Funding (``/funding-rate-history``) exports of the same kind::

    rank,coin_name,coin_symbol,symbol,date,timestamp,funding_rate,funding_rate_pct,fr_open,fr_high,fr_low
    1,Bitcoin,BTC,BTCUSD_PERP.A,2025-08-02,1754092800,0.002154,0.2154,0.001188,0.002154,0.001188

``funding_rate`` is the bar's close as Coinalyze quotes it (percent per
settlement interval: 0.01 is 0.01 %); ``funding_rate_pct`` is that times 100
and is ignored. ``rate_unit`` and ``interval_hours`` must be stated.

Coinalyze symbols are ``{BASE}{QUOTE}_PERP.{exchange code}``: ``.A`` is
Binance, ``BTCUSDT_PERP`` the linear perpetual ``BTC/USDT:USDT`` and
``BTCUSD_PERP`` the coin-margined inverse one ``BTC/USD:BTC``. Unknown
exchange codes need ``--venue``; other symbol forms need ``--market`` (one
symbol per file) or the mapping key ``symbol_map = { "SYMBOL" = "market" }``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, ParseError
from rallylens.schemas import (
    INTERVAL_HOURS,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD,
    OI_USD_DERIVED,
    RATE,
    RATE_HIGH,
    RATE_LOW,
    RATE_OPEN,
    TS,
    parse_market,
)
from rallylens.sources._base import FileOptions, Preset, unit_scale
from rallylens.sources._convert import (
    Parsed,
    finish_series,
    infer_timeframe,
    parse_datetime,
    parse_epoch,
    parse_float,
)
from rallylens.sources._reader import ROW, RawFile, read_strings
from rallylens.sources._symbols import split_pair
from rallylens.sources.coinglass import check_oi_unit

__all__ = ["COINALYZE", "EXCHANGE_CODES", "PRESETS", "parse_coinalyze"]

EXCHANGE_CODES: Mapping[str, str] = {
    "0": "bitmex",
    "2": "deribit",
    "3": "okx",
    "4": "htx",
    "6": "bybit",
    "7": "phemex",
    "8": "dydx",
    "A": "binance",
    "F": "bitfinex",
    "H": "hyperliquid",
    "K": "kraken",
    "Y": "gate",
}
"""Coinalyze exchange codes (the symbol suffix) and their ccxt venue ids."""

_SYMBOL, _TIME, _DATE = "symbol", "timestamp", "date"
_INFO = frozenset({"rank", "coin_name", "coin_symbol", _DATE})
_OI_COLUMNS = frozenset({"oi_open", "oi_high", "oi_low", "oi_close"})
_FUNDING_COLUMNS = frozenset({"funding_rate", "fr_open", "fr_high", "fr_low"})
_FUNDING_IGNORED = "funding_rate_pct"
_SYMBOL_RE = re.compile(r"^(?P<pair>[A-Z0-9_]+?)(?P<perp>_PERP)?\.(?P<code>[A-Z0-9]+)$")
_SOURCE_NOTE = "Coinalyze export"


@dataclass(frozen=True)
class _Identity:
    venue: str
    market: str


# --- detection ---------------------------------------------------------------
def _kind_of(columns: list[str]) -> SeriesKind | None:
    """Return the kind a Coinalyze export with these columns holds, if any."""
    names = set(columns)
    if len(names) != len(columns) or not {_SYMBOL, _TIME} <= names:
        return None
    values = names - _INFO - {_SYMBOL, _TIME}
    if values == _OI_COLUMNS:
        return SeriesKind.OPEN_INTEREST
    if values - {_FUNDING_IGNORED} == _FUNDING_COLUMNS:
        return SeriesKind.FUNDING
    return None


def _detect(raw: RawFile) -> bool:
    return _kind_of(raw.columns) is not None


# --- symbols -----------------------------------------------------------------
def _symbol_map(raw: RawFile, options: FileOptions) -> Mapping[str, str]:
    table = options.extra.get("symbol_map", {})
    if not isinstance(table, Mapping):
        raise ParseError(f'{raw.path}: symbol_map must be a table of "SYMBOL" = market')
    return {str(k): str(v) for k, v in table.items()}


def _market(raw: RawFile, symbol: str, pair: str, perp: bool) -> str:
    if not perp:
        raise ParseError(
            f"{raw.path}: cannot tell which contract Coinalyze symbol {symbol!r} is "
            "(only {BASE}{QUOTE}_PERP.{code} is decoded); pass --market for a "
            'one-symbol file or add symbol_map = { "SYMBOL" = "BTC/USDT:USDT" } '
            "to the mapping rule"
        )
    try:
        base, quote = split_pair(pair)
    except ParseError as exc:
        raise ParseError(f"{raw.path}: Coinalyze symbol {symbol!r}: {exc}") from exc
    return f"{base}/USD:{base}" if quote == "USD" else f"{base}/{quote}:{quote}"


def _identity(
    raw: RawFile, symbol: str, options: FileOptions, mapped: Mapping[str, str]
) -> _Identity:
    """Venue and market of one Coinalyze symbol."""
    match = _SYMBOL_RE.match(symbol)
    code = match.group("code") if match else None
    venue = options.venue or EXCHANGE_CODES.get(code or "")
    if venue is None:
        raise ParseError(
            f"{raw.path}: Coinalyze symbol {symbol!r} has no known exchange code "
            f"(known: {', '.join(f'.{c} {v}' for c, v in EXCHANGE_CODES.items())}); "
            "pass --venue (e.g. --venue binance) or set venue in the mapping rule"
        )
    market = mapped.get(symbol) or options.market
    if market is None and match is None:
        raise ParseError(
            f"{raw.path}: Coinalyze symbol {symbol!r} is not SYMBOL.CODE; pass "
            "--market or map it with symbol_map in the mapping rule"
        )
    if market is None:
        assert match is not None
        market = _market(raw, symbol, match.group("pair"), bool(match.group("perp")))
    try:
        parse_market(market)
    except ConfigError as exc:
        raise ParseError(f"{raw.path}: symbol {symbol!r}: {exc}") from exc
    return _Identity(venue, market)


def _identities(
    raw: RawFile, symbols: list[str], options: FileOptions
) -> dict[str, _Identity]:
    """Venue and market per symbol, refusing overrides that would merge symbols."""
    if len(symbols) > 1 and options.market is not None:
        raise ParseError(
            f"{raw.path}: the file holds {len(symbols)} symbols ({', '.join(symbols)}) "
            "so one --market cannot apply; use symbol_map in a mapping rule"
        )
    mapped = _symbol_map(raw, options)
    out = {s: _identity(raw, s, options, mapped) for s in symbols}
    keys = [(i.venue, i.market) for i in out.values()]
    if len(set(keys)) != len(keys):
        raise ParseError(
            f"{raw.path}: symbols {', '.join(symbols)} map to the same venue and "
            "market; drop --venue or fix symbol_map"
        )
    return out


# --- values --------------------------------------------------------------------
def _read_ts(raw: RawFile, frame: pl.DataFrame, options: FileOptions) -> pl.Series:
    """Parse ``timestamp`` and check its day against ``date`` when present."""
    ts = parse_epoch(raw, frame, _TIME, unit=options.epoch_unit)
    if _DATE in frame.columns:
        day = parse_datetime(raw, frame, _DATE).dt.date()
        bad = (ts.dt.date() != day).fill_null(False)
        if bad.any():
            row = frame.filter(bad).row(0, named=True)
            raise ParseError(
                f"{raw.where(row[ROW], _TIME)}: timestamp {row[_TIME]} is not on "
                f"{row[_DATE]}; wrong epoch unit? pass --epoch-unit s or ms"
            )
    return ts


def _oi_columns(
    raw: RawFile, part: pl.DataFrame, options: FileOptions
) -> dict[str, pl.Series]:
    close = parse_float(raw, part, "oi_close")
    n = part.height
    return {
        OI_BASE if options.oi_unit == "base" else OI_USD: close,
        OI_BASE_DERIVED: pl.Series([False] * n),
        OI_USD_DERIVED: pl.Series([False] * n),
    }


def _funding_columns(
    raw: RawFile, part: pl.DataFrame, options: FileOptions
) -> dict[str, pl.Series]:
    if options.rate_unit is None or options.interval_hours is None:
        raise ParseError(
            f"{raw.path}: state the funding unit and interval: Coinalyze quotes "
            "percent per settlement (0.01 = 0.01 %), so pass --rate-unit percent "
            "and --interval-hours (8 for most perpetuals), or set rate_unit and "
            "interval_hours in the mapping rule"
        )
    close = parse_float(raw, part, "funding_rate")
    scale = unit_scale(raw, options.rate_unit, what="Coinalyze funding", values=close)
    return {
        RATE: close * scale,
        INTERVAL_HOURS: pl.Series(
            [options.interval_hours] * part.height, dtype=pl.Int32
        ),
        RATE_OPEN: parse_float(raw, part, "fr_open", scale=scale),
        RATE_HIGH: parse_float(raw, part, "fr_high", scale=scale),
        RATE_LOW: parse_float(raw, part, "fr_low", scale=scale),
    }


def _parse_symbol(
    raw: RawFile,
    part: pl.DataFrame,
    *,
    symbol: str,
    identity: _Identity,
    kind: SeriesKind,
    options: FileOptions,
) -> Parsed:
    ts = _read_ts(raw, part, options)
    opts = options.merged(
        venue=identity.venue, market=identity.market, timeframe=infer_timeframe(ts)
    )
    key = opts.key(raw, kind=kind, what=f"Coinalyze {symbol}")
    if kind is SeriesKind.OPEN_INTEREST:
        columns = _oi_columns(raw, part, options)
        unit = options.oi_unit or "usd"
        check_oi_unit(raw, key, next(iter(columns.values())), unit)
        note = f"oi_close in {unit}"
    else:
        columns = _funding_columns(raw, part, options)
        note = f"rate = funding_rate ({options.rate_unit}) as decimal"
    out = pl.DataFrame({TS: ts, ROW: part[ROW], **columns})
    notes = {"source": _SOURCE_NOTE, "symbol": symbol, "units": note}
    return finish_series(raw, key, out, now=options.now, notes=notes)


def parse_coinalyze(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a Coinalyze open-interest or funding export, one series per symbol.

    Raises
    ------
    ParseError
        If the columns are not a Coinalyze export, a value is malformed
        (naming the line), a symbol's exchange or contract cannot be told, or
        a funding file lacks its unit or interval.
    """
    frame = read_strings(raw)
    kind = _kind_of([c for c in frame.columns if c != ROW])
    if kind is None:
        raise ParseError(
            f"{raw.path}: columns {frame.columns[:12]} are not a Coinalyze export "
            "(symbol, timestamp and oi_open..oi_close or funding_rate, fr_open..)"
        )
    if options.kind is not None and options.kind is not kind:
        raise ParseError(
            f"{raw.path}: the columns hold {kind.value}, not {options.kind.value}; "
            "drop the kind option or fix the mapping rule"
        )
    frame = frame.with_columns(pl.col(_SYMBOL).str.strip_chars().replace("", None))
    if frame[_SYMBOL].null_count():
        line = frame.filter(pl.col(_SYMBOL).is_null())[ROW][0]
        raise ParseError(f"{raw.where(line, _SYMBOL)}: empty symbol")
    symbols = sorted(str(s) for s in frame[_SYMBOL].unique())
    identities = _identities(raw, symbols, options)
    parsed = Parsed()
    for symbol in symbols:
        part = frame.filter(pl.col(_SYMBOL) == symbol)
        parsed.add(
            _parse_symbol(
                raw,
                part,
                symbol=symbol,
                identity=identities[symbol],
                kind=kind,
                options=options,
            )
        )
    return parsed


COINALYZE = Preset(
    "coinalyze",
    "Coinalyze open-interest / funding export (several symbols per file)",
    _detect,
    parse_coinalyze,
)

PRESETS: tuple[Preset, ...] = (COINALYZE,)
