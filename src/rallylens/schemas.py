"""Canonical data model: column names, dtypes, frame schemas and series identity.

Every series rallylens stores is identified by a :class:`SeriesKey` (venue,
market, kind, timeframe) and holds rows of exactly one :class:`FrameSchema`.
All timestamps are ``Datetime("us", "UTC")`` in column ``ts``; bars are
labelled by their *open* time, so a bar labelled ``t`` is only known at
``t + timeframe``.

Units are fixed by the schema, never by the source:

* prices in the quote currency of the market (USD for aggregates);
* ``volume`` and ``*_base`` columns in base-asset units (coins);
* ``*_usd`` columns in US dollars (USDT counted as USD);
* funding ``rate`` as a decimal per settlement interval (0.0001 = 0.01 %),
  with the interval in ``interval_hours``;
* implied volatilities and volatility indices as decimals (0.55 = 55 %);
* option ``mark_price`` in the underlying coin per contract of one coin
  (Deribit's inverse convention).

Markets use ccxt's unified symbols: ``BTC/USDT`` spot, ``BTC/USDT:USDT``
linear perpetual, ``BTC/USD:BTC`` inverse perpetual. Aggregates over several
markets of one venue use a wildcard quote: ``BTC/*`` (all spot pairs) and
``BTC/*:*`` (all derivative contracts); aggregates across venues use the
venue ``all``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from rallylens._typing import MarketType, SeriesKind
from rallylens.exceptions import ConfigError, SchemaError

__all__ = [
    "ALL_SCHEMAS",
    "ASK_IV",
    "ASSET",
    "AS_OF",
    "BARS",
    "BASIS_USD",
    "BID_IV",
    "BUY_USD",
    "CANDLES",
    "CLOSE",
    "COINBASE_PREMIUM_RATE",
    "CONFIRM_TS",
    "DECLINE_HIGH",
    "DECLINE_HIGH_TS",
    "DELTA",
    "DVOL",
    "END_TS",
    "ETF_NET_FLOW_USD",
    "EXPIRY",
    "FUNDING",
    "FUNDING_APR",
    "FUNDING_INTERVAL_HOURS",
    "FUNDING_RATE",
    "GAMMA",
    "HIGH",
    "INDEX_PRICE",
    "INSTRUMENT",
    "INTERVAL_HOURS",
    "IRREGULAR_TIMEFRAMES",
    "LIQUIDATIONS",
    "LIQUIDATION_EVENTS",
    "LIQ_LONG_USD",
    "LIQ_SHORT_USD",
    "LOG_RETURN",
    "LONG_USD",
    "LOW",
    "LOW_PRICE",
    "LOW_TS",
    "MARK_CLOSE",
    "MARK_IV",
    "MARK_PRICE",
    "METRIC",
    "METRICS",
    "NOTIONAL_USD",
    "OI_BASE",
    "OI_BASE_DERIVED",
    "OI_BASE_EST",
    "OI_USD",
    "OI_USD_DERIVED",
    "OPEN",
    "OPEN_INTEREST",
    "OPTIONS_CHAIN",
    "OPTION_BAR_COLUMNS",
    "OPTION_OI",
    "OPTION_TYPE",
    "OPT_ATM_IV",
    "OPT_CALL_WALL",
    "OPT_GAMMA_FLIP",
    "OPT_GEX_USD",
    "OPT_RR25",
    "PANEL",
    "PANEL_OI_BASE",
    "PANEL_OI_USD",
    "PEAK_PRICE",
    "PEAK_TS",
    "PERP_CLOSE",
    "PERP_DELTA_USD",
    "PERP_HIGH",
    "PERP_LOW",
    "PERP_OPEN",
    "PERP_QUOTE_VOLUME",
    "PERP_TAKER_BUY_QUOTE",
    "PERP_TAKER_BUY_USD",
    "PERP_TAKER_SELL_USD",
    "PERP_VOLUME",
    "PREMIUM_RATE",
    "PRICE",
    "QUANTITY",
    "QUOTE_TS",
    "QUOTE_VOLUME",
    "RALLIES",
    "RALLY_ID",
    "RATE",
    "RATE_HIGH",
    "RATE_LOW",
    "RATE_OPEN",
    "REGIME",
    "SELL_USD",
    "SHORT_USD",
    "SIDE",
    "SPOT_CLOSE",
    "SPOT_DELTA_USD",
    "SPOT_HIGH",
    "SPOT_LOW",
    "SPOT_OPEN",
    "SPOT_QUOTE_VOLUME",
    "SPOT_SHARE",
    "SPOT_TAKER_BUY_QUOTE",
    "SPOT_TAKER_BUY_USD",
    "SPOT_TAKER_SELL_USD",
    "SPOT_VOLUME",
    "STATUS",
    "STRIKE",
    "TAKER_BUY_BASE",
    "TAKER_BUY_QUOTE",
    "TAKER_VOLUME",
    "THETA",
    "THRESHOLD",
    "TRADES",
    "TS",
    "TS_DTYPE",
    "UNDERLYING_PRICE",
    "VALUE",
    "VEGA",
    "VOLUME",
    "VOL_INDEX",
    "FrameSchema",
    "Market",
    "SeriesFrame",
    "SeriesKey",
    "parse_market",
    "schema_for",
    "timeframe_duration",
    "validate",
]

TS_DTYPE = pl.Datetime("us", "UTC")

# --- column names -----------------------------------------------------------
TS = "ts"
OPEN, HIGH, LOW, CLOSE = "open", "high", "low", "close"
VOLUME = "volume"
QUOTE_VOLUME = "quote_volume"
TRADES = "trades"
TAKER_BUY_BASE = "taker_buy_base"
TAKER_BUY_QUOTE = "taker_buy_quote"
RATE = "rate"
INTERVAL_HOURS = "interval_hours"
RATE_OPEN, RATE_HIGH, RATE_LOW = "rate_open", "rate_high", "rate_low"
OI_BASE, OI_USD = "oi_base", "oi_usd"
OI_BASE_DERIVED, OI_USD_DERIVED = "oi_base_derived", "oi_usd_derived"
LONG_USD, SHORT_USD = "long_usd", "short_usd"
SIDE, PRICE, QUANTITY, NOTIONAL_USD = "side", "price", "quantity", "notional_usd"
BUY_USD, SELL_USD = "buy_usd", "sell_usd"
INSTRUMENT, EXPIRY, STRIKE, OPTION_TYPE = (
    "instrument",
    "expiry",
    "strike",
    "option_type",
)
OPTION_OI = "open_interest"
MARK_IV, MARK_PRICE = "mark_iv", "mark_price"
UNDERLYING_PRICE, INDEX_PRICE = "underlying_price", "index_price"
DELTA, GAMMA, VEGA, THETA = "delta", "gamma", "vega", "theta"
BID_IV, ASK_IV = "bid_iv", "ask_iv"
QUOTE_TS = "quote_ts"
METRIC, VALUE = "metric", "value"


@dataclass(frozen=True)
class FrameSchema:
    """Declared columns of one series kind.

    Attributes
    ----------
    name : str
        Schema name, also the store table that holds it.
    columns : Mapping[str, pl.DataType]
        Every column with its dtype, ``ts`` first.
    required : tuple[str, ...]
        Columns that may not be null.
    key : tuple[str, ...]
        Columns that identify a row within one series (``ts`` first).
    """

    name: str
    columns: Mapping[str, pl.DataType]
    required: tuple[str, ...]
    key: tuple[str, ...] = (TS,)
    units: Mapping[str, str] = field(default_factory=dict)

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Columns that are not part of the row key."""
        return tuple(c for c in self.columns if c not in self.key)

    def empty(self) -> pl.DataFrame:
        """Return an empty frame with this schema."""
        return pl.DataFrame(schema=dict(self.columns))


_F = pl.Float64()

CANDLES = FrameSchema(
    "candles",
    {
        TS: TS_DTYPE,
        OPEN: _F,
        HIGH: _F,
        LOW: _F,
        CLOSE: _F,
        VOLUME: _F,
        QUOTE_VOLUME: _F,
        TRADES: pl.Int64(),
        TAKER_BUY_BASE: _F,
        TAKER_BUY_QUOTE: _F,
    },
    required=(TS, OPEN, HIGH, LOW, CLOSE),
    units={
        OPEN: "quote currency",
        VOLUME: "base asset",
        QUOTE_VOLUME: "quote currency",
        TAKER_BUY_BASE: "base asset",
        TAKER_BUY_QUOTE: "quote currency",
    },
)
FUNDING = FrameSchema(
    "funding",
    {
        TS: TS_DTYPE,
        RATE: _F,
        INTERVAL_HOURS: pl.Int32(),
        RATE_OPEN: _F,
        RATE_HIGH: _F,
        RATE_LOW: _F,
    },
    required=(TS, RATE, INTERVAL_HOURS),
    units={RATE: "decimal per settlement interval", INTERVAL_HOURS: "hours"},
)
OPEN_INTEREST = FrameSchema(
    "open_interest",
    {
        TS: TS_DTYPE,
        OI_BASE: _F,
        OI_USD: _F,
        OI_BASE_DERIVED: pl.Boolean(),
        OI_USD_DERIVED: pl.Boolean(),
    },
    required=(TS, OI_BASE_DERIVED, OI_USD_DERIVED),
    units={OI_BASE: "base asset", OI_USD: "USD"},
)
LIQUIDATIONS = FrameSchema(
    "liquidations",
    {TS: TS_DTYPE, LONG_USD: _F, SHORT_USD: _F},
    required=(TS,),
    units={LONG_USD: "USD of long positions liquidated", SHORT_USD: "USD"},
)
LIQUIDATION_EVENTS = FrameSchema(
    "liquidation_events",
    {
        TS: TS_DTYPE,
        SIDE: pl.String(),
        PRICE: _F,
        QUANTITY: _F,
        NOTIONAL_USD: _F,
    },
    required=(TS, SIDE, PRICE, QUANTITY),
    key=(TS, SIDE, PRICE, QUANTITY),
    units={SIDE: "position liquidated: long or short", QUANTITY: "base asset"},
)
TAKER_VOLUME = FrameSchema(
    "taker_volume",
    {TS: TS_DTYPE, BUY_USD: _F, SELL_USD: _F},
    required=(TS, BUY_USD, SELL_USD),
    units={BUY_USD: "USD bought by takers", SELL_USD: "USD sold by takers"},
)
OPTIONS_CHAIN = FrameSchema(
    "options_chain",
    {
        TS: TS_DTYPE,
        INSTRUMENT: pl.String(),
        EXPIRY: TS_DTYPE,
        STRIKE: _F,
        OPTION_TYPE: pl.String(),
        OPTION_OI: _F,
        MARK_IV: _F,
        MARK_PRICE: _F,
        UNDERLYING_PRICE: _F,
        INDEX_PRICE: _F,
        DELTA: _F,
        GAMMA: _F,
        VEGA: _F,
        THETA: _F,
        BID_IV: _F,
        ASK_IV: _F,
        QUOTE_TS: TS_DTYPE,
    },
    required=(TS, INSTRUMENT, EXPIRY, STRIKE, OPTION_TYPE),
    key=(TS, INSTRUMENT),
    units={
        OPTION_OI: "contracts of one base coin",
        MARK_IV: "decimal, annualised",
        MARK_PRICE: "base coin per option",
        UNDERLYING_PRICE: "USD (the expiry's forward)",
        VEGA: "USD per vol point (venue convention)",
        THETA: "USD per day (venue convention)",
    },
)
VOL_INDEX = FrameSchema(
    "vol_index",
    {TS: TS_DTYPE, OPEN: _F, HIGH: _F, LOW: _F, CLOSE: _F},
    required=(TS, CLOSE),
    units={CLOSE: "decimal, annualised implied vol"},
)
METRICS = FrameSchema(
    "metrics",
    {TS: TS_DTYPE, METRIC: pl.String(), VALUE: _F},
    required=(TS, METRIC),
    key=(TS, METRIC),
    units={VALUE: "given by the metric name suffix (_usd, _rate, _base, ...)"},
)

ALL_SCHEMAS: tuple[FrameSchema, ...] = (
    CANDLES,
    FUNDING,
    OPEN_INTEREST,
    LIQUIDATIONS,
    LIQUIDATION_EVENTS,
    TAKER_VOLUME,
    OPTIONS_CHAIN,
    VOL_INDEX,
    METRICS,
)

_KIND_SCHEMA: dict[SeriesKind, FrameSchema] = {
    SeriesKind.OHLCV: CANDLES,
    SeriesKind.MARK: CANDLES,
    SeriesKind.INDEX: CANDLES,
    SeriesKind.PREMIUM: CANDLES,
    SeriesKind.FUNDING: FUNDING,
    SeriesKind.OPEN_INTEREST: OPEN_INTEREST,
    SeriesKind.LIQUIDATIONS: LIQUIDATIONS,
    SeriesKind.LIQUIDATION_EVENTS: LIQUIDATION_EVENTS,
    SeriesKind.TAKER_VOLUME: TAKER_VOLUME,
    SeriesKind.OPTIONS_CHAIN: OPTIONS_CHAIN,
    SeriesKind.VOL_INDEX: VOL_INDEX,
    SeriesKind.FLOWS: METRICS,
    SeriesKind.POSITIONING: METRICS,
    SeriesKind.BASIS: METRICS,
    SeriesKind.OPTIONS_ACTIVITY: METRICS,
    SeriesKind.OPTIONS_SUMMARY: METRICS,
}


def schema_for(kind: SeriesKind | str) -> FrameSchema:
    """Return the canonical schema of a series kind.

    Raises
    ------
    ConfigError
        If ``kind`` is not a known :class:`SeriesKind`.
    """
    try:
        return _KIND_SCHEMA[SeriesKind(kind)]
    except ValueError as exc:
        known = ", ".join(k.value for k in SeriesKind)
        raise ConfigError(f"unknown series kind {kind!r}; use one of: {known}") from exc


# --- timeframes -------------------------------------------------------------
IRREGULAR_TIMEFRAMES = frozenset({"event", "settle", "snapshot"})
"""Timeframes of series without a fixed bar length.

``event`` rows are individual events (liquidations), ``settle`` rows are
funding settlements (the interval is in each row), ``snapshot`` rows are
point-in-time snapshots (option chains).
"""

_TF_RE = re.compile(r"^(\d+)(m|h|d|w)$")
_TF_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def timeframe_duration(timeframe: str) -> timedelta | None:
    """Length of one bar of ``timeframe``, or None for irregular timeframes.

    Parameters
    ----------
    timeframe : str
        ``1m``, ``5m``, ``1h``, ``4h``, ``8h``, ``1d``, ``1w`` ... or one of
        :data:`IRREGULAR_TIMEFRAMES`.

    Raises
    ------
    ConfigError
        If the timeframe is not recognised.

    Examples
    --------
    >>> timeframe_duration("4h")
    datetime.timedelta(seconds=14400)
    """
    if timeframe in IRREGULAR_TIMEFRAMES:
        return None
    match = _TF_RE.match(timeframe)
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f"unknown timeframe {timeframe!r}; use e.g. 5m, 1h, 4h, 8h, 1d, 1w "
            f"or one of {sorted(IRREGULAR_TIMEFRAMES)}"
        )
    return timedelta(seconds=int(match.group(1)) * _TF_UNIT[match.group(2)])


# --- markets and series identity ---------------------------------------------
_MARKET_RE = re.compile(
    r"^(?P<base>[A-Z0-9]+)(?:/(?P<quote>[A-Z0-9*]+)(?::(?P<settle>[A-Z0-9*]+)"
    r"(?:-(?P<suffix>[A-Za-z0-9-]+))?)?)?$"
)


@dataclass(frozen=True)
class Market:
    """A parsed market symbol."""

    symbol: str
    base: str
    quote: str | None
    settle: str | None
    market_type: MarketType


def parse_market(symbol: str) -> Market:
    """Parse a ccxt unified market symbol.

    Parameters
    ----------
    symbol : str
        ``BTC/USDT`` (spot), ``BTC/USDT:USDT`` (linear perp),
        ``BTC/USD:BTC`` (inverse perp), ``BTC/USD:BTC-260327`` (dated future),
        ``BTC/*`` and ``BTC/*:*`` (aggregates), or a bare asset ``BTC``
        (an index or an asset-wide aggregate).

    Raises
    ------
    ConfigError
        If the symbol is not in ccxt's unified form.

    Examples
    --------
    >>> parse_market("BTC/USDT:USDT").market_type
    'perp'
    """
    match = _MARKET_RE.match(symbol)
    if match is None:
        raise ConfigError(
            f"market {symbol!r} is not a ccxt unified symbol; write spot as "
            "'BTC/USDT', a linear perp as 'BTC/USDT:USDT', an inverse perp as "
            "'BTC/USD:BTC'"
        )
    base, quote, settle, suffix = match.group("base", "quote", "settle", "suffix")
    market_type: MarketType
    if quote is None:
        market_type = "index"
    elif quote == "*" or settle == "*":
        market_type = "aggregate"
    elif settle is None:
        market_type = "spot"
    elif suffix is None:
        market_type = "perp"
    elif suffix.endswith(("-C", "-P")):
        market_type = "option"
    else:
        market_type = "future"
    return Market(symbol, base, quote, settle, market_type)


@dataclass(frozen=True, order=True)
class SeriesKey:
    """Identity of one stored series."""

    venue: str
    market: str
    kind: SeriesKind
    timeframe: str

    def __post_init__(self) -> None:
        if not self.venue or self.venue != self.venue.lower() or " " in self.venue:
            raise ConfigError(
                f"venue {self.venue!r} must be a lower-case ccxt id such as "
                "'binance', 'binanceusdm', 'deribit' or 'all'"
            )
        parse_market(self.market)
        object.__setattr__(self, "kind", SeriesKind(self.kind))
        timeframe_duration(self.timeframe)

    @property
    def asset(self) -> str:
        """Base asset of the market (``BTC`` for ``BTC/USDT:USDT``)."""
        return parse_market(self.market).base

    @property
    def schema(self) -> FrameSchema:
        """Canonical schema of this series' rows."""
        return schema_for(self.kind)

    def __str__(self) -> str:
        return f"{self.venue}:{self.market}:{self.kind.value}:{self.timeframe}"


def validate(df: pl.DataFrame, schema: FrameSchema) -> pl.DataFrame:
    """Check that ``df`` has exactly the columns and dtypes of ``schema``.

    Returns the frame with columns in schema order.

    Raises
    ------
    SchemaError
        Naming the missing, extra or mistyped columns, or the required
        columns holding nulls.
    """
    missing = [c for c in schema.columns if c not in df.columns]
    extra = [c for c in df.columns if c not in schema.columns]
    if missing or extra:
        raise SchemaError(
            f"{schema.name} frame: missing columns {missing}, unexpected {extra}"
        )
    wrong = [
        f"{c} is {df.schema[c]}, expected {dtype}"
        for c, dtype in schema.columns.items()
        if df.schema[c] != dtype
    ]
    if wrong:
        raise SchemaError(f"{schema.name} frame: " + "; ".join(wrong))
    nulls = [c for c in schema.required if df[c].null_count() > 0]
    if nulls:
        raise SchemaError(f"{schema.name} frame: nulls in required columns {nulls}")
    return df.select(list(schema.columns))


@dataclass(frozen=True)
class SeriesFrame:
    """Rows of one series in canonical form, as produced by a source.

    Attributes
    ----------
    key : SeriesKey
        Identity of the series.
    frame : pl.DataFrame
        Rows in the schema of ``key.kind``, sorted by key, no duplicate keys.
    notes : Mapping[str, str]
        Facts about the series worth keeping with it (units converted,
        derived columns, known limitations of the source).
    """

    key: SeriesKey
    frame: pl.DataFrame
    notes: Mapping[str, str] = field(default_factory=dict)


# --- the analysis panel (one time-aligned frame per asset) -------------------
SPOT_OPEN, SPOT_HIGH, SPOT_LOW, SPOT_CLOSE = (
    "spot_open",
    "spot_high",
    "spot_low",
    "spot_close",
)
SPOT_VOLUME, SPOT_QUOTE_VOLUME = "spot_volume", "spot_quote_volume"
SPOT_TAKER_BUY_QUOTE = "spot_taker_buy_quote"
PERP_OPEN, PERP_HIGH, PERP_LOW, PERP_CLOSE = (
    "perp_open",
    "perp_high",
    "perp_low",
    "perp_close",
)
PERP_VOLUME, PERP_QUOTE_VOLUME = "perp_volume", "perp_quote_volume"
PERP_TAKER_BUY_QUOTE = "perp_taker_buy_quote"
MARK_CLOSE = "mark_close"
FUNDING_RATE, FUNDING_INTERVAL_HOURS, FUNDING_APR = (
    "funding_rate",
    "funding_interval_hours",
    "funding_apr",
)
PANEL_OI_USD, PANEL_OI_BASE = "oi_usd", "oi_base"
LIQ_LONG_USD, LIQ_SHORT_USD = "liq_long_usd", "liq_short_usd"
SPOT_TAKER_BUY_USD, SPOT_TAKER_SELL_USD = "spot_taker_buy_usd", "spot_taker_sell_usd"
PERP_TAKER_BUY_USD, PERP_TAKER_SELL_USD = "perp_taker_buy_usd", "perp_taker_sell_usd"
DVOL = "dvol"
BASIS_USD = "basis_usd"
ETF_NET_FLOW_USD = "etf_net_flow_usd"
COINBASE_PREMIUM_RATE = "coinbase_premium_rate"

PANEL = FrameSchema(
    "panel",
    {
        TS: TS_DTYPE,
        **{
            c: _F
            for c in (
                SPOT_OPEN,
                SPOT_HIGH,
                SPOT_LOW,
                SPOT_CLOSE,
                SPOT_VOLUME,
                SPOT_QUOTE_VOLUME,
                SPOT_TAKER_BUY_QUOTE,
                PERP_OPEN,
                PERP_HIGH,
                PERP_LOW,
                PERP_CLOSE,
                PERP_VOLUME,
                PERP_QUOTE_VOLUME,
                PERP_TAKER_BUY_QUOTE,
                MARK_CLOSE,
                FUNDING_RATE,
            )
        },
        FUNDING_INTERVAL_HOURS: pl.Int32(),
        **{
            c: _F
            for c in (
                FUNDING_APR,
                PANEL_OI_USD,
                PANEL_OI_BASE,
                LIQ_LONG_USD,
                LIQ_SHORT_USD,
                SPOT_TAKER_BUY_USD,
                SPOT_TAKER_SELL_USD,
                PERP_TAKER_BUY_USD,
                PERP_TAKER_SELL_USD,
                DVOL,
                BASIS_USD,
                ETF_NET_FLOW_USD,
                COINBASE_PREMIUM_RATE,
            )
        },
    },
    required=(TS,),
    units={
        SPOT_CLOSE: "USD (USDT counted as USD)",
        SPOT_VOLUME: "base asset per bar",
        FUNDING_RATE: "decimal per settlement interval, last settled",
        FUNDING_APR: "decimal per year (rate x settlements per year)",
        PANEL_OI_USD: "USD at bar close",
        LIQ_LONG_USD: "USD liquidated in the bar",
        DVOL: "decimal, annualised implied vol at bar close",
    },
)
"""Columns of :func:`rallylens.store.load_panel`; row ``ts`` holds what is known
by the close of the bar opened at ``ts``."""


# --- feature bars (rallylens.features.prepare_bars) ---------------------------
ASSET = "asset"
"""Group key of multi-asset frames (one panel per asset stacked)."""
SPOT_SHARE = "spot_share"
SPOT_DELTA_USD, PERP_DELTA_USD = "spot_delta_usd", "perp_delta_usd"
PREMIUM_RATE = "premium_rate"
OI_BASE_EST = "oi_base_est"
LOG_RETURN = "log_return"
OPT_ATM_IV, OPT_RR25 = "opt_atm_iv_30d", "opt_rr25_30d"
OPT_GEX_USD, OPT_GAMMA_FLIP, OPT_CALL_WALL = (
    "opt_gex_usd",
    "opt_gamma_flip",
    "opt_call_wall",
)
OPTION_BAR_COLUMNS = (OPT_ATM_IV, OPT_RR25, OPT_GEX_USD, OPT_GAMMA_FLIP, OPT_CALL_WALL)
"""Per-bar option positioning from the latest chain snapshot known at the bar's
close (``rallylens.features.attach_options``); null without a recent snapshot."""

BARS = FrameSchema(
    "bars",
    {
        ASSET: pl.String(),
        TS: TS_DTYPE,
        **{
            c: _F
            for c in (
                OPEN,
                HIGH,
                LOW,
                CLOSE,
                VOLUME,
                SPOT_VOLUME,
                PERP_VOLUME,
                SPOT_SHARE,
                SPOT_DELTA_USD,
                PERP_DELTA_USD,
                PREMIUM_RATE,
                FUNDING_APR,
                PANEL_OI_USD,
                OI_BASE_EST,
                LIQ_LONG_USD,
                LIQ_SHORT_USD,
                DVOL,
                BASIS_USD,
                ETF_NET_FLOW_USD,
                COINBASE_PREMIUM_RATE,
                LOG_RETURN,
                *OPTION_BAR_COLUMNS,
            )
        },
    },
    required=(ASSET, TS),
    units={
        CLOSE: "USD; spot where known, else perp",
        VOLUME: "base asset per bar, spot + perp",
        SPOT_SHARE: "fraction of base volume traded on spot",
        SPOT_DELTA_USD: "taker buy minus taker sell, USD per bar",
        PREMIUM_RATE: "perp (or mark) close / spot close - 1",
        OI_BASE_EST: "open interest in base units (USD / close when only USD)",
        LOG_RETURN: "ln(close / previous close)",
        OPT_ATM_IV: "decimal, 30-day constant-maturity ATM implied vol",
        OPT_RR25: "decimal vol, 30-day 25-delta call IV - put IV",
        OPT_GEX_USD: "USD per 1% move, dealer gamma (estimate, stated positioning)",
        OPT_GAMMA_FLIP: "USD: spot at which dealer gamma changes sign",
        OPT_CALL_WALL: "USD: strike holding the most call gamma",
    },
)
"""Per-bar inputs of regime, rally detection and anatomy."""

# --- rallies (rallylens.rallies.detect_rallies) -------------------------------
RALLY_ID = "rally_id"
REGIME = "regime"
LOW_TS, LOW_PRICE = "low_ts", "low_price"
CONFIRM_TS = "confirm_ts"
PEAK_TS, PEAK_PRICE = "peak_ts", "peak_price"
END_TS = "end_ts"
DECLINE_HIGH_TS, DECLINE_HIGH = "decline_high_ts", "decline_high"
THRESHOLD = "threshold"
STATUS = "status"
AS_OF = "as_of"

RALLIES = FrameSchema(
    "rallies",
    {
        ASSET: pl.String(),
        RALLY_ID: pl.Int64(),
        LOW_TS: TS_DTYPE,
        LOW_PRICE: _F,
        CONFIRM_TS: TS_DTYPE,
        PEAK_TS: TS_DTYPE,
        PEAK_PRICE: _F,
        END_TS: TS_DTYPE,
        DECLINE_HIGH_TS: TS_DTYPE,
        DECLINE_HIGH: _F,
        THRESHOLD: _F,
        REGIME: pl.String(),
        STATUS: pl.String(),
        AS_OF: TS_DTYPE,
    },
    required=(ASSET, RALLY_ID, LOW_TS, LOW_PRICE, CONFIRM_TS, PEAK_TS, AS_OF),
    units={
        THRESHOLD: "fractional move that confirmed the rally (volatility-scaled)",
        END_TS: "day the reversal rule ended the rally; null while in progress",
        AS_OF: "last day whose close was used",
    },
)
"""One row per rally: swing low to swing high and the decline it retraces."""
