"""Deribit files: option chains, book summaries, IV smiles, DVOL and option summaries.

Option chain, one flattened ``public/get_order_book`` (or ``public/ticker``)
response per instrument; greeks as a Python-dict string or as columns::

    ,expiration_timestamp,option_type,instrument_name,strike,underlying_price,
    underlying_index,timestamp,...,open_interest,...,mark_price,mark_iv,...,
    index_price,greeks,...,bid_iv,...,ask_iv
    0,1590134400000,put,BTC-22MAY20-9250-P,9250.0,9352.58,SYN.BTC-22MAY20,
    1589434896486,...,139.3,...,0.04010621,76.87,...,9350.67,"{'vega': 5.49167,
    'theta': -26.07217, 'rho': -0.99385, 'gamma': 0.00037, 'delta': -0.43897}",...

    instrument_name,currency,type,strike,expiration_timestamp,...,mark_price,...,
    underlying_price,mark_iv,bid_iv,ask_iv,open_interest,...,delta,gamma,theta,vega
    BTC-13MAR26-61000-C,BTC,call,61000.0,1773388800000,...,0.0951,...,66342.3,
    63.29,28.16,74.21,2.0,...,0.78695,4e-05,-93.14463,34.6075

Book summary, ``public/get_book_summary_by_currency?kind=option`` (no IV or
greeks unless a ``mark_iv`` column is present)::

    ,mid_price,estimated_delivery_price,...,creation_timestamp,base_currency,...,
    underlying_price,...,mark_price,open_interest,...,instrument_name,...
    0,0.0007,2222.19,...,1704712781414,ETH,...,2241.65,...,0.000853,965.0,...,
    ETH-26JAN24-1200-P,...

IV smile without instrument names, forward or snapshot time::

    option_type,strike,creation,maturity,mark_price,last_price,mark_iv,index_price
    call,63000.0,2024-05-23 18:11:00,2024-05-25 08:00:00,0.0852,0.079,100.0,68777.9

DVOL daily closes (index points)::

    date,dvol_close                     datetime_utc,timestamp_ms,dvol_close
    2023-01-01,46.96                    2022-11-06T00:00:00Z,1667692800000,56.76

Option summary (10-delta skew and ATM IV of the ~30-45-day expiry)::

    snap_time,spot,expiry_used,days_to_expiry,atm_iv,put10_iv,call10_iv,
    skew10_put_minus_call,put_call_oi_ratio_45d,total_oi_45d,
    max_oi_put_strike_45d,max_oi_call_strike_45d
    1790172469860,86011.65,2026-10-30,36.74,36.21,39.03,36.36,2.67,0.5818,
    322853.5,70000.0,95000.0

Deribit quotes implied vols and DVOL in percent; they become decimals. Option
prices stay in the base coin per option, open interest in coins, greeks as
Deribit gives them (delta; gamma per USD; vega USD per vol point; theta USD
per day). Expiries are 08:00 UTC. Only inverse (coin-settled) options are
read: USDC-settled names such as ``SOL_USDC-...`` are refused.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, timedelta

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import (
    ASK_IV,
    BID_IV,
    CLOSE,
    DELTA,
    EXPIRY,
    GAMMA,
    INDEX_PRICE,
    INSTRUMENT,
    MARK_IV,
    MARK_PRICE,
    METRIC,
    OPTION_OI,
    OPTION_TYPE,
    QUOTE_TS,
    STRIKE,
    THETA,
    TS,
    TS_DTYPE,
    UNDERLYING_PRICE,
    VALUE,
    VEGA,
    parse_market,
)
from rallylens.sources._base import FileOptions, Preset
from rallylens.sources._convert import (
    Parsed,
    finish_series,
    parse_datetime,
    parse_epoch,
    parse_float,
    require_columns,
)
from rallylens.sources._reader import ROW, RawFile, read_strings

__all__ = [
    "DERIBIT_BOOK_SUMMARY",
    "DERIBIT_CHAIN",
    "DERIBIT_DVOL",
    "DERIBIT_IV",
    "DERIBIT_OPTIONS_SUMMARY",
    "PRESETS",
]

_GREEKS = (DELTA, GAMMA, VEGA, THETA)
_MONTHS = {
    m: f"{i:02d}"
    for i, m in enumerate(
        "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1
    )
}
_MONTH_NAMES = {int(v): k for k, v in _MONTHS.items()}
_EXPIRY_RE = r"(?P<day>\d{1,2})(?P<month>[A-Z]{3})(?P<year>\d{2})"
_INSTRUMENT_RE = (
    r"^(?P<currency>[A-Z]+)-(?P<code>\d{1,2}[A-Z]{3}\d{2})-"
    r"(?P<strike>\d+(?:d\d+)?)-(?P<kind>[CP])$"
)
_CURRENCIES = ("BTC", "ETH")
_POLL_GAP = timedelta(minutes=10)
_PERCENT = 0.01
_CHAIN_COLUMNS = {
    "instrument_name",
    "expiration_timestamp",
    "strike",
    "mark_price",
    "mark_iv",
    "underlying_price",
    "open_interest",
}
_SUMMARY_COLUMNS = {
    "instrument_name",
    "creation_timestamp",
    "base_currency",
    "quote_currency",
    "underlying_index",
    "underlying_price",
    "estimated_delivery_price",
    "mark_price",
    "open_interest",
}
_IV_COLUMNS = (
    "option_type",
    "strike",
    "maturity",
    "mark_price",
    "mark_iv",
    "index_price",
)
_FIELDS = {  # canonical column: (source column, scale), where the file has it
    OPTION_OI: ("open_interest", 1.0),
    MARK_IV: ("mark_iv", _PERCENT),
    MARK_PRICE: ("mark_price", 1.0),
    UNDERLYING_PRICE: ("underlying_price", 1.0),
    INDEX_PRICE: ("index_price", 1.0),
}
_DVOL_LAYOUTS = (["date", "dvol_close"], ["datetime_utc", "timestamp_ms", "dvol_close"])
_METRICS = {  # canonical metric: (source column, scale)
    "atm_iv": ("atm_iv", _PERCENT),
    "put10_iv": ("put10_iv", _PERCENT),
    "call10_iv": ("call10_iv", _PERCENT),
    "skew10": ("skew10_put_minus_call", _PERCENT),
    "put_call_oi_ratio_45d": ("put_call_oi_ratio_45d", 1.0),
    "total_oi_45d_base": ("total_oi_45d", 1.0),
    "max_oi_put_strike_45d": ("max_oi_put_strike_45d", 1.0),
    "max_oi_call_strike_45d": ("max_oi_call_strike_45d", 1.0),
    "days_to_expiry": ("days_to_expiry", 1.0),
    "spot_usd": ("spot", 1.0),
}


# --- shared conversions -----------------------------------------------------
def _fail_where(
    raw: RawFile, frame: pl.DataFrame, bad: pl.Series, column: str, what: str
) -> None:
    if bad.fill_null(False).any():
        row = frame.filter(bad.fill_null(False)).row(0, named=True)
        raise ParseError(
            f"{raw.where(row[ROW], column)}: {what} (value {row[column]!r})"
        )


def _expiry_from_codes(codes: pl.Series) -> pl.Series:
    parts = codes.str.extract_groups(f"^{_EXPIRY_RE}$").struct.unnest()
    iso = parts.select(
        pl.concat_str(
            pl.lit("20"),
            pl.col("year"),
            pl.lit("-"),
            pl.col("month").replace_strict(_MONTHS, default=None),
            pl.lit("-"),
            pl.col("day").str.zfill(2),
            pl.lit(" 08:00"),
        )
    ).to_series()
    return iso.str.to_datetime(
        "%Y-%m-%d %H:%M", strict=False, time_zone="UTC", time_unit="us"
    ).alias(EXPIRY)


def _split_instruments(raw: RawFile, frame: pl.DataFrame) -> pl.DataFrame:
    """Currency, expiry, strike and option type from names like BTC-5JUN20-6750-P."""
    names = frame["instrument_name"].cast(pl.String).str.strip_chars()
    parts = names.str.extract_groups(_INSTRUMENT_RE).struct.unnest()
    _fail_where(
        raw,
        frame,
        parts["currency"].is_null(),
        "instrument_name",
        "not a Deribit inverse option name like BTC-5JUN20-6750-P "
        "(USDC-settled options are not read)",
    )
    expiry = _expiry_from_codes(parts["code"])
    _fail_where(raw, frame, expiry.is_null(), "instrument_name", "invalid expiry date")
    return pl.DataFrame(
        {
            INSTRUMENT: names,
            "currency": parts["currency"],
            EXPIRY: expiry,
            STRIKE: parts["strike"].str.replace("d", ".").cast(pl.Float64),
            OPTION_TYPE: parts["kind"].replace_strict({"C": "call", "P": "put"}),
        }
    )


def _single_currency(raw: RawFile, currencies: pl.Series, options: FileOptions) -> str:
    found = sorted(str(c) for c in currencies.unique().to_list())
    if len(found) != 1:
        raise ParseError(
            f"{raw.path}: options on {found} in one file; split it per currency"
        )
    _check_market(raw, found[0], options)
    return found[0]


def _check_market(raw: RawFile, currency: str, options: FileOptions) -> None:
    if options.market is not None and parse_market(options.market).base != currency:
        raise ParseError(
            f"{raw.path}: the file holds {currency} options but the market is "
            f"{options.market!r}; fix --market or the mapping rule"
        )


def _currency_from_name(raw: RawFile, options: FileOptions) -> str:
    """Return the base coin of ``options.market`` or of the file name (BTC/ETH)."""
    if options.market is not None:
        return parse_market(options.market).base
    tokens = set(re.split(r"[^A-Z0-9]+", raw.name.upper()))
    found = [c for c in _CURRENCIES if c in tokens]
    if len(found) != 1:
        raise ParseError(
            f"{raw.path}: cannot tell the currency (BTC or ETH) from the file name; "
            "pass --market (e.g. --market BTC/USD:BTC) or add a mapping rule"
        )
    return found[0]


def _option_type(raw: RawFile, frame: pl.DataFrame, column: str) -> pl.Series:
    text = frame[column].cast(pl.String).str.strip_chars().str.to_lowercase()
    kinds = text.replace_strict(
        {"call": "call", "c": "call", "put": "put", "p": "put"}, default=None
    )
    _fail_where(raw, frame, kinds.is_null(), column, "option type is not call/put/C/P")
    return kinds.alias(OPTION_TYPE)


def _quote_iv(raw: RawFile, frame: pl.DataFrame, column: str) -> pl.Series:
    """Bid/ask IV as decimals; Deribit's 0 (no quote, not invertible) is null."""
    values = parse_float(raw, frame, column, scale=_PERCENT)
    return pl.select(pl.when(values != 0.0).then(values)).to_series().alias(column)


def _floats(
    raw: RawFile, frame: pl.DataFrame, fields: dict[str, tuple[str, float]]
) -> list[pl.Series]:
    """Parse each ``canonical: (source, scale)`` whose source column exists."""
    return [
        parse_float(raw, frame, source, scale=scale).alias(name)
        for name, (source, scale) in fields.items()
        if source in frame.columns
    ]


# --- greeks -----------------------------------------------------------------
def _greeks_from_text(raw: RawFile, row: int, text: str | None) -> list[float | None]:
    if text is None or not text.strip():
        return [None] * len(_GREEKS)
    try:
        value = ast.literal_eval(text.strip()) if len(text) < 2000 else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ParseError(
            f"{raw.where(row, 'greeks')}: not a greeks dict like "
            f"\"{{'delta': -0.43, 'gamma': 0.0004, ...}}\" (value {text[:80]!r})"
        )
    out: list[float | None] = []
    for name in _GREEKS:
        item = value.get(name)
        if item is not None and (
            isinstance(item, bool) or not isinstance(item, int | float)
        ):
            raise ParseError(
                f"{raw.where(row, 'greeks')}: {name} is not a number ({item!r})"
            )
        out.append(None if item is None else float(item))
    return out


def _parse_greeks(raw: RawFile, frame: pl.DataFrame) -> dict[str, pl.Series]:
    """Greeks from a ``greeks`` dict column, ``greeks.delta`` or bare columns."""
    if "greeks" in frame.columns:
        rows = [
            _greeks_from_text(raw, row, text)
            for row, text in zip(frame[ROW], frame["greeks"], strict=True)
        ]
        return {
            name: pl.Series(name, [r[i] for r in rows], dtype=pl.Float64)
            for i, name in enumerate(_GREEKS)
        }
    prefix = "greeks." if f"greeks.{DELTA}" in frame.columns else ""
    return {
        name: parse_float(raw, frame, prefix + name).alias(name)
        for name in _GREEKS
        if prefix + name in frame.columns
    }


# --- snapshot times and chain assembly --------------------------------------
def _poll_starts(quote_ts: pl.Series) -> pl.Series:
    """Each row's poll start (floored to the minute); polls split at 10-min gaps."""
    order = quote_ts.arg_sort()
    ordered = quote_ts.gather(order)
    poll = (ordered.diff() > _POLL_GAP).fill_null(False).cum_sum()
    start = pl.DataFrame({"q": ordered, "p": poll}).select(pl.col("q").min().over("p"))
    return start.to_series().gather(order.arg_sort()).dt.truncate("1m").alias(TS)


def _snapshot(
    raw: RawFile, options: FileOptions, quote_ts: pl.Series | None, height: int
) -> tuple[pl.Series, str]:
    """Snapshot time per row and a note on where it came from."""
    if options.snapshot_ts is not None:
        when = options.snapshot_ts.astimezone(UTC)
        return (
            pl.Series(TS, [when] * height).cast(TS_DTYPE),
            f"{when:%Y-%m-%d %H:%M:%S} UTC, stated by the user or mapping rule",
        )
    if quote_ts is None:
        raise ParseError(
            f"{raw.path}: the file does not record when the chain was taken; pass "
            "--snapshot-time (e.g. --snapshot-time 2026-03-01T13:49Z) or set "
            "snapshot_ts in a mapping rule"
        )
    return (
        _poll_starts(quote_ts),
        "earliest quote time of each poll, floored to the minute "
        "(each instrument's own time in quote_ts)",
    )


def _check_live(raw: RawFile, out: pl.DataFrame) -> None:
    expired = out.filter(pl.col(EXPIRY) <= pl.col(TS))
    if expired.height:
        row = expired.row(0, named=True)
        raise ParseError(
            f"{raw.where(row[ROW])}: {row[INSTRUMENT]} expired "
            f"{row[EXPIRY]:%Y-%m-%d %H:%M} UTC, before the snapshot time "
            f"{row[TS]:%Y-%m-%d %H:%M} UTC; check --snapshot-time"
        )


def _finish_chain(
    raw: RawFile,
    options: FileOptions,
    out: pl.DataFrame,
    currency: str,
    notes: dict[str, str],
) -> Parsed:
    """Fill the forward from the index where missing, check expiries, build key."""
    out = out.with_columns(
        pl.lit(None, pl.Float64).alias(c)
        for c in (UNDERLYING_PRICE, INDEX_PRICE)
        if c not in out.columns
    )
    if out[UNDERLYING_PRICE].null_count():
        missing = out[UNDERLYING_PRICE].null_count()
        out = out.with_columns(pl.col(UNDERLYING_PRICE).fill_null(pl.col(INDEX_PRICE)))
        notes[UNDERLYING_PRICE] = (
            f"index price, not the expiry's forward, on {missing} of {out.height} rows "
            "(the file has no forward there)"
        )
    _check_live(raw, out)
    options = options.merged(
        venue="deribit", market=f"{currency}/USD:{currency}", timeframe="snapshot"
    )
    key = options.key(raw, kind=SeriesKind.OPTIONS_CHAIN, what="Deribit option")
    notes.setdefault(MARK_IV, "decimal (Deribit's percent / 100)")
    return finish_series(raw, key, out, now=options.now, notes=notes)


# --- presets: chain ---------------------------------------------------------
def _detect_chain(raw: RawFile) -> bool:
    cols = set(raw.columns)
    has_type = "option_type" in cols or "type" in cols
    has_greeks = "greeks" in cols or {f"greeks.{g}" for g in _GREEKS} <= cols
    return _CHAIN_COLUMNS <= cols and has_type and (has_greeks or set(_GREEKS) <= cols)


def parse_chain(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse a flattened ``get_order_book``/``ticker`` option chain (see module)."""
    frame = read_strings(raw)
    require_columns(raw, frame, sorted(_CHAIN_COLUMNS))
    names = _split_instruments(raw, frame)
    currency = _single_currency(raw, names["currency"], options)
    quote = (
        parse_epoch(raw, frame, "timestamp", unit=options.epoch_unit).alias(QUOTE_TS)
        if "timestamp" in frame.columns
        else None
    )
    ts, how = _snapshot(raw, options, quote, frame.height)
    out = names.drop("currency").with_columns(
        ts,
        *_floats(raw, frame, _FIELDS),
        *_parse_greeks(raw, frame).values(),
        *(_quote_iv(raw, frame, iv) for iv in (BID_IV, ASK_IV) if iv in frame.columns),
        *([] if quote is None else [quote]),
        frame[ROW],
    )
    notes = {
        "snapshot": how,
        "bid_iv/ask_iv": "decimal; Deribit's 0 (no quote or not invertible) as null",
    }
    return _finish_chain(raw, options, out, currency, notes)


# --- presets: book summary --------------------------------------------------
def _detect_book_summary(raw: RawFile) -> bool:
    cols = set(raw.columns)
    return _SUMMARY_COLUMNS <= cols and "expiration_timestamp" not in cols


def parse_book_summary(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse ``get_book_summary_by_currency`` option rows (expiry etc. from names)."""
    frame = read_strings(raw)
    require_columns(raw, frame, sorted(_SUMMARY_COLUMNS))
    names = _split_instruments(raw, frame)
    currency = _single_currency(raw, names["currency"], options)
    created = parse_epoch(raw, frame, "creation_timestamp", unit=options.epoch_unit)
    ts, how = _snapshot(raw, options, created, frame.height)
    fields = {**_FIELDS, INDEX_PRICE: ("estimated_delivery_price", 1.0)}
    out = names.drop("currency").with_columns(
        ts, *_floats(raw, frame, fields), created.alias(QUOTE_TS), frame[ROW]
    )
    notes = {
        "snapshot": how,
        INDEX_PRICE: "estimated_delivery_price (Deribit's USD index)",
        "greeks": "null: get_book_summary_by_currency has no greeks",
    }
    if MARK_IV not in out.columns:
        notes[MARK_IV] = "null: this book summary has no implied vol"
    return _finish_chain(raw, options, out, currency, notes)


# --- presets: IV smile ------------------------------------------------------
def _detect_iv(raw: RawFile) -> bool:
    cols = set(raw.columns)
    return set(_IV_COLUMNS) <= cols and not (
        {"instrument_name", "underlying_price"} & cols
    )


def _instrument_names(currency: str, out: pl.DataFrame) -> pl.Series:
    strike = pl.col(STRIKE)
    text = (
        pl.when(strike == strike.round(0))
        .then(strike.cast(pl.Int64).cast(pl.String))
        .otherwise(strike.cast(pl.String).str.replace(".", "d", literal=True))
    )
    return out.select(
        pl.concat_str(
            pl.lit(f"{currency}-"),
            pl.col(EXPIRY).dt.day().cast(pl.String),
            pl.col(EXPIRY).dt.month().replace_strict(_MONTH_NAMES),
            pl.col(EXPIRY).dt.strftime("%y-"),
            text,
            pl.when(pl.col(OPTION_TYPE) == "call")
            .then(pl.lit("-C"))
            .otherwise(pl.lit("-P")),
        ).alias(INSTRUMENT)
    ).to_series()


def parse_iv(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse an IV smile file (type, strike, maturity, mark price/IV, index)."""
    frame = read_strings(raw)
    require_columns(raw, frame, _IV_COLUMNS)
    currency = _currency_from_name(raw, options)
    ts, how = _snapshot(raw, options, None, frame.height)
    out = pl.DataFrame(
        [
            ts,
            parse_datetime(raw, frame, "maturity").alias(EXPIRY),
            parse_float(raw, frame, "strike").alias(STRIKE),
            _option_type(raw, frame, "option_type"),
            *_floats(raw, frame, _FIELDS),
            frame[ROW],
        ]
    )
    out = out.with_columns(_instrument_names(currency, out))
    notes = {"snapshot": how, OPTION_OI: "null: the file has no open interest"}
    return _finish_chain(raw, options, out, currency, notes)


# --- presets: DVOL ----------------------------------------------------------
def parse_dvol(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse DVOL daily closes (index points) into a decimal vol index."""
    frame = read_strings(raw)
    require_columns(raw, frame, ["dvol_close"])
    if "timestamp_ms" in frame.columns:
        ts = parse_epoch(raw, frame, "timestamp_ms", unit=options.epoch_unit)
    else:
        require_columns(raw, frame, ["date"])
        ts = parse_datetime(raw, frame, "date")
    points = parse_float(raw, frame, "dvol_close")
    median = points.median()
    if isinstance(median, float) and median < 2.0:
        raise ParseError(
            f"{raw.path}: dvol_close median {median:.4g} looks like a decimal already; "
            "DVOL is quoted in index points (56.76 = 56.76 % vol)"
        )
    out = pl.DataFrame({TS: ts, CLOSE: points * _PERCENT, ROW: frame[ROW]})
    market = options.market or _currency_from_name(raw, options)
    options = options.merged(venue="deribit", market=market, timeframe="1d")
    key = options.key(raw, kind=SeriesKind.VOL_INDEX, what="Deribit DVOL")
    notes = {CLOSE: "DVOL daily close as a decimal (index points / 100)"}
    return finish_series(raw, key, out, now=options.now, notes=notes)


# --- presets: option summary ------------------------------------------------
def _detect_options_summary(raw: RawFile) -> bool:
    sources = {"snap_time", "expiry_used"} | {c for c, _ in _METRICS.values()}
    return sources <= set(raw.columns)


def parse_options_summary(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse 10-delta skew / ATM IV summaries into option-summary metrics."""
    frame = read_strings(raw)
    require_columns(raw, frame, ["snap_time", *(c for c, _ in _METRICS.values())])
    ts = parse_epoch(raw, frame, "snap_time", unit=options.epoch_unit)
    parts = [
        pl.DataFrame(
            {
                TS: ts,
                METRIC: pl.Series([name] * frame.height, dtype=pl.String),
                VALUE: parse_float(raw, frame, column, scale=scale),
                ROW: frame[ROW],
            }
        )
        for name, (column, scale) in _METRICS.items()
    ]
    out = pl.concat(parts).filter(pl.col(VALUE).is_not_null())
    currency = _currency_from_name(raw, options)
    options = options.merged(
        venue="deribit", market=f"{currency}/USD:{currency}", timeframe="snapshot"
    )
    key = options.key(raw, kind=SeriesKind.OPTIONS_SUMMARY, what="Deribit summary")
    notes = {
        "iv": "atm_iv, put10_iv, call10_iv and skew10 (put minus call) as decimals",
        "total_oi_45d_base": "coins, expiries within 45 days",
    }
    return finish_series(raw, key, out, now=options.now, notes=notes)


DERIBIT_CHAIN = Preset(
    "deribit-chain",
    "Deribit option chain (get_order_book / ticker rows with greeks)",
    _detect_chain,
    parse_chain,
)
DERIBIT_BOOK_SUMMARY = Preset(
    "deribit-book-summary",
    "Deribit get_book_summary_by_currency option rows (OI, no greeks)",
    _detect_book_summary,
    parse_book_summary,
)
DERIBIT_IV = Preset(
    "deribit-iv",
    "Deribit option IV smile (type, strike, maturity, mark IV, index)",
    _detect_iv,
    parse_iv,
)
DERIBIT_DVOL = Preset(
    "deribit-dvol",
    "Deribit DVOL daily closes (date or timestamp_ms, dvol_close)",
    lambda raw: raw.columns in _DVOL_LAYOUTS,
    parse_dvol,
)
DERIBIT_OPTIONS_SUMMARY = Preset(
    "deribit-options-summary",
    "Deribit 10-delta skew / ATM IV option summaries",
    _detect_options_summary,
    parse_options_summary,
)

PRESETS: tuple[Preset, ...] = (
    DERIBIT_CHAIN,
    DERIBIT_BOOK_SUMMARY,
    DERIBIT_IV,
    DERIBIT_DVOL,
    DERIBIT_OPTIONS_SUMMARY,
)
