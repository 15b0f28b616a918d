"""Deribit's public REST API (JSON-RPC over GET) for the emulator.

Routes on ``www.deribit.com`` (ccxt's ``urls['api']['rest']``):

* ``/api/v2/public/get_currencies``: no parameters; what ccxt's
  ``fetch_currencies`` reads.
* ``/api/v2/public/get_instruments?currency=BTC&kind=option&expired=false``:
  ``currency`` may be missing or ``any`` (ccxt's ``load_markets`` sends no
  parameter at all: ``fetchAllMarkets``); ``expired=true`` answers ``[]``.
* ``/api/v2/public/get_book_summary_by_currency?currency=BTC&kind=option``:
  one row per live instrument, numbers as JSON numbers, in no particular
  order (seeded shuffle), ``creation_timestamp`` a few ms before the answer.
* ``/api/v2/public/get_volatility_index_data?currency=BTC&start_timestamp=..&
  end_timestamp=..&resolution=1D``: ``resolution`` is one of ``1``, ``60``,
  ``3600``, ``43200``, ``1D``; both timestamps are inclusive; DVOL in index
  points (percent). At most ``page_limit`` (1000) candles, oldest first: the
  **newest** candles of the range, with ``continuation`` (the oldest returned
  timestamp, to be sent as the next ``end_timestamp``) when older ones remain,
  else ``null``. History starts at :data:`DVOL_START`; the candle in progress
  at ``now`` is served with its values so far, as the venue does.

Every answer is an envelope ``{"jsonrpc": "2.0", "result": ..., "usIn": ..,
"usOut": .., "usDiff": .., "testnet": false}``; a bad or unknown parameter
answers HTTP 400 with Deribit's JSON-RPC error (``code -32602``, naming the
parameter). ``DeribitData.rate_limited = n`` makes the next ``n`` requests
answer Deribit's own HTTP 429 (``too_many_requests``, code 10028).

Handler faults: ``overlap`` starts a DVOL page ``rows`` candles before
``start_timestamp`` (in a book summary: repeats the first ``rows`` rows);
``skip`` drops the oldest ``rows`` candles of a DVOL page after
``continuation`` was computed (a lossy proxy), or the first ``rows`` rows of a
book summary.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from rallylens.schemas import (
    ASK_IV,
    BID_IV,
    CLOSE,
    DELTA,
    EXPIRY,
    GAMMA,
    HIGH,
    INDEX_PRICE,
    INSTRUMENT,
    LOW,
    MARK_IV,
    MARK_PRICE,
    OPEN,
    OPTION_OI,
    OPTION_TYPE,
    OPTIONS_CHAIN,
    QUOTE_TS,
    STRIKE,
    THETA,
    TS,
    TS_DTYPE,
    UNDERLYING_PRICE,
    VEGA,
    VOL_INDEX,
)
from tests.emulator._server import Emulator, Reply

__all__ = [
    "API",
    "DVOL_START",
    "HOST",
    "RESOLUTION_MS",
    "TIMEFRAME_RESOLUTION",
    "DeribitData",
    "dvol_candle",
    "from_ms",
    "install_deribit",
    "ms",
]

HOST = "www.deribit.com"
API = "/api/v2/public"
DVOL_START = datetime(2021, 3, 24, tzinfo=UTC)
RESOLUTION_MS = {
    "1": 1_000,
    "60": 60_000,
    "3600": 3_600_000,
    "43200": 43_200_000,
    "1D": 86_400_000,
}
TIMEFRAME_RESOLUTION = {"1m": "60", "1h": "3600", "12h": "43200", "1d": "1D"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_SPOT = {"BTC": 90_000.0, "ETH": 3_000.0}
_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum"}
_STRIKE_STEP = {"BTC": (1_000.0, 5_000.0), "ETH": (50.0, 100.0)}
_DVOL_BASE = {"BTC": 55.0, "ETH": 70.0}


def ms(when: datetime) -> int:
    """Milliseconds since the epoch (exact)."""
    return (when - EPOCH) // timedelta(milliseconds=1)


def from_ms(value: int) -> datetime:
    """A UTC datetime from epoch milliseconds (exact)."""
    return EPOCH + timedelta(milliseconds=value)


def _hash01(*parts: object) -> float:
    """A deterministic uniform number in [0, 1) from any values."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


# --- DVOL --------------------------------------------------------------------
@functools.cache
def _phases(seed: int, currency: str) -> tuple[float, ...]:
    return tuple(2 * math.pi * _hash01(seed, currency, k) for k in range(3))


def _level(seed: int, currency: str, t_ms: int) -> float:
    """DVOL in index points at ``t_ms``: a few cycles plus hashed noise."""
    days = t_ms / 86_400_000
    phase = _phases(seed, currency)
    value = (
        _DVOL_BASE.get(currency, 60.0)
        + 12 * math.sin(2 * math.pi * days / 173 + phase[0])
        + 6 * math.sin(2 * math.pi * days / 29 + phase[1])
        + 2 * math.sin(2 * math.pi * days / 3.1 + phase[2])
        + (_hash01(seed, currency, t_ms) - 0.5)
    )
    return round(value, 2)


def dvol_candle(
    seed: int, currency: str, step_ms: int, t_ms: int, now_ms: int
) -> list[float | int]:
    """One candle ``[ts, open, high, low, close]`` as Deribit sends it.

    The candle in progress at ``now_ms`` closes at the level of ``now_ms``.
    """
    open_ = _level(seed, currency, t_ms)
    close = _level(seed, currency, min(t_ms + step_ms, now_ms))
    wick = [_hash01(seed, currency, step_ms, t_ms, side) for side in ("h", "l")]
    high = round(max(open_, close) + 1.5 * wick[0], 2)
    low = round(min(open_, close) - 1.5 * wick[1], 2)
    return [t_ms, open_, high, low, close]


# --- option chain ------------------------------------------------------------
def _code(expiry: datetime) -> str:
    """Deribit's expiry code: day without zero padding (``5JUN20``, ``27DEC24``)."""
    return f"{expiry.day}{_MONTHS[expiry.month - 1]}{expiry:%y}"


def _last_friday(year: int, month: int) -> datetime:
    first_next = datetime(year + month // 12, month % 12 + 1, 1, 8, tzinfo=UTC)
    day = first_next - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 4) % 7)


def _expiries(now: datetime) -> list[tuple[datetime, bool]]:
    """Four expiries after ``now`` (daily, weekly, monthly, quarterly).

    Each comes with whether a dated future of that expiry is listed.
    """
    today = now.replace(hour=8, minute=0, second=0, microsecond=0)
    daily = today + timedelta(days=1 if today <= now + timedelta(hours=1) else 0)
    weekly = daily + timedelta(days=(4 - daily.weekday()) % 7 or 7)
    year, month = weekly.year + (weekly.month == 12), weekly.month % 12 + 1
    monthly = _last_friday(year, month)
    while True:
        year, month = year + (month == 12), month % 12 + 1
        if month % 3 == 0:
            break
    quarterly = _last_friday(year, month)
    return [(daily, False), (weekly, False), (monthly, True), (quarterly, True)]


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _black_coin(
    forward: float, strike: float, years: float, vol: float, call: bool
) -> float:
    """Black-76 option value in coin per option (value in USD / forward)."""
    sd = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    ratio = strike / forward
    if call:
        return _norm_cdf(d1) - ratio * _norm_cdf(d2)
    return ratio * _norm_cdf(-d2) - _norm_cdf(-d1)


@dataclass
class _Chain:
    """One currency's instruments, book summary rows and canonical chain."""

    instruments: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    truth: list[dict[str, Any]] = field(default_factory=list)


def _instrument(
    currency: str, name: str, expiry: datetime, now: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "tick_size": 0.0001 if extra.get("kind") == "option" else 2.5,
        "tick_size_steps": [],
        "taker_commission": 0.0003,
        "settlement_period": extra.pop("settlement_period", "month"),
        "settlement_currency": currency,
        "rfq": False,
        "quote_currency": currency if extra.get("kind") == "option" else "USD",
        "price_index": f"{currency.lower()}_usd",
        "min_trade_amount": 0.1 if extra.get("kind") == "option" else 10.0,
        "maker_commission": 0.0003,
        "is_active": True,
        "instrument_name": name,
        "instrument_id": int(_hash01(name) * 400_000),
        "expiration_timestamp": ms(expiry),
        "creation_timestamp": ms(now - timedelta(days=30)),
        "counter_currency": "USD",
        "contract_size": 1.0 if extra.get("kind") == "option" else 10.0,
        "block_trade_tick_size": 0.0001,
        "block_trade_min_trade_amount": 25,
        "block_trade_commission": 0.0003,
        "base_currency": currency,
        "instrument_type": "reversed",
        **extra,
    }


def _option_rows(
    rng: random.Random,
    currency: str,
    now: datetime,
    snapshot: datetime,
    expiry: datetime,
    future: bool,
    index: float,
) -> _Chain:
    out = _Chain()
    years = (expiry - now) / timedelta(days=365)
    forward = round(index * (1 + 0.08 * years) + rng.uniform(-3, 3), 2)
    step = _STRIKE_STEP[currency][1 if future else 0]
    atm = round(forward / step) * step
    underlying = (
        f"{currency}-{_code(expiry)}" if future else f"SYN.{currency}-{_code(expiry)}"
    )
    for strike in (atm + k * step for k in range(-2, 3)):
        for call in (True, False):
            name = f"{currency}-{_code(expiry)}-{int(strike)}-{'C' if call else 'P'}"
            iv = round(45 + 30 * abs(math.log(strike / forward)) + rng.uniform(0, 4), 2)
            mark = round(_black_coin(forward, strike, years, iv / 100, call), 8)
            oi = round(rng.uniform(0, 900), 1) if rng.random() > 0.1 else 0.0
            created = ms(now) - rng.randrange(0, 900)
            quoted = mark >= 0.0002
            bid = round(mark * 0.96, 4) if quoted else None
            ask = round(mark * 1.04 + 0.0001, 4) if quoted else None
            traded = rng.random() > 0.4
            out.instruments.append(
                _instrument(
                    currency,
                    name,
                    expiry,
                    now,
                    kind="option",
                    strike=strike,
                    option_type="call" if call else "put",
                )
            )
            out.summary.append(
                {
                    "volume_usd": round(rng.uniform(0, 2e5), 2) if traded else 0.0,
                    "volume": round(rng.uniform(0, 50), 1) if traded else 0.0,
                    "quote_currency": currency,
                    "price_change": round(rng.uniform(-30, 30), 4) if traded else None,
                    "open_interest": oi,
                    "mid_price": None
                    if bid is None or ask is None
                    else round((bid + ask) / 2, 5),
                    "mark_price": mark,
                    "mark_iv": iv,
                    "low": round(mark * 0.8, 4) if traded else None,
                    "last": round(mark * 0.98, 4) if traded else None,
                    "interest_rate": 0.0,
                    "instrument_name": name,
                    "high": round(mark * 1.2, 4) if traded else None,
                    "estimated_delivery_price": index,
                    "creation_timestamp": created,
                    "bid_price": bid,
                    "base_currency": currency,
                    "ask_price": ask,
                    "underlying_price": forward,
                    "underlying_index": underlying,
                }
            )
            out.truth.append(
                {
                    TS: snapshot,
                    INSTRUMENT: name,
                    EXPIRY: expiry,
                    STRIKE: float(strike),
                    OPTION_TYPE: "call" if call else "put",
                    OPTION_OI: oi,
                    MARK_IV: iv * 0.01,
                    MARK_PRICE: mark,
                    UNDERLYING_PRICE: forward,
                    INDEX_PRICE: index,
                    QUOTE_TS: from_ms(created),
                }
            )
    return out


def _future_rows(
    rng: random.Random,
    currency: str,
    now: datetime,
    expiries: list[datetime],
    index: float,
) -> _Chain:
    out = _Chain()
    dated = [(f"{currency}-{_code(e)}", e, "month") for e in expiries]
    perpetual = (
        f"{currency}-PERPETUAL",
        datetime(3000, 1, 1, 8, tzinfo=UTC),
        "perpetual",
    )
    for name, expiry, period in [perpetual, *dated]:
        out.instruments.append(
            _instrument(
                currency,
                name,
                expiry,
                now,
                kind="future",
                settlement_period=period,
                future_type="reversed",
                max_leverage=50,
                max_liquidation_commission=0.0075,
            )
        )
        price = round(index * (1 + rng.uniform(0, 0.02)), 1)
        row = {
            "volume_usd": round(rng.uniform(1e7, 1e9), 2),
            "volume": round(rng.uniform(100, 5000), 8),
            "quote_currency": "USD",
            "price_change": round(rng.uniform(-3, 3), 4),
            "open_interest": round(rng.uniform(1e7, 1e9), 0),
            "mid_price": price,
            "mark_price": price,
            "low": round(price * 0.97, 1),
            "last": price,
            "instrument_name": name,
            "high": round(price * 1.03, 1),
            "estimated_delivery_price": index,
            "creation_timestamp": ms(now) - rng.randrange(0, 900),
            "bid_price": price - 0.5,
            "base_currency": currency,
            "ask_price": price + 0.5,
        }
        if period == "perpetual":
            row |= {"funding_8h": 0.0001, "current_funding": 0.0}
        out.summary.append(row)
    return out


# --- the data set and its ground truth --------------------------------------
@dataclass
class DeribitData:
    """What the emulated Deribit serves, and the canonical frames it implies.

    Attributes
    ----------
    now : datetime
        The venue's clock (``usIn``; ``usOut`` is :attr:`us_out`).
    seed : int
        Seed of every generated value.
    currencies : tuple[str, ...]
        Currencies listed (others answer Deribit's invalid-parameter error).
    page_limit : int
        Most candles per ``get_volatility_index_data`` answer.
    history_start : datetime
        Oldest DVOL candle served.
    instruments, summaries : dict
        Raw ``get_instruments`` and ``get_book_summary_by_currency`` rows per
        currency (options and futures).
    chains : dict[str, pl.DataFrame]
        Ground truth per currency: the option chain in schema OPTIONS_CHAIN,
        sorted by instrument, greeks and bid/ask IV null.
    rate_limited : int
        The next this many requests answer Deribit's HTTP 429 (code 10028).
    """

    now: datetime
    seed: int
    currencies: tuple[str, ...]
    page_limit: int = 1000
    history_start: datetime = DVOL_START
    instruments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    summaries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    chains: dict[str, pl.DataFrame] = field(default_factory=dict)
    rate_limited: int = 0

    @property
    def us_in(self) -> int:
        """``usIn`` of every answer (microseconds)."""
        return (self.now - EPOCH) // timedelta(microseconds=1)

    @property
    def us_out(self) -> int:
        """``usOut`` of every answer (microseconds)."""
        return self.us_in + 311

    @property
    def snapshot_ts(self) -> datetime:
        """The chain's snapshot time: ``usOut`` floored to the second."""
        return EPOCH + timedelta(seconds=self.us_out // 1_000_000)

    def candles(
        self, currency: str, resolution: str, first_ms: int, last_ms: int
    ) -> list[list[float | int]]:
        """Raw candles with ``first_ms <= ts <= last_ms`` served now, oldest first."""
        step = RESOLUTION_MS[resolution]
        now_ms = ms(self.now)
        lo = max(first_ms, ms(self.history_start))
        hi = min(last_ms, now_ms)
        start = -(-lo // step) * step
        return [
            dvol_candle(self.seed, currency, step, t, now_ms)
            for t in range(start, hi + 1, step)
        ]

    def dvol(
        self,
        currency: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        """Ground truth: closed DVOL bars with ``start <= ts < end`` (VOL_INDEX).

        A bar is closed when ``ts + timeframe <= usOut``; values are index
        points times 0.01 (decimals).
        """
        resolution = TIMEFRAME_RESOLUTION[timeframe]
        step = RESOLUTION_MS[resolution]
        first = ms(start) if start is not None else ms(self.history_start)
        last = (ms(end) - 1) if end is not None else ms(self.now)
        closed = [
            c
            for c in self.candles(currency, resolution, first, last)
            if int(c[0]) + step <= self.us_out // 1000
        ]
        frame = pl.DataFrame(
            {
                TS: [from_ms(int(c[0])) for c in closed],
                OPEN: [float(c[1]) * 0.01 for c in closed],
                HIGH: [float(c[2]) * 0.01 for c in closed],
                LOW: [float(c[3]) * 0.01 for c in closed],
                CLOSE: [float(c[4]) * 0.01 for c in closed],
            },
            schema=dict(VOL_INDEX.columns),
        )
        return frame

    def envelope(self, result: Any) -> dict[str, Any]:
        """Deribit's JSON-RPC success envelope around ``result``."""
        return {
            "jsonrpc": "2.0",
            "result": result,
            "usIn": self.us_in,
            "usOut": self.us_out,
            "usDiff": self.us_out - self.us_in,
            "testnet": False,
        }

    def error(self, param: str, reason: str = "wrong format") -> Reply:
        """Deribit's HTTP 400 answer to a bad parameter."""
        body = {
            "jsonrpc": "2.0",
            "error": {
                "message": "Invalid params",
                "data": {"reason": reason, "param": param},
                "code": -32602,
            },
            "usIn": self.us_in,
            "usOut": self.us_out,
            "usDiff": self.us_out - self.us_in,
            "testnet": False,
        }
        return Reply(body, status=400)


def _build(data: DeribitData) -> None:
    snapshot = data.snapshot_ts
    for currency in data.currencies:
        rng = random.Random(f"{data.seed}-{currency}")
        index = round(_SPOT.get(currency, 100.0) * (1 + rng.uniform(-0.1, 0.1)), 2)
        expiries = _expiries(data.now)
        options = [
            _option_rows(rng, currency, data.now, snapshot, e, fut, index)
            for e, fut in expiries
        ]
        futures = _future_rows(
            rng, currency, data.now, [e for e, f in expiries if f], index
        )
        data.instruments[currency] = [
            row for part in [*options, futures] for row in part.instruments
        ]
        summary = [row for part in [*options, futures] for row in part.summary]
        rng.shuffle(summary)
        data.summaries[currency] = summary
        truth = pl.DataFrame(
            [row for part in options for row in part.truth],
            schema={c: OPTIONS_CHAIN.columns[c] for c in options[0].truth[0]},
        )
        data.chains[currency] = (
            truth.with_columns(
                pl.lit(None, pl.Float64).alias(c)
                for c in (DELTA, GAMMA, VEGA, THETA, BID_IV, ASK_IV)
            )
            .select(list(OPTIONS_CHAIN.columns))
            .sort(INSTRUMENT)
        )
        assert data.chains[currency].schema[TS] == TS_DTYPE


# --- handlers ----------------------------------------------------------------
def _throttled(data: DeribitData) -> Reply | None:
    if data.rate_limited <= 0:
        return None
    data.rate_limited -= 1
    body = {
        "jsonrpc": "2.0",
        "error": {"message": "too_many_requests", "code": 10028},
        "usIn": data.us_in,
        "usOut": data.us_out,
        "usDiff": data.us_out - data.us_in,
        "testnet": False,
    }
    return Reply(body, status=429)


def _currencies(data: DeribitData, query: dict[str, str], fault: str | None) -> Reply:
    rows = [
        {
            "withdrawal_priorities": [],
            "withdrawal_fee": 0.0001 if c == "BTC" else 0.0006,
            "min_withdrawal_fee": 0.0001 if c == "BTC" else 0.0006,
            "min_confirmations": 1 if c == "BTC" else 12,
            "fee_precision": 4,
            "decimals": 8,
            "in_cross_collateral_pool": True,
            "currency_long": _NAMES.get(c, c),
            "currency": c,
            "coin_type": "BITCOIN" if c == "BTC" else "ETHER",
            "apr": None,
        }
        for c in data.currencies
    ]
    return Reply(data.envelope(rows))


def _kind_filter(
    data: DeribitData, currency: str, kind: str | None
) -> list[dict[str, Any]]:
    kinds = {r["instrument_name"]: r["kind"] for r in data.instruments[currency]}
    rows = data.summaries[currency]
    return [r for r in rows if kind in (None, kinds[r["instrument_name"]])]


def _instruments(data: DeribitData, query: dict[str, str], fault: str | None) -> Reply:
    currency = query.get("currency", "any")
    kind = query.get("kind")
    if currency != "any" and currency not in data.currencies:
        return data.error("currency")
    if kind not in (None, "future", "option", "spot", "future_combo", "option_combo"):
        return data.error("kind")
    if query.get("expired") == "true":
        return Reply(data.envelope([]))
    wanted = data.currencies if currency == "any" else (currency,)
    rows = [r for c in wanted for r in data.instruments[c] if kind in (None, r["kind"])]
    return Reply(data.envelope(rows))


def _book_summary(data: DeribitData, query: dict[str, str], fault: str | None) -> Reply:
    currency = query.get("currency")
    if currency is None:
        return data.error("currency", "must be present")
    if currency not in data.currencies:
        return data.error("currency")
    kind = query.get("kind")
    if kind not in (None, "future", "option", "spot", "future_combo", "option_combo"):
        return data.error("kind")
    rows = _kind_filter(data, currency, kind)
    if fault == "overlap":
        rows = rows[:1] + rows
    elif fault == "skip":
        rows = rows[1:]
    return Reply(data.envelope(rows))


def _int_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name, "")
    return int(value) if value.lstrip("-").isdigit() else None


def _volatility(
    data: DeribitData, query: dict[str, str], fault: str | None, rows: int
) -> Reply:
    currency = query.get("currency")
    if currency is None or currency not in data.currencies:
        return data.error(
            "currency", "must be present" if currency is None else "wrong format"
        )
    first, last = (
        _int_param(query, "start_timestamp"),
        _int_param(query, "end_timestamp"),
    )
    if first is None:
        return data.error("start_timestamp", "must be present")
    if last is None:
        return data.error("end_timestamp", "must be present")
    resolution = query.get("resolution", "")
    if resolution not in RESOLUTION_MS:
        return data.error("resolution")
    candles = data.candles(currency, resolution, first, last)
    continuation = None
    if len(candles) > data.page_limit:
        candles = candles[-data.page_limit :]
        continuation = int(candles[0][0])
    if fault == "overlap" and candles:
        step = RESOLUTION_MS[resolution]
        before = data.candles(
            currency,
            resolution,
            int(candles[0][0]) - rows * step,
            int(candles[0][0]) - 1,
        )
        candles = before + candles
    elif fault == "skip":
        candles = candles[rows:]
    return Reply(data.envelope({"data": candles, "continuation": continuation}))


def install_deribit(
    emu: Emulator,
    *,
    now: datetime,
    seed: int,
    currencies: tuple[str, ...] = ("BTC", "ETH"),
    page_limit: int = 1000,
    fault_rows: int = 1,
    history_start: datetime = DVOL_START,
) -> DeribitData:
    """Serve a seeded Deribit on ``emu``; return its data and ground truth.

    Parameters
    ----------
    emu : Emulator
        A running emulator.
    now : datetime
        The venue's clock (fixed for the whole test).
    seed : int
        Seed of every generated value.
    currencies : tuple[str, ...]
        Currencies listed.
    page_limit : int
        Most candles per DVOL answer (Deribit: 1000).
    fault_rows : int
        Rows shifted or dropped by ``overlap`` / ``skip`` faults on DVOL pages
        (the server passes handlers the fault's kind, not its ``rows``).
    history_start : datetime
        Oldest DVOL candle served (Deribit: DVOL's launch, 2021-03-24).
    """
    data = DeribitData(
        now=now,
        seed=seed,
        currencies=tuple(currencies),
        page_limit=page_limit,
        history_start=history_start,
    )
    _build(data)

    def guard(handler: Any) -> Any:
        def answer(query: dict[str, str], fault: str | None) -> Reply:
            throttled = _throttled(data)
            return throttled if throttled is not None else handler(data, query, fault)

        return answer

    def volatility(d: DeribitData, q: dict[str, str], f: str | None) -> Reply:
        return _volatility(d, q, f, fault_rows)

    emu.route(HOST, f"{API}/get_currencies", guard(_currencies))
    emu.route(HOST, f"{API}/get_instruments", guard(_instruments))
    emu.route(HOST, f"{API}/get_book_summary_by_currency", guard(_book_summary))
    emu.route(HOST, f"{API}/get_volatility_index_data", guard(volatility))
    return data
