"""Coinglass API v4 exports: one CSV (or Parquet) per history endpoint.

A dump of a Coinglass history endpoint has the payload's field names as
columns: ``time`` (or ``timestamp``) plus the values, optionally with the
provenance columns ``datetime_utc`` (ISO copy of ``time``) and
``source_snapshot``::

    datetime_utc,time,aggregated_long_liquidation_usd,aggregated_short_liquidation_usd,source_snapshot
    2020-12-23T00:00:00Z,1608681600000,30625438.20254,24042210.60383,20250512-old-v2

``time`` is in milliseconds except in a few endpoints (Coinbase premium,
Bitfinex margin) where it is in seconds; the unit is decided per row. When
``datetime_utc`` is present it must agree with ``time``.

The value columns decide what the file holds:

==========================================  ============  =========================
value columns                               kind          stored as
==========================================  ============  =========================
aggregated_long/short_liquidation_usd       liquidations  long_usd, short_usd
aggregated_buy/sell_volume_usd,             taker_volume  buy_usd, sell_usd
taker_buy/sell_volume_usd
premium, premium_rate (percent)             flows         coinbase_premium_usd,
                                                          coinbase_premium_rate
long_quantity, short_quantity               positioning   margin_long_base,
                                                          margin_short_base
<p>_long_percent, <p>_short_percent,        positioning   <p>_long_share,
<p>_long_short_ratio                                      <p>_short_share, ratio
flow_usd, etf_flows (JSON), [price_usd]     flows         etf_net_flow_usd,
                                                          etf_net_flow_usd:<TICKER>
open, high, low, close, volume_usd          ohlcv         candles (quote_volume)
open, high, low, close                      (ambiguous)   funding or open_interest
price, <EXCHANGE>, <EXCHANGE>, ...          (ambiguous)   one series per exchange
==========================================  ============  =========================

The plain OHLC shape is used by Coinglass for funding rates *and* open
interest, so ``kind`` must be given (a mapping rule or ``--kind``):

* ``funding`` needs ``rate_unit`` (Coinglass delivers percent) and
  ``interval_hours``; the bar's close is stored as ``rate`` and its OHLC as
  ``rate_open/high/low``;
* ``open_interest`` needs ``oi_unit``; the close is stored as ``oi_usd`` or
  ``oi_base``. Some endpoints return coins although asked for ``unit=usd``:
  a BTC/ETH aggregate whose median is below the smallest plausible USD value
  is refused.

Wide per-exchange tables (``oi_by_exchange``, ``options_*_by_exchange``)
yield one series per non-empty exchange column, the venue being the column
name lower-cased (``CRYPTO.COM`` -> ``cryptocom``; the mapping key
``exchange_columns = { COLUMN = "venue" }`` overrides a name, ``""`` skips
the column). ``kind`` decides the target: ``open_interest`` (with
``oi_unit``), ``options_summary`` (metric ``options_oi_usd``) or
``options_activity`` (metric ``options_volume_usd``). The ``price`` column
is not stored.

Venue, market and timeframe are not in the files: they come from a mapping
rule or the command line (the timeframe is inferred from the spacing of the
rows when not given). Files with the provenance columns, or whose value
columns are Coinglass-specific, are recognised automatically; a bare
``time,open,high,low,close`` export needs ``--preset coinglass``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import (
    BUY_USD,
    CANDLES,
    CLOSE,
    HIGH,
    INTERVAL_HOURS,
    LONG_USD,
    LOW,
    METRIC,
    METRICS,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD,
    OI_USD_DERIVED,
    OPEN,
    QUOTE_VOLUME,
    RATE,
    RATE_HIGH,
    RATE_LOW,
    RATE_OPEN,
    SELL_USD,
    SHORT_USD,
    TS,
    VALUE,
    SeriesKey,
    parse_market,
    schema_for,
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

__all__ = ["COINGLASS", "PRESETS", "check_oi_unit", "parse_coinglass"]

_TIME_COLUMNS = ("time", "timestamp")
_ISO_COLUMN = "datetime_utc"
_PROVENANCE = frozenset({_ISO_COLUMN, "source_snapshot"})
_SOURCE_NOTE = {"source": "Coinglass API v4 export"}

_RATIO_RE = re.compile(r"^(?P<p>[a-z][a-z_]*)_long_percent$")
_EXCHANGE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.\- ]*$")
_WIDE_PRICE = "price"
_ETF_TOTAL, _ETF_DETAIL, _ETF_PRICE = "flow_usd", "etf_flows", "price_usd"
_ETF_METRIC = "etf_net_flow_usd"

_VENUE_ALIASES = {
    "crypto.com": "cryptocom",
    "gate.io": "gate",
    "gateio": "gate",
    "huobi": "htx",
    "okex": "okx",
}
"""Coinglass exchange names whose ccxt id is not the lower-cased name."""

_OI_MIN_USD = {"BTC": 10e6, "ETH": 50e6}
"""Below this median an all-contract OI aggregate cannot be in USD (it is coins)."""

_OI_MAX_BASE = {"BTC": 21e6, "ETH": 150e6}
"""Above this median OI cannot be in coins: more than the asset's supply."""


@dataclass(frozen=True)
class _Shape:
    """A Coinglass payload shape: its value columns and where they go.

    ``targets`` maps each source column to a schema column or, for metric
    kinds, to a metric name; ``scales`` converts units (percent -> decimal).
    ``distinctive`` shapes are recognised without provenance columns.
    """

    name: str
    kind: SeriesKind | None
    targets: Mapping[str, str]
    scales: Mapping[str, float] = field(default_factory=dict)
    distinctive: bool = True


_OHLC = {"open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE}
_FIXED_SHAPES = (
    _Shape(
        "liquidations",
        SeriesKind.LIQUIDATIONS,
        {
            "aggregated_long_liquidation_usd": LONG_USD,
            "aggregated_short_liquidation_usd": SHORT_USD,
        },
    ),
    _Shape(
        "liquidations",
        SeriesKind.LIQUIDATIONS,
        {"long_liquidation_usd": LONG_USD, "short_liquidation_usd": SHORT_USD},
    ),
    _Shape(
        "taker volume",
        SeriesKind.TAKER_VOLUME,
        {"aggregated_buy_volume_usd": BUY_USD, "aggregated_sell_volume_usd": SELL_USD},
    ),
    _Shape(
        "taker volume",
        SeriesKind.TAKER_VOLUME,
        {"taker_buy_volume_usd": BUY_USD, "taker_sell_volume_usd": SELL_USD},
    ),
    _Shape(
        "Coinbase premium",
        SeriesKind.FLOWS,
        {"premium": "coinbase_premium_usd", "premium_rate": "coinbase_premium_rate"},
        {"premium_rate": 0.01},
    ),
    _Shape(
        "margin long/short",
        SeriesKind.POSITIONING,
        {"long_quantity": "margin_long_base", "short_quantity": "margin_short_base"},
    ),
    _Shape(
        "price candles",
        SeriesKind.OHLCV,
        {**_OHLC, "volume_usd": QUOTE_VOLUME},
        distinctive=False,
    ),
    _Shape("OHLC", None, _OHLC, distinctive=False),
)
_ETF_SHAPE = _Shape("ETF flows", SeriesKind.FLOWS, {_ETF_TOTAL: _ETF_METRIC})
_WIDE_SHAPE = _Shape("by-exchange table", None, {}, distinctive=False)
_KNOWN_VALUES = frozenset(
    c for shape in _FIXED_SHAPES for c in shape.targets
) | frozenset({_ETF_TOTAL, _ETF_DETAIL, _ETF_PRICE})


# --- recognising the shape ---------------------------------------------------
def _time_column(columns: Sequence[str]) -> str | None:
    found = [c for c in _TIME_COLUMNS if c in columns]
    return found[0] if len(found) == 1 else None


def _ratio_shape(values: frozenset[str]) -> _Shape | None:
    prefixes = [m.group("p") for c in values if (m := _RATIO_RE.match(c))]
    if len(prefixes) != 1 or len(values) != 3:
        return None
    p = prefixes[0]
    expected = {f"{p}_long_percent", f"{p}_short_percent", f"{p}_long_short_ratio"}
    if values != expected:
        return None
    return _Shape(
        f"{p} ratio",
        SeriesKind.POSITIONING,
        {
            f"{p}_long_percent": f"{p}_long_share",
            f"{p}_short_percent": f"{p}_short_share",
            f"{p}_long_short_ratio": f"{p}_long_short_ratio",
        },
        {f"{p}_long_percent": 0.01, f"{p}_short_percent": 0.01},
    )


def _classify(columns: Sequence[str]) -> _Shape | None:
    """Return the shape of a file with these columns (None: not Coinglass)."""
    time_column = _time_column(columns)
    if time_column is None or len(set(columns)) != len(columns):
        return None
    values = frozenset(columns) - _PROVENANCE - {time_column}
    for shape in _FIXED_SHAPES:
        if values == frozenset(shape.targets):
            return shape
    if {_ETF_TOTAL, _ETF_DETAIL} <= values <= {_ETF_TOTAL, _ETF_DETAIL, _ETF_PRICE}:
        return _ETF_SHAPE
    exchanges = values - {_WIDE_PRICE}
    if (
        _WIDE_PRICE in values
        and exchanges
        and not exchanges & _KNOWN_VALUES
        and all(_EXCHANGE_RE.match(c) for c in exchanges)
    ):
        return _WIDE_SHAPE
    return _ratio_shape(values)


def _detect(raw: RawFile) -> bool:
    shape = _classify(raw.columns)
    if shape is None:
        return False
    return shape.distinctive or bool(_PROVENANCE & set(raw.columns))


# --- shared steps ------------------------------------------------------------
@dataclass(frozen=True)
class _File:
    """A file being parsed: raw bytes, string columns, parsed times, options."""

    raw: RawFile
    frame: pl.DataFrame
    base: pl.DataFrame
    options: FileOptions

    def floats(self, column: str, scale: float = 1.0) -> pl.Series:
        return parse_float(self.raw, self.frame, column, scale=scale)

    def key(self, kind: SeriesKind, what: str, venue: str | None = None) -> SeriesKey:
        options = replace(self.options, venue=venue) if venue else self.options
        if options.timeframe is None:
            options = options.merged(timeframe=infer_timeframe(self.base[TS]))
        return options.key(self.raw, kind=kind, what=f"Coinglass {what}")

    def finish(self, key: SeriesKey, out: pl.DataFrame, **notes: str) -> Parsed:
        notes = {**_SOURCE_NOTE, **notes}
        return finish_series(self.raw, key, out, now=self.options.now, notes=notes)

    def fail(self, message: str) -> ParseError:
        return ParseError(f"{self.raw.path}: {message}")


def _read_ts(raw: RawFile, frame: pl.DataFrame, options: FileOptions) -> pl.Series:
    """Parse ``time``/``timestamp`` and check it against ``datetime_utc``."""
    column = _time_column(frame.columns)
    assert column is not None
    ts = parse_epoch(raw, frame, column, unit=options.epoch_unit)
    if _ISO_COLUMN in frame.columns:
        bad = (parse_datetime(raw, frame, _ISO_COLUMN) != ts).fill_null(False)
        if bad.any():
            row = frame.filter(bad)[ROW][0]
            raise ParseError(
                f"{raw.where(row, _ISO_COLUMN)}: disagrees with '{column}'; wrong "
                "epoch unit? pass --epoch-unit s or ms"
            )
    return ts


def _metric_rows(base: pl.DataFrame, values: Mapping[str, pl.Series]) -> pl.DataFrame:
    """Melt one column per metric into (ts, metric, value) rows, nulls dropped."""
    parts = [
        base.with_columns(pl.lit(name).alias(METRIC), series.alias(VALUE))
        for name, series in values.items()
    ]
    return pl.concat(parts).filter(pl.col(VALUE).is_not_null())


# --- shapes with a fixed meaning ---------------------------------------------
def _resolve_kind(f: _File, shape: _Shape) -> SeriesKind:
    assert shape.kind is not None
    kind = f.options.kind
    if kind is None or schema_for(kind) is schema_for(shape.kind):
        return kind or shape.kind
    raise f.fail(
        f"the columns {sorted(shape.targets)} hold {shape.kind.value} data, not "
        f"{kind.value}; drop the kind option or fix the mapping rule"
    )


def _parse_mapped(f: _File, shape: _Shape) -> Parsed:
    """Columns renamed (and rescaled) into a schema, or into metric rows."""
    key = f.key(_resolve_kind(f, shape), shape.name)
    values = {
        target: f.floats(source, shape.scales.get(source, 1.0))
        for source, target in shape.targets.items()
    }
    if shape.kind is SeriesKind.POSITIONING and shape.scales:
        _check_shares(f, shape, values)
    if key.schema is METRICS:
        out = _metric_rows(f.base, values)
    else:
        out = f.base.with_columns(s.alias(t) for t, s in values.items())
    scaled = ", ".join(f"{c} percent -> decimal" for c in shape.scales)
    return f.finish(key, out, **({f"units: {shape.name}": scaled} if scaled else {}))


def _check_shares(f: _File, shape: _Shape, values: Mapping[str, pl.Series]) -> None:
    """Long and short percentages must add up to 100 (they are not decimals)."""
    long, short = (values[shape.targets[c]] for c in shape.scales)
    total = (long + short).median()
    if isinstance(total, float) and abs(total - 1.0) > 0.02:
        raise f.fail(
            f"{', '.join(shape.scales)} add up to {total * 100:.4g} on the median, "
            "not 100; they are not percentages of accounts/positions"
        )


def _parse_etf(f: _File) -> Parsed:
    """Total net flow plus one metric per ETF ticker from the JSON column."""
    key = f.key(_resolve_kind(f, _ETF_SHAPE), _ETF_SHAPE.name)
    total = _metric_rows(f.base, {_ETF_METRIC: f.floats(_ETF_TOTAL)})
    detail = _etf_tickers(f).join(f.base, on=ROW).select(total.columns)
    note = (
        f"{_ETF_METRIC} is the total net flow; {_ETF_METRIC}:<TICKER> per fund "
        "(from the etf_flows JSON; may not add up to the total on every day)"
    )
    return f.finish(key, pl.concat([total, detail]), etf=note)


def _etf_tickers(f: _File) -> pl.DataFrame:
    rows: list[tuple[int, str, float | None]] = [
        (row, f"{_ETF_METRIC}:{ticker}", value)
        for row, text in f.frame.select(ROW, _ETF_DETAIL).iter_rows()
        for ticker, value in _etf_items(f.raw, row, text)
    ]
    schema = {ROW: pl.Int64, METRIC: pl.String, VALUE: pl.Float64}
    out = pl.DataFrame(rows, schema=schema, orient="row")
    return out.filter(pl.col(VALUE).is_not_null())


def _etf_items(
    raw: RawFile, row: int, text: str | None
) -> list[tuple[str, float | None]]:
    """``[{"etf_ticker": "IBIT", "flow_usd": 111700000.0}, ...]`` as pairs."""
    if text is None or not text.strip():
        return []
    where = raw.where(row, _ETF_DETAIL)
    try:
        items = json.loads(text)
        pairs = [(str(i["etf_ticker"]).upper(), i.get("flow_usd")) for i in items]
    except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise ParseError(
            f"{where}: not a JSON list of {{etf_ticker, flow_usd}} objects ({exc})"
        ) from exc
    for ticker, value in pairs:
        if value is not None and not isinstance(value, int | float):
            raise ParseError(
                f"{where}: flow_usd of {ticker} is not a number ({value!r})"
            )
    return [(t, None if v is None else float(v)) for t, v in pairs]


# --- the ambiguous OHLC shape -----------------------------------------------
def _parse_ohlc(f: _File) -> Parsed:
    kind = f.options.kind
    if kind is SeriesKind.FUNDING:
        return _parse_funding(f)
    if kind is SeriesKind.OPEN_INTEREST:
        return _parse_oi(f)
    if kind is not None and schema_for(kind) is CANDLES:
        return _parse_mapped(f, _Shape("price candles", kind, _OHLC))
    given = f"kind {kind.value!r} does not fit" if kind else "no kind is given for"
    raise f.fail(
        f"{given} this open/high/low/close file; Coinglass uses the same columns "
        "for funding rates and open interest: pass --kind funding (with --rate-unit "
        "and --interval-hours) or --kind open_interest (with --oi-unit), or set "
        "kind in the mapping rule"
    )


def _parse_funding(f: _File) -> Parsed:
    """Funding-rate OHLC bars: close -> rate, the rest -> rate_open/high/low."""
    close, options = f.floats("close"), f.options
    scale = unit_scale(f.raw, options.rate_unit, what="funding rate", values=close)
    if options.interval_hours is None:
        raise f.fail(
            "the settlement interval the funding rates refer to is not stated; pass "
            "--interval-hours (Coinglass quotes most venues per 8 h) or set "
            "interval_hours in the mapping rule"
        )
    out = f.base.with_columns(
        (close * scale).alias(RATE),
        pl.lit(options.interval_hours, pl.Int32).alias(INTERVAL_HOURS),
        f.floats("open", scale).alias(RATE_OPEN),
        f.floats("high", scale).alias(RATE_HIGH),
        f.floats("low", scale).alias(RATE_LOW),
    )
    note = (
        f"close of each bar, {options.rate_unit} -> decimal per "
        f"{options.interval_hours} h; rate_open/high/low from the bar"
    )
    return f.finish(f.key(SeriesKind.FUNDING, "funding"), out, rate=note)


def _parse_oi(f: _File) -> Parsed:
    """Open-interest OHLC bars: the close in the stated unit."""
    unit = _require_oi_unit(f)
    close = f.floats("close")
    key = f.key(SeriesKind.OPEN_INTEREST, "open interest")
    check_oi_unit(f.raw, key, close, unit)
    return f.finish(key, _oi_frame(f.base, close, unit), oi=f"bar close, in {unit}")


def _oi_frame(base: pl.DataFrame, values: pl.Series, unit: str) -> pl.DataFrame:
    column = OI_USD if unit == "usd" else OI_BASE
    return base.with_columns(
        values.alias(column),
        pl.lit(False).alias(OI_BASE_DERIVED),
        pl.lit(False).alias(OI_USD_DERIVED),
    ).filter(pl.col(column).is_not_null())


def _require_oi_unit(f: _File) -> str:
    if f.options.oi_unit is None:
        raise f.fail(
            "the unit of the open interest is not stated; pass --oi-unit usd or "
            "--oi-unit base (coins), or set oi_unit in the mapping rule (some "
            "Coinglass endpoints return coins even when asked for USD)"
        )
    return f.options.oi_unit


def check_oi_unit(
    raw: RawFile,
    key: SeriesKey,
    values: pl.Series,
    unit: str,
    *,
    aggregate_floor: bool = True,
) -> None:
    """Refuse open-interest values that contradict their stated unit.

    Parameters
    ----------
    raw : RawFile
        The file, for the message.
    key : SeriesKey
        The series; only BTC and ETH are checked.
    values : pl.Series
        Open interest as in the file.
    unit : {"usd", "base"}
        The unit the user stated.
    aggregate_floor : bool, default True
        Apply the "too small for USD" test to aggregates (a wildcard market
        or venue ``all``); off for single venues of a by-exchange table.

    Raises
    ------
    ParseError
        If ``unit`` is ``usd`` but an aggregate's median is below 10 million
        (BTC) or 50 million (ETH), which only coins can be; or if ``unit`` is
        ``base`` but the median exceeds the asset's supply.
    """
    median = values.median()
    if not isinstance(median, float):
        return
    asset = key.asset
    market_type = parse_market(key.market).market_type
    aggregate = aggregate_floor and (key.venue == "all" or market_type == "aggregate")
    if unit == "usd" and aggregate and median < _OI_MIN_USD.get(asset, 0.0):
        raise ParseError(
            f"{raw.path}: open interest of {key} has median {median:,.0f}, far too "
            f"small for USD; the values look like coins ({asset}): pass --oi-unit "
            'base (set oi_unit = "base" in the mapping rule)'
        )
    if unit == "base" and median > _OI_MAX_BASE.get(asset, float("inf")):
        raise ParseError(
            f"{raw.path}: open interest of {key} has median {median:,.0f} {asset}, "
            "more than exists; the values look like USD: pass --oi-unit usd"
        )


# --- wide per-exchange tables --------------------------------------------------
def _exchange_venues(f: _File) -> dict[str, str]:
    """Exchange column -> venue id, honouring ``exchange_columns`` overrides."""
    overrides = f.options.extra.get("exchange_columns", {})
    if not isinstance(overrides, Mapping):
        raise f.fail('exchange_columns must be a table of COLUMN = "venue"')
    skip = {ROW, _WIDE_PRICE, *_TIME_COLUMNS, *_PROVENANCE}
    venues: dict[str, str] = {}
    for column in (c for c in f.frame.columns if c not in skip):
        name = str(overrides.get(column, _venue_id(column)))
        if name and name in venues.values():
            first = next(c for c, v in venues.items() if v == name)
            raise f.fail(
                f"columns {first!r} and {column!r} both map to venue {name!r}; "
                "rename one with exchange_columns in the mapping rule"
            )
        if name:
            venues[column] = name
    return venues


def _venue_id(column: str) -> str:
    lower = column.strip().lower()
    return _VENUE_ALIASES.get(lower, re.sub(r"[^a-z0-9]", "", lower))


def _wide_target(f: _File) -> tuple[SeriesKind, str]:
    """Return the kind, and the OI unit or metric the exchange values go to."""
    kind = f.options.kind
    if kind is SeriesKind.OPEN_INTEREST:
        return kind, _require_oi_unit(f)
    if kind is SeriesKind.OPTIONS_SUMMARY:
        return kind, f"options_oi_{f.options.oi_unit or 'usd'}"
    if kind is SeriesKind.OPTIONS_ACTIVITY:
        return kind, "options_volume_usd"
    raise f.fail(
        "a Coinglass by-exchange table needs a kind: open_interest (futures OI, "
        "with --oi-unit), options_summary (options OI in USD) or options_activity "
        "(options volume in USD); set kind in the mapping rule"
    )


def _parse_wide(f: _File) -> Parsed:
    """One series per exchange column; empty columns and empty cells skipped."""
    if f.options.venue is not None:
        raise f.fail(
            "a by-exchange table takes each venue from its column name; drop the "
            f"venue option ({f.options.venue!r}) or use exchange_columns"
        )
    kind, target = _wide_target(f)
    parsed, skipped = Parsed(), []
    for column, venue in _exchange_venues(f).items():
        values = f.floats(column)
        if values.null_count() == values.len():
            skipped.append(column)
            continue
        key = f.key(kind, f"{column} column", venue=venue)
        if key.schema is METRICS:
            out = _metric_rows(f.base, {target: values})
        else:
            check_oi_unit(f.raw, key, values, target, aggregate_floor=False)
            out = _oi_frame(f.base, values, target)
        parsed.add(f.finish(key, out, column=f"Coinglass column {column}"))
    if skipped:
        parsed.notes.append(f"empty exchange columns skipped: {', '.join(skipped)}")
    return parsed


# --- entry point ---------------------------------------------------------------
def parse_coinglass(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a Coinglass API v4 export (see the module docstring for the shapes).

    Raises
    ------
    ParseError
        If the columns are not a known Coinglass shape, a value or time is
        malformed (naming the line), or an option the file cannot reveal
        (venue, market, kind, units) is missing.
    """
    frame = read_strings(raw)
    shape = _classify([c for c in frame.columns if c != ROW])
    if shape is None:
        raise ParseError(
            f"{raw.path}: columns {frame.columns[:12]} are not a known Coinglass "
            "export shape (time or timestamp plus e.g. open/high/low/close, "
            "aggregated_long/short_liquidation_usd, premium/premium_rate)"
        )
    base = pl.DataFrame({TS: _read_ts(raw, frame, options), ROW: frame[ROW]})
    f = _File(raw, frame, base, options)
    if shape is _WIDE_SHAPE:
        return _parse_wide(f)
    if shape is _ETF_SHAPE:
        return _parse_etf(f)
    return _parse_ohlc(f) if shape.kind is None else _parse_mapped(f, shape)


COINGLASS = Preset(
    "coinglass",
    "Coinglass API v4 export (funding, OI, liquidations, taker volume, ...)",
    _detect,
    parse_coinglass,
)

PRESETS: tuple[Preset, ...] = (COINGLASS,)
