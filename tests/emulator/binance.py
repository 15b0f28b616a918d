"""Binance spot and USDⓈ-M futures, played on the local emulator.

Routes (the real paths, parameter names, field types and page limits):

``api.binance.com``
    ``/api/v3/exchangeInfo``; ``/api/v3/klines`` (symbol, interval,
    startTime, endTime, limit: default 500, at most 1000).
``fapi.binance.com``
    ``/fapi/v1/exchangeInfo``; ``/fapi/v1/klines`` (limit default 500, at most
    1500); ``/fapi/v1/fundingRate`` (symbol, startTime, endTime, limit default
    100, at most 1000); ``/fapi/v1/fundingInfo``;
    ``/futures/data/openInterestHist`` (symbol, period, startTime, endTime,
    limit default 30, at most 500; only the last 30 days).

Wire format, as Binance sends it: klines are 12-field arrays with integer
times and decimal *strings* (``[1704067200000, "42283.58000000", ...,
1704070799999, "53957248.97378900", 47134, "682.57581000", "...", "0"]``),
futures klines use the contract's tick size instead of 8 decimals; klines
include the bar still open at ``now``; funding times carry a few milliseconds
of jitter and the oldest rows an empty ``markPrice``; unknown symbols answer
HTTP 400 ``{"code": -1121, "msg": "Invalid symbol."}``; an open-interest
``startTime`` older than 30 days answers HTTP 400 ``{"code": -1130, "msg":
"parameter 'startTime' is invalid."}``; a ``limit`` above the maximum answers
HTTP 400 ``-1130`` (what the futures endpoints do; the emulator is as strict on
spot).

Paging semantics: klines and funding are anchored at ``startTime`` (the first
``limit`` rows from it, ascending; without ``startTime`` the last ``limit``
rows up to ``endTime``). Open-interest history is played anchored at
``endTime`` (the *last* ``limit`` rows of the range), the stricter reading of
Binance's docs, so a client must ask windows of at most ``limit`` rows.

Faults ``overlap`` and ``skip`` (which the server hands to the handlers)
start a page ``fault_rows`` rows early or drop its first ``fault_rows`` rows.
Set ``BinanceData.geo_blocked`` to answer everything with Binance's real
HTTP 451 body.

Ground truth is exposed as canonical frames: :meth:`BinanceData.truth`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import polars as pl

from rallylens._typing import SeriesKind
from rallylens.schemas import (
    CANDLES,
    FUNDING,
    INTERVAL_HOURS,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD,
    OI_USD_DERIVED,
    OPEN_INTEREST,
    RATE,
    TS,
    SeriesKey,
    parse_market,
)
from tests.emulator._server import Emulator, Reply

__all__ = [
    "DEFAULT_SYMBOLS",
    "FAPI_HOST",
    "GEO_BLOCK_BODY",
    "SPOT_HOST",
    "BinanceData",
    "SymbolSpec",
    "install_binance",
]

SPOT_HOST = "api.binance.com"
FAPI_HOST = "fapi.binance.com"
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
DAY_MS = 24 * HOUR_MS
OI_WINDOW_MS = 30 * DAY_MS
KLINE_INTERVALS_MS = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS, "1h": HOUR_MS,
    "2h": 2 * HOUR_MS, "4h": 4 * HOUR_MS, "6h": 6 * HOUR_MS, "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS, "1d": DAY_MS, "3d": 3 * DAY_MS, "1w": 7 * DAY_MS,
    "1M": 31 * DAY_MS,
}  # fmt: skip
"""Every interval Binance accepts; the emulator has data for the hour multiples."""
OI_PERIODS_MS = {
    k: KLINE_INTERVALS_MS[k]
    for k in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
}
GEO_BLOCK_BODY = {
    "code": 0,
    "msg": "Service unavailable from a restricted location according to 'b. "
    "Eligibility' in https://www.binance.com/en/terms. Please contact customer "
    "service if you believe you received this message in error.",
}
Kind = Literal["spot", "perp"]


@dataclass(frozen=True)
class SymbolSpec:
    """One base asset quoted in USDT, listed on spot and/or USDⓈ-M perps.

    ``funding_hours`` is the settlement interval from listing; with
    ``switch_days_ago`` the interval becomes ``switch_to_hours`` at the last
    8-hour boundary that many days before ``now``.
    """

    base: str
    price: float
    spot: bool = True
    perp: bool = True
    funding_hours: int = 8
    switch_to_hours: int | None = None
    switch_days_ago: float | None = None
    listed_hours_ago: int | None = None
    price_decimals: int = 2
    qty_decimals: int = 3

    @property
    def id(self) -> str:
        """Binance's symbol id (``BTCUSDT``)."""
        return f"{self.base}USDT"


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTC", 60_000.0, price_decimals=1),
    SymbolSpec("ETH", 3_000.0),
    SymbolSpec("DOGE", 0.2, funding_hours=4, price_decimals=5, qty_decimals=0),
    SymbolSpec(
        "ORDI", 30.0, switch_to_hours=4, switch_days_ago=150, price_decimals=3,
        qty_decimals=1,
    ),
    SymbolSpec(
        "NEWT", 1.5, spot=False, funding_hours=4, listed_hours_ago=3,
        price_decimals=4, qty_decimals=0,
    ),
)  # fmt: skip
"""BTC, ETH (8h funding), DOGE (4h), ORDI (8h, then 4h), NEWT (perp listed 3h ago)."""


@dataclass
class _Table:
    """Rows of one endpoint and symbol, sorted by time, served by slicing."""

    times: list[int]
    rows: list[Any]


@dataclass
class BinanceData:
    """Generated venue state and its ground truth (see :meth:`truth`)."""

    now: datetime
    seed: int
    symbols: tuple[SymbolSpec, ...]
    history_days: int
    fault_rows: int = 3
    geo_blocked: bool = False
    _klines: dict[tuple[Kind, str, str], tuple[_Table, pl.DataFrame]] = field(
        default_factory=dict, repr=False
    )
    _hourly: dict[tuple[Kind, str], pl.DataFrame] = field(
        default_factory=dict, repr=False
    )
    _funding: dict[str, tuple[_Table, pl.DataFrame]] = field(
        default_factory=dict, repr=False
    )
    _oi: dict[tuple[str, str], tuple[_Table, pl.DataFrame]] = field(
        default_factory=dict, repr=False
    )

    @property
    def now_ms(self) -> int:
        """``now`` in epoch milliseconds."""
        return int(self.now.timestamp() * 1000)

    def spec(self, symbol_id: str, kind: Kind) -> SymbolSpec | None:
        """The listed symbol ``symbol_id`` on ``kind`` (None: not listed)."""
        for spec in self.symbols:
            if spec.id == symbol_id and (spec.spot if kind == "spot" else spec.perp):
                return spec
        return None

    def listed_ms(self, spec: SymbolSpec) -> int:
        """Listing time (epoch ms): the whole history, or ``listed_hours_ago``."""
        if spec.listed_hours_ago is not None:
            return _floor(self.now_ms - spec.listed_hours_ago * HOUR_MS, HOUR_MS)
        return _floor(self.now_ms - self.history_days * DAY_MS, DAY_MS)

    def _rng(self, *parts: object) -> np.random.Generator:
        salt = [sum(ord(c) * 31**i for i, c in enumerate(str(p))) for p in parts]
        return np.random.default_rng([self.seed, *salt])

    # --- ground truth ---------------------------------------------------------
    def truth(self, key: SeriesKey) -> pl.DataFrame:
        """Every row the venue serves for ``key``, canonical, closed bars only."""
        market = parse_market(key.market)
        kind: Kind = "spot" if market.market_type == "spot" else "perp"
        symbol_id = f"{market.base}{market.quote}"
        if key.kind == SeriesKind.OHLCV:
            return self.klines(kind, symbol_id, key.timeframe)[1]
        if key.kind == SeriesKind.FUNDING:
            return self.funding(symbol_id)[1]
        if key.kind == SeriesKind.OPEN_INTEREST:
            return self.open_interest(symbol_id, key.timeframe)[1]
        raise ValueError(f"the Binance emulator has no {key.kind} series")

    # --- klines -----------------------------------------------------------------
    def hourly(self, kind: Kind, symbol_id: str) -> pl.DataFrame:
        """Unrounded 1h bars from listing to the bar open at ``now``."""
        cached = self._hourly.get((kind, symbol_id))
        if cached is not None:
            return cached
        spec = self.spec(symbol_id, kind)
        assert spec is not None
        opens = np.arange(self.listed_ms(spec), self.now_ms + 1, HOUR_MS)
        frame = _random_bars(self._rng("spot", symbol_id), spec.price, len(opens))
        if kind == "perp":
            basis = pl.lit(
                pl.Series(
                    1 + self._rng("basis", symbol_id).normal(3e-4, 2e-4, len(opens))
                )
            )
            volume = pl.lit(
                pl.Series(self._rng("perp", symbol_id).lognormal(0.9, 0.3, len(opens)))
            )
            frame = frame.with_columns(
                *(pl.col(c) * basis for c in ("open", "high", "low", "close")),
                *(pl.col(c) * volume for c in ("volume", "taker_buy_base")),
                (pl.col("trades") * volume).cast(pl.Int64) + 1,
            ).with_columns(
                (pl.col("volume") * pl.col("typical") * basis).alias("quote_volume"),
                (pl.col("taker_buy_base") * pl.col("typical") * basis).alias(
                    "taker_buy_quote"
                ),
            )
        frame = frame.with_columns(pl.Series("open_ms", opens)).drop("typical")
        self._hourly[(kind, symbol_id)] = frame
        return frame

    def klines(
        self, kind: Kind, symbol_id: str, interval: str
    ) -> tuple[_Table, pl.DataFrame]:
        """Served rows (the open bar included) and the truth (closed bars only)."""
        cached = self._klines.get((kind, symbol_id, interval))
        if cached is not None:
            return cached
        spec = self.spec(symbol_id, kind)
        step = KLINE_INTERVALS_MS[interval]
        if spec is None or step % HOUR_MS or step > DAY_MS:
            table, truth = _Table([], []), CANDLES.empty()
        else:
            bars = _aggregate(self.hourly(kind, symbol_id), step)
            table, truth = _format_klines(
                bars, step, spec, kind=kind, now_ms=self.now_ms
            )
        self._klines[(kind, symbol_id, interval)] = (table, truth)
        return table, truth

    # --- funding ----------------------------------------------------------------
    def settlements(self, spec: SymbolSpec) -> list[tuple[int, int]]:
        """``(settlement ms, interval hours)`` from listing to ``now``."""
        switch = None
        if spec.switch_days_ago is not None:
            switch = _floor(
                self.now_ms - int(spec.switch_days_ago * DAY_MS), 8 * HOUR_MS
            )
        hours = spec.funding_hours
        t = _ceil(self.listed_ms(spec) + 1, hours * HOUR_MS)
        out = []
        while t <= self.now_ms:
            out.append((t, hours))
            if switch is not None and spec.switch_to_hours and t >= switch:
                hours = spec.switch_to_hours
            t += hours * HOUR_MS
        return out

    def funding(self, symbol_id: str) -> tuple[_Table, pl.DataFrame]:
        """Served funding rows and the truth (ts on the second, interval per row)."""
        cached = self._funding.get(symbol_id)
        if cached is not None:
            return cached
        spec = self.spec(symbol_id, "perp")
        if spec is None:
            return _Table([], []), FUNDING.empty()
        schedule = self.settlements(spec)
        rng = self._rng("funding", symbol_id)
        rates = np.round(rng.normal(1e-4, 1.5e-4, len(schedule)), 8)
        jitter = rng.integers(0, 10, len(schedule))
        hourly = self.hourly("perp", symbol_id)
        opens, closes = hourly["open_ms"].to_list(), hourly["close"].to_list()
        rows, times = [], []
        for i, ((t, _), rate) in enumerate(zip(schedule, rates, strict=True)):
            mark = closes[max(0, bisect.bisect_right(opens, t - HOUR_MS) - 1)]
            rows.append(
                {
                    "symbol": symbol_id,
                    "fundingTime": int(t + jitter[i]),
                    "fundingRate": _fixed(rate, 8),
                    "markPrice": "" if i < 3 and spec.base == "BTC" else f"{mark:.8f}",
                }
            )
            times.append(int(t + jitter[i]))
        truth = pl.DataFrame(
            {
                TS: [t * 1000 for t, _ in schedule],
                RATE: [float(r["fundingRate"]) for r in rows],
                INTERVAL_HOURS: [h for _, h in schedule],
            },
            schema_overrides={TS: pl.Int64, INTERVAL_HOURS: pl.Int32},
        )
        result = _Table(times, rows), _canonical(truth, FUNDING)
        self._funding[symbol_id] = result
        return result

    def funding_info(self) -> list[dict[str, Any]]:
        """``/fapi/v1/fundingInfo``: symbols whose interval or caps were adjusted."""
        out = []
        for spec in self.symbols:
            if spec.perp and (spec.funding_hours != 8 or spec.switch_to_hours):
                schedule = self.settlements(spec)
                hours = schedule[-1][1] if schedule else spec.funding_hours
                out.append(
                    {
                        "symbol": spec.id,
                        "adjustedFundingRateCap": "0.02000000",
                        "adjustedFundingRateFloor": "-0.02000000",
                        "fundingIntervalHours": hours,
                        "disclaimer": False,
                    }
                )
        return out

    # --- open interest ----------------------------------------------------------
    def open_interest(self, symbol_id: str, period: str) -> tuple[_Table, pl.DataFrame]:
        """Rows of the last 30 days at ``period`` and the truth."""
        cached = self._oi.get((symbol_id, period))
        if cached is not None:
            return cached
        spec = self.spec(symbol_id, "perp")
        if spec is None:
            return _Table([], []), OPEN_INTEREST.empty()
        step = OI_PERIODS_MS[period]
        first = max(self.now_ms - OI_WINDOW_MS, self.listed_ms(spec))
        grid = np.arange(_ceil(first, 5 * MINUTE_MS), self.now_ms + 1, 5 * MINUTE_MS)
        rng = self._rng("oi", symbol_id)
        base = 2e9 / spec.price * np.exp(np.cumsum(rng.normal(0, 0.002, len(grid))))
        price = spec.price * np.exp(np.cumsum(rng.normal(0, 0.001, len(grid))))
        rows, times = [], []
        for t, oi, px in zip(grid, base, price, strict=True):
            if t % step:
                continue
            oi_text = _fixed(oi, spec.qty_decimals, pad=8)
            rows.append(
                {
                    "symbol": symbol_id,
                    "sumOpenInterest": oi_text,
                    "sumOpenInterestValue": f"{float(oi_text) * px:.8f}",
                    "CMCCirculatingSupply": f"{2e10 / spec.price:.3f}",
                    "timestamp": int(t),
                }
            )
            times.append(int(t))
        truth = pl.DataFrame(
            {
                TS: [t * 1000 for t in times],
                OI_BASE: [float(r["sumOpenInterest"]) for r in rows],
                OI_USD: [float(r["sumOpenInterestValue"]) for r in rows],
                OI_BASE_DERIVED: [False] * len(rows),
                OI_USD_DERIVED: [False] * len(rows),
            },
            schema_overrides={TS: pl.Int64},
        )
        result = _Table(times, rows), _canonical(truth, OPEN_INTEREST)
        self._oi[(symbol_id, period)] = result
        return result


# --- generation helpers -------------------------------------------------------------
def _floor(ms: int, step: int) -> int:
    return ms // step * step


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step


def _fixed(value: float, decimals: int, *, pad: int | None = None) -> str:
    """Binance's decimal string: rounded to ``decimals``, padded to ``pad``."""
    text = f"{round(float(value), decimals):.{pad or decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _random_bars(rng: np.random.Generator, price: float, n: int) -> pl.DataFrame:
    close = price * np.exp(np.cumsum(rng.normal(0, 0.006, n)))
    open_ = np.concatenate([[price], close[:-1]])
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.003, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.003, n)))
    volume = rng.lognormal(np.log(2e7 / price), 0.5, n)
    typical = (high + low + close) / 3
    taker = volume * rng.beta(5, 5, n)
    return pl.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "quote_volume": volume * typical,
            "trades": (volume * price / 2_000 * rng.uniform(0.8, 1.2, n)).astype(int)
            + 1,
            "taker_buy_base": taker,
            "taker_buy_quote": taker * typical,
            "typical": typical,
        }
    )


def _aggregate(hourly: pl.DataFrame, step: int) -> pl.DataFrame:
    if step == HOUR_MS:
        return hourly
    return (
        hourly.group_by(
            (pl.col("open_ms") // step * step).alias("bucket"), maintain_order=True
        )
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col(
                "volume", "quote_volume", "trades", "taker_buy_base", "taker_buy_quote"
            ).sum(),
        )
        .rename({"bucket": "open_ms"})
    )


_PRICE = ("open", "high", "low", "close")
_QTY = ("volume", "taker_buy_base")
_QUOTE = ("quote_volume", "taker_buy_quote")


def _format_klines(
    bars: pl.DataFrame, step: int, spec: SymbolSpec, *, kind: Kind, now_ms: int
) -> tuple[_Table, pl.DataFrame]:
    pad = 8 if kind == "spot" else None
    quote_dp = 8 if kind == "spot" else 5
    cols = {c: bars[c].to_list() for c in bars.columns}
    rows, times = [], []
    for i, open_ms in enumerate(cols["open_ms"]):
        price = [_fixed(cols[c][i], spec.price_decimals, pad=pad) for c in _PRICE]
        qty = [_fixed(cols[c][i], spec.qty_decimals, pad=pad) for c in _QTY]
        quote = [_fixed(cols[c][i], quote_dp) for c in _QUOTE]
        rows.append(
            [int(open_ms), *price, qty[0], int(open_ms) + step - 1, quote[0],
             int(cols["trades"][i]), qty[1], quote[1], "0"]
        )  # fmt: skip
        times.append(int(open_ms))
    names = ["ts", *_PRICE, "volume", "close_ms", "quote_volume", "trades",
             "taker_buy_base", "taker_buy_quote", "ignore"]  # fmt: skip
    served = pl.DataFrame(rows, schema=names, orient="row")
    truth = served.filter(pl.col("ts") + step <= now_ms).select(
        pl.col("ts") * 1000,
        *(pl.col(c).cast(pl.Float64) for c in (*_PRICE, "volume", "quote_volume")),
        pl.col("trades").cast(pl.Int64),
        *(pl.col(c).cast(pl.Float64) for c in ("taker_buy_base", "taker_buy_quote")),
    )
    return _Table(times, rows), _canonical(truth, CANDLES)


def _canonical(frame: pl.DataFrame, schema: Any) -> pl.DataFrame:
    out = frame.with_columns(
        pl.col(TS).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    )
    for name, dtype in schema.columns.items():
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return out.select(list(schema.columns))


# --- HTTP handlers ------------------------------------------------------------------
class _BadRequest(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.reply = Reply({"code": code, "msg": msg}, status=400)


def _int_param(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise _BadRequest(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is "
            "'^[0-9]{1,20}$'."
        ) from None  # fmt: skip


def _limit(query: dict[str, str], default: int, maximum: int, *, msg: str) -> int:
    limit = _int_param(query, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise _BadRequest(-1130, msg)
    return limit


def _page(
    table: _Table, query: dict[str, str], limit: int, *,
    fault: str | None, rows: int, anchor: Literal["start", "end"] = "start",
) -> list[Any]:  # fmt: skip
    """Rows of ``[startTime, endTime]`` anchored as Binance does, faults applied."""
    start, end = _int_param(query, "startTime"), _int_param(query, "endTime")
    if start is not None and end is not None and start > end:
        raise _BadRequest(-1023, "Start time is greater than end time.")
    lo = bisect.bisect_left(table.times, start) if start is not None else 0
    hi = bisect.bisect_right(table.times, end) if end is not None else len(table.times)
    if anchor == "start" and start is not None:
        first, last = lo, min(hi, lo + limit)
    else:
        first, last = max(lo, hi - limit), hi
    if fault == "overlap":
        first = max(0, first - rows)
        last = min(last, first + limit)
    elif fault == "skip":
        first = min(last, first + rows)
    return table.rows[first:last]


def _guarded(data: BinanceData, handler: Callable[[dict[str, str], str | None], Reply]):
    def answer(query: dict[str, str], fault: str | None) -> Reply:
        if data.geo_blocked:
            return Reply(GEO_BLOCK_BODY, status=451)
        try:
            return handler(query, fault)
        except _BadRequest as exc:
            return exc.reply

    return answer


def _symbol(data: BinanceData, query: dict[str, str], kind: Kind) -> str:
    symbol = query.get("symbol", "")
    if not symbol:
        raise _BadRequest(
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        )
    if data.spec(symbol, kind) is None:
        raise _BadRequest(-1121, "Invalid symbol.")
    return symbol


def _klines_handler(data: BinanceData, kind: Kind) -> Callable[..., Reply]:
    maximum = 1000 if kind == "spot" else 1500

    def handle(query: dict[str, str], fault: str | None) -> Reply:
        symbol = _symbol(data, query, kind)
        interval = query.get("interval", "")
        if interval not in KLINE_INTERVALS_MS:
            raise _BadRequest(-1120, "Invalid interval.")
        limit = _limit(
            query, 500, maximum, msg="Data sent for parameter 'limit' is not valid."
        )
        table = data.klines(kind, symbol, interval)[0]
        return Reply(_page(table, query, limit, fault=fault, rows=data.fault_rows))

    return handle


def _funding_handler(data: BinanceData) -> Callable[..., Reply]:
    def handle(query: dict[str, str], fault: str | None) -> Reply:
        limit = _limit(
            query, 100, 1000, msg="Data sent for parameter 'limit' is not valid."
        )
        if "symbol" in query:
            table = data.funding(_symbol(data, query, "perp"))[0]
        else:  # every symbol, interleaved by time
            merged = sorted(
                (t, r)
                for s in data.symbols
                if s.perp
                for t, r in zip(
                    data.funding(s.id)[0].times, data.funding(s.id)[0].rows, strict=True
                )
            )
            table = _Table([t for t, _ in merged], [r for _, r in merged])
        return Reply(_page(table, query, limit, fault=fault, rows=data.fault_rows))

    return handle


def _open_interest_handler(data: BinanceData) -> Callable[..., Reply]:
    def handle(query: dict[str, str], fault: str | None) -> Reply:
        symbol = _symbol(data, query, "perp")
        period = query.get("period", "")
        if period not in OI_PERIODS_MS:
            raise _BadRequest(-1130, "parameter 'period' is invalid.")
        limit = _limit(query, 30, 500, msg="parameter 'limit' is invalid.")
        start = _int_param(query, "startTime")
        if start is not None and start < data.now_ms - OI_WINDOW_MS:
            raise _BadRequest(-1130, "parameter 'startTime' is invalid.")
        table = data.open_interest(symbol, period)[0]
        return Reply(
            _page(table, query, limit, fault=fault, rows=data.fault_rows, anchor="end")
        )

    return handle


# --- market metadata (what ccxt's load_markets reads) ---------------------------------
def _filters(spec: SymbolSpec, *, spot: bool) -> list[dict[str, Any]]:
    tick = _fixed(
        10.0**-spec.price_decimals, spec.price_decimals, pad=8 if spot else None
    )
    step = _fixed(10.0**-spec.qty_decimals, spec.qty_decimals, pad=8 if spot else None)
    return [
        {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000",
         "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000.00000000",
         "stepSize": step},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000",
         "maxQty": "120.00000000", "stepSize": "0.00000000"},
        {"filterType": "NOTIONAL" if spot else "MIN_NOTIONAL",
         **({"minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False,
             "avgPriceMins": 5} if spot else {"notional": "5"})},
        {"filterType": "MAX_NUM_ORDERS",
         **({"maxNumOrders": 200} if spot else {"limit": 200})},
    ]  # fmt: skip


_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
     "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
     "limit": 61000},
]  # fmt: skip


def spot_exchange_info(data: BinanceData) -> dict[str, Any]:
    """``GET /api/v3/exchangeInfo`` (trimmed to the fields ccxt and users read)."""
    symbols = [
        {
            "symbol": s.id, "status": "TRADING", "baseAsset": s.base,
            "baseAssetPrecision": 8, "quoteAsset": "USDT", "quotePrecision": 8,
            "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS",
                           "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
            "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True, "filters": _filters(s, spot=True),
            "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER",
                                                "EXPIRE_BOTH"],
        }
        for s in data.symbols
        if s.spot
    ]  # fmt: skip
    return {
        "timezone": "UTC",
        "serverTime": data.now_ms,
        "rateLimits": _RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": symbols,
    }


def futures_exchange_info(data: BinanceData) -> dict[str, Any]:
    """``GET /fapi/v1/exchangeInfo`` (perpetuals only)."""
    symbols = [
        {
            "symbol": s.id, "pair": s.id, "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000, "onboardDate": data.listed_ms(s),
            "status": "TRADING", "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000", "baseAsset": s.base,
            "quoteAsset": "USDT", "marginAsset": "USDT",
            "pricePrecision": s.price_decimals, "quantityPrecision": s.qty_decimals,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
            "liquidationFee": "0.012500", "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000, "filters": _filters(s, spot=False),
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                           "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }
        for s in data.symbols
        if s.perp
    ]  # fmt: skip
    return {
        "timezone": "UTC",
        "serverTime": data.now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": _RATE_LIMITS,
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}
        ],
        "symbols": symbols,
    }


def install_binance(
    emu: Emulator,
    *,
    now: datetime,
    seed: int = 7,
    symbols: Sequence[SymbolSpec] = DEFAULT_SYMBOLS,
    history_days: int = 400,
    fault_rows: int = 3,
) -> BinanceData:
    """Register Binance's spot and USDⓈ-M routes on ``emu``.

    Parameters
    ----------
    emu : Emulator
        A started emulator.
    now : datetime
        The venue's clock (timezone-aware); data ends at the bar open at ``now``.
    seed : int
        Seed of every generated series.
    symbols : sequence of SymbolSpec
        Listed assets (USDT quoted).
    history_days : int
        History kept for klines and funding (open interest: 30 days).
    fault_rows : int
        Rows an ``overlap`` or ``skip`` fault shifts a page by.

    Returns
    -------
    BinanceData
        The venue state; ``truth(key)`` gives each series' canonical frame.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    data = BinanceData(
        now.astimezone(UTC), seed, tuple(symbols), history_days, fault_rows
    )
    routes: list[tuple[str, str, Callable[..., Reply]]] = [
        (SPOT_HOST, "/api/v3/exchangeInfo",
         lambda q, f: Reply(spot_exchange_info(data))),
        (SPOT_HOST, "/api/v3/klines", _klines_handler(data, "spot")),
        (FAPI_HOST, "/fapi/v1/exchangeInfo",
         lambda q, f: Reply(futures_exchange_info(data))),
        (FAPI_HOST, "/fapi/v1/klines", _klines_handler(data, "perp")),
        (FAPI_HOST, "/fapi/v1/fundingRate", _funding_handler(data)),
        (FAPI_HOST, "/fapi/v1/fundingInfo", lambda q, f: Reply(data.funding_info())),
        (FAPI_HOST, "/futures/data/openInterestHist", _open_interest_handler(data)),
    ]  # fmt: skip
    for host, path, handler in routes:
        emu.route(host, path, _guarded(data, handler))
    return data
