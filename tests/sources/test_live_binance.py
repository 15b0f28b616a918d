"""Binance live adapter against the local Binance emulator (no other host)."""

from __future__ import annotations

import itertools
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rallylens._typing import SeriesKind
from rallylens.exceptions import (
    ConfigError,
    RateLimitError,
    SourceError,
    UnsupportedSymbolError,
)
from rallylens.schemas import (
    INTERVAL_HOURS,
    TS,
    SeriesFrame,
    SeriesKey,
    schema_for,
    validate,
)
from rallylens.sources._ccxt import RetryPolicy, call_with_retries, make_exchange
from rallylens.sources.live_binance import (
    OI_HISTORY,
    BinanceSource,
    funding_interval_hours,
    label_intervals,
    parse_funding,
    parse_klines,
    parse_open_interest,
)
from rallylens.store import Store, read_series, write_series
from tests.emulator import Emulator, Fault
from tests.emulator.binance import BinanceData, install_binance

NOW = datetime(2026, 11, 21, 13, 37, 12, tzinfo=UTC)
PAST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE = NOW + timedelta(days=2)
HOUR = timedelta(hours=1)


def key(market: str, kind: str, timeframe: str) -> SeriesKey:
    return SeriesKey("binance", market, SeriesKind(kind), timeframe)


SPOT_1H = key("BTC/USDT", "ohlcv", "1h")
PERP_1H = key("BTC/USDT:USDT", "ohlcv", "1h")
FUNDING_DOGE = key("DOGE/USDT:USDT", "funding", "settle")
OI_ETH_1H = key("ETH/USDT:USDT", "open_interest", "1h")
OI_ETH_5M = key("ETH/USDT:USDT", "open_interest", "5m")
KEYS = [
    SPOT_1H,
    PERP_1H,
    key("ETH/USDT", "ohlcv", "4h"),
    key("ORDI/USDT:USDT", "ohlcv", "1d"),
    key("NEWT/USDT:USDT", "ohlcv", "1h"),
    key("BTC/USDT:USDT", "funding", "settle"),
    FUNDING_DOGE,
    key("ORDI/USDT:USDT", "funding", "settle"),
    key("NEWT/USDT:USDT", "funding", "settle"),
    key("BTC/USDT:USDT", "open_interest", "1d"),
    key("BTC/USDT:USDT", "open_interest", "5m"),
    OI_ETH_1H,
    OI_ETH_5M,
    key("NEWT/USDT:USDT", "open_interest", "5m"),
]
PATHS = {
    "spot": r"api\.binance\.com/api/v3/klines",
    "perp": r"fapi\.binance\.com/fapi/v1/klines",
    "funding": r"fapi\.binance\.com/fapi/v1/fundingRate",
    "oi": r"fapi\.binance\.com/futures/data/openInterestHist",
}
PAGED = {  # one multi-page fetch per endpoint: (key, start)
    "spot": (SPOT_1H, NOW - timedelta(days=100)),
    "perp": (PERP_1H, NOW - timedelta(days=100)),
    "funding": (FUNDING_DOGE, PAST),
    "oi": (OI_ETH_1H, PAST),
}
FAULTS = [
    "429", "418", "500", "502", "503", "slow", "timeout", "truncated", "invalid",
    "overlap", "skip",
]  # fmt: skip
TIMEOUT_MS = 1000  # client timeout; a timeout fault answers after twice that


# --- fixtures -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def venue() -> Iterator[tuple[Emulator, BinanceData]]:
    with Emulator() as emu:
        data = install_binance(emu, now=NOW, seed=11)
        for k in KEYS:  # generate up front: no request waits on generation
            data.truth(k)
        yield emu, data


@pytest.fixture
def emu(venue: tuple[Emulator, BinanceData]) -> Iterator[Emulator]:
    server, data = venue
    yield server
    for fault in server.pending_faults():
        fault.times = 0
    data.geo_blocked = False


@pytest.fixture
def data(venue: tuple[Emulator, BinanceData]) -> BinanceData:
    return venue[1]


def source(
    emu: Emulator,
    *,
    attempts: int = 6,
    sleeps: list[float] | None = None,
    clock: datetime = NOW,
) -> BinanceSource:
    exchange = make_exchange("binance", base_url=emu.base_url, timeout_ms=TIMEOUT_MS)
    sleep = sleeps.append if sleeps is not None else (lambda s: None)
    policy = RetryPolicy(attempts=attempts, sleep=sleep)
    return BinanceSource(exchange, policy=policy, clock=lambda: clock)


def fetch_all(src: BinanceSource, k: SeriesKey, start: datetime = PAST) -> pl.DataFrame:
    chunks = list(src.fetch(k, start, FUTURE))
    for chunk in chunks:
        validate(chunk, schema_for(k.kind))
    stamps = [c[TS] for c in chunks if c.height]
    for earlier, later in itertools.pairwise(stamps):
        assert earlier.max() < later.min(), "chunks must come oldest first"
    return pl.concat(chunks) if chunks else schema_for(k.kind).empty()


def between(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    return frame.filter(pl.col(TS).is_between(start, end, closed="left"))


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --- the emulator speaks Binance ------------------------------------------------------
def test_load_markets_reads_both_exchange_infos(emu: Emulator) -> None:
    exchange = make_exchange("binance", base_url=emu.base_url)
    before = len(emu.log)
    markets = exchange.load_markets()
    assert {(r.host, r.path) for r in emu.log[before:]} == {
        ("api.binance.com", "/api/v3/exchangeInfo"),
        ("fapi.binance.com", "/fapi/v1/exchangeInfo"),
    }
    assert markets["BTC/USDT"]["id"] == "BTCUSDT"
    assert markets["BTC/USDT"]["type"] == "spot"
    perp = markets["BTC/USDT:USDT"]
    assert (perp["id"], perp["type"], perp["linear"]) == ("BTCUSDT", "swap", True)
    assert perp["precision"]["price"] == 0.1
    assert "NEWT/USDT" not in markets and "NEWT/USDT:USDT" in markets


def test_wire_format(emu: Emulator, data: BinanceData) -> None:
    base = emu.base_url
    _, spot = get(f"{base}/api.binance.com/api/v3/klines?symbol=BTCUSDT&interval=1h")
    _, perp = get(f"{base}/fapi.binance.com/fapi/v1/klines?symbol=BTCUSDT&interval=1h")
    assert len(spot) == len(perp) == 500  # the default limit, newest last
    row = spot[-1]
    assert len(row) == 12 and isinstance(row[0], int) and isinstance(row[6], int)
    assert isinstance(row[8], int) and row[11] == "0"
    assert all(isinstance(row[i], str) for i in (1, 2, 3, 4, 5, 7, 9, 10))
    assert len(row[1].split(".")[1]) == 8  # spot pads to 8 decimals
    assert len(perp[-1][1].split(".")[1]) == 1  # futures use the tick size
    assert row[0] + 3_600_000 > data.now_ms  # the bar still open is served
    _, funding = get(f"{base}/fapi.binance.com/fapi/v1/fundingRate?symbol=BTCUSDT")
    assert len(funding) == 100
    assert set(funding[0]) == {"symbol", "fundingTime", "fundingRate", "markPrice"}
    assert isinstance(funding[0]["fundingTime"], int)
    assert isinstance(funding[0]["fundingRate"], str)
    _, oi = get(
        f"{base}/fapi.binance.com/futures/data/openInterestHist"
        "?symbol=BTCUSDT&period=1d"
    )
    assert len(oi) == 30 and isinstance(oi[0]["timestamp"], int)
    assert isinstance(oi[0]["sumOpenInterest"], str)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("api.binance.com/api/v3/klines?symbol=NOPEUSDT&interval=1h", -1121),
        ("fapi.binance.com/fapi/v1/klines?symbol=BTCUSDT&interval=7h", -1120),
        ("api.binance.com/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=1001", -1130),
        ("fapi.binance.com/fapi/v1/fundingRate?symbol=NOPEUSDT", -1121),
        ("fapi.binance.com/futures/data/openInterestHist?symbol=BTCUSDT&period=1d"
         "&startTime=0", -1130),
        ("fapi.binance.com/futures/data/openInterestHist?symbol=BTCUSDT&period=1d"
         "&limit=501", -1130),
    ],
)  # fmt: skip
def test_emulator_errors_like_binance(emu: Emulator, path: str, expected: int) -> None:
    status, body = get(f"{emu.base_url}/{path}")
    assert (status, body["code"]) == (400, expected)


def test_open_interest_pages_are_anchored_at_the_end(
    emu: Emulator, data: BinanceData
) -> None:
    start = data.now_ms - 10 * 86_400_000
    _, rows = get(
        f"{emu.base_url}/fapi.binance.com/futures/data/openInterestHist?symbol=BTCUSDT"
        f"&period=1h&startTime={start}&limit=5"
    )
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
    assert rows[-1]["timestamp"] > data.now_ms - 3_600_000  # the newest, not the first


# --- full fetches ---------------------------------------------------------------------
@pytest.mark.parametrize("k", KEYS, ids=str)
def test_full_fetch_equals_truth(
    emu: Emulator, data: BinanceData, k: SeriesKey
) -> None:
    got = fetch_all(source(emu), k)
    truth = data.truth(k)
    if k.kind == SeriesKind.OPEN_INTEREST:
        truth = between(truth, NOW - OI_HISTORY + timedelta(minutes=1), FUTURE)
    assert got[TS].is_unique().all()
    assert_frame_equal(got, truth)


def test_sub_range_is_half_open(emu: Emulator, data: BinanceData) -> None:
    start = NOW - timedelta(days=20, minutes=17)
    end = NOW - timedelta(days=3, minutes=5)
    for k in (SPOT_1H, FUNDING_DOGE, OI_ETH_1H):
        got = pl.concat(list(source(emu).fetch(k, start, end)))
        assert_frame_equal(got, between(data.truth(k), start, end))


def test_only_closed_bars(emu: Emulator, data: BinanceData) -> None:
    earlier = NOW - timedelta(hours=5, minutes=30)
    got = fetch_all(source(emu, clock=earlier), PERP_1H, NOW - timedelta(days=2))
    truth = data.truth(PERP_1H).filter(pl.col(TS) + HOUR <= earlier)
    assert_frame_equal(got, between(truth, NOW - timedelta(days=2), FUTURE))
    assert got[TS].max() == datetime(2026, 11, 21, 7, tzinfo=UTC)


# --- funding intervals ----------------------------------------------------------------
def test_funding_intervals_follow_the_symbol(emu: Emulator, data: BinanceData) -> None:
    src = source(emu)
    btc = fetch_all(src, key("BTC/USDT:USDT", "funding", "settle"))
    doge = fetch_all(src, FUNDING_DOGE)
    ordi = fetch_all(src, key("ORDI/USDT:USDT", "funding", "settle"))
    assert set(btc[INTERVAL_HOURS]) == {8} and set(doge[INTERVAL_HOURS]) == {4}
    switch = ordi.filter(pl.col(INTERVAL_HOURS).diff() != 0)
    assert switch.height == 1  # 8h, then 4h from one settlement on
    assert ordi[INTERVAL_HOURS][0] == 8 and ordi[INTERVAL_HOURS][-1] == 4


@pytest.mark.parametrize(
    "offset", [timedelta(0), timedelta(hours=4), timedelta(hours=8)]
)
def test_funding_resumed_at_the_switch_labels_exactly(
    emu: Emulator, data: BinanceData, offset: timedelta
) -> None:
    k = key("ORDI/USDT:USDT", "funding", "settle")
    truth = data.truth(k)
    first_4h = truth.filter(pl.col(INTERVAL_HOURS) == 4)[TS][0]
    start = first_4h - timedelta(hours=8) + offset
    assert_frame_equal(fetch_all(source(emu), k, start), between(truth, start, FUTURE))


def test_lone_first_settlement_asks_funding_info(emu: Emulator) -> None:
    before = len(emu.log)
    got = fetch_all(source(emu), key("NEWT/USDT:USDT", "funding", "settle"))
    assert got[INTERVAL_HOURS].to_list() == [4]
    assert any(r.path == "/fapi/v1/fundingInfo" for r in emu.log[before:])


# --- faults ---------------------------------------------------------------------------
_STARTS: dict[tuple[SeriesKey, datetime], list[str]] = {}


def page_starts(
    emu: Emulator, endpoint: str, k: SeriesKey, start: datetime
) -> list[str]:
    """startTime of each distinct page a clean fetch of ``k`` asks ``endpoint`` for."""
    if (k, start) not in _STARTS:
        before = len(emu.log)
        list(source(emu).fetch(k, start, FUTURE))
        _STARTS[(k, start)] = list(
            dict.fromkeys(
                r.query["startTime"]
                for r in emu.log[before:]  # a late answer to an old timeout has a fault
                if r.fault is None and re.search(PATHS[endpoint], f"{r.host}{r.path}")
            )
        )
    return _STARTS[(k, start)]


def fault(kind: str, match: str) -> Fault:
    return Fault(
        kind,  # type: ignore[arg-type]
        match=match,
        retry_after=0.01,
        delay_s=0.05 if kind == "slow" else 2 * TIMEOUT_MS / 1000,
    )


@pytest.mark.parametrize("endpoint", sorted(PATHS))
@pytest.mark.parametrize("kind", FAULTS)
def test_fault_on_a_later_page_is_recovered(
    emu: Emulator, data: BinanceData, endpoint: str, kind: str
) -> None:
    k, start = PAGED[endpoint]
    starts = page_starts(emu, endpoint, k, start)
    assert len(starts) >= 2, "the fetch must span several pages"
    emu.inject(fault(kind, rf"{PATHS[endpoint]}\?.*startTime={starts[1]}(&|$)"))
    got = fetch_all(source(emu), k, start)
    assert not emu.pending_faults(), "the fault was never hit"
    assert_frame_equal(got, between(data.truth(k), start, FUTURE))


def test_every_fault_in_one_run(emu: Emulator, data: BinanceData) -> None:
    paged = {**PAGED, "oi": (OI_ETH_5M, PAST)}  # more pages than faults
    first = {e: page_starts(emu, e, *paged[e])[0] for e in PATHS}
    for i, kind in enumerate(FAULTS):  # every endpoint's later pages, in turn
        endpoint = sorted(PATHS)[i % len(PATHS)]
        later = rf"{PATHS[endpoint]}\?(?!.*startTime={first[endpoint]}(&|$))"
        emu.inject(fault(kind, later))
    emu.inject(fault("503", r"fapi/v1/exchangeInfo"))
    src = source(emu)
    for k, start in paged.values():
        assert_frame_equal(
            fetch_all(src, k, start), between(data.truth(k), start, FUTURE)
        )
    assert not emu.pending_faults()


def test_retry_after_is_honoured(emu: Emulator) -> None:
    sleeps: list[float] = []
    emu.inject(Fault("429", match="api/v3/klines", retry_after=7))
    emu.inject(Fault("418", match="api/v3/klines", retry_after=3))
    fetch_all(source(emu, sleeps=sleeps), SPOT_1H, NOW - timedelta(days=1))
    assert {7.0, 3.0} <= set(sleeps)  # backoff alone never waits 7 s or 3 s


# --- resuming -------------------------------------------------------------------------
@pytest.mark.parametrize("k", [SPOT_1H, PERP_1H, FUNDING_DOGE, OI_ETH_5M], ids=str)
def test_interrupted_fetch_resumes_to_the_truth(
    emu: Emulator, data: BinanceData, tmp_path: Path, k: SeriesKey
) -> None:
    start = PAST
    with Store(tmp_path / "s.duckdb") as store:
        for chunk in itertools.islice(source(emu).fetch(k, start, FUTURE), 2):
            write_series(store, [SeriesFrame(k, chunk)])
        partial = read_series(store, k)
        resume_at = partial[TS].max()
        assert 0 < partial.height < data.truth(k).height
        for chunk in source(emu).fetch(k, resume_at, FUTURE):
            write_series(store, [SeriesFrame(k, chunk)])
        stored = read_series(store, k)
    truth = data.truth(k)
    if k.kind == SeriesKind.OPEN_INTEREST:
        truth = between(truth, NOW - OI_HISTORY + timedelta(minutes=1), FUTURE)
    assert stored[TS].is_unique().all()
    assert_frame_equal(stored, truth)


@pytest.mark.parametrize(
    "k",
    [key("ORDI/USDT:USDT", "funding", "settle"), KEYS[2], OI_ETH_1H],
    ids=str,
)
@settings(max_examples=12, deadline=None)
@given(
    first=st.integers(0, 40 * 24 * 60),
    second=st.integers(0, 40 * 24 * 60),
)
def test_any_split_reads_the_same(
    venue: tuple[Emulator, BinanceData], k: SeriesKey, first: int, second: int
) -> None:
    emu, data = venue
    start, split = sorted(NOW - timedelta(minutes=m) for m in (first, second))
    src = source(emu)
    parts = [*src.fetch(k, start - timedelta(days=3), split), *src.fetch(k, split, NOW)]
    got = pl.concat(parts) if parts else schema_for(k.kind).empty()
    assert_frame_equal(got, between(data.truth(k), start - timedelta(days=3), NOW))


# --- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "k",
    [
        key("NOPE/USDT", "ohlcv", "1h"),
        key("NOPE/USDT:USDT", "funding", "settle"),
        key("NEWT/USDT", "ohlcv", "1d"),  # listed as a perp only
    ],
    ids=str,
)
def test_unknown_symbol(emu: Emulator, k: SeriesKey) -> None:
    with pytest.raises(UnsupportedSymbolError, match="does not list"):
        list(source(emu).fetch(k, PAST, FUTURE))


def test_venue_rejecting_a_symbol_maps_to_unsupported(emu: Emulator) -> None:
    exchange = make_exchange("binance", base_url=emu.base_url)
    with pytest.raises(UnsupportedSymbolError, match="does not list"):
        call_with_retries(
            exchange,
            exchange.fapiPublicGetKlines,
            {"symbol": "NOPEUSDT", "interval": "1h"},
            what="klines",
        )


@pytest.mark.parametrize(
    ("k", "error"),
    [
        (key("BTC/USDT", "funding", "settle"), UnsupportedSymbolError),
        (key("BTC/USDT:USDT", "liquidations", "1h"), UnsupportedSymbolError),
        (key("BTC/USDT", "ohlcv", "1w"), UnsupportedSymbolError),
        (key("BTC/USDT:USDT", "open_interest", "1m"), UnsupportedSymbolError),
        (SeriesKey("bybit", "BTC/USDT", SeriesKind.OHLCV, "1h"), ConfigError),
    ],
    ids=str,
)
def test_unserved_series_fail_before_any_request(
    emu: Emulator, k: SeriesKey, error: type[Exception]
) -> None:
    before = len(emu.log)
    with pytest.raises(error):
        source(emu).fetch(k, PAST, FUTURE)
    with pytest.raises(ConfigError, match="time zone"):
        source(emu).fetch(SPOT_1H, datetime(2024, 1, 1), FUTURE)
    assert len(emu.log) == before


@pytest.mark.parametrize("how", ["fault", "venue"])
def test_geo_block(emu: Emulator, data: BinanceData, how: str) -> None:
    if how == "fault":
        emu.inject(Fault("451", match="exchangeInfo"))
    else:
        data.geo_blocked = True  # Binance's own 451 body
    with pytest.raises(SourceError, match="refuses requests from this location"):
        list(source(emu).fetch(SPOT_1H, PAST, FUTURE))


def test_retries_exhausted(emu: Emulator) -> None:
    emu.inject(Fault("503", match="api/v3/klines", times=3))
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        list(source(emu, attempts=3).fetch(SPOT_1H, PAST, FUTURE))
    emu.inject(Fault("429", match="fundingRate", times=3))
    with pytest.raises(RateLimitError, match="kept rate-limiting after 3 attempts"):
        list(source(emu, attempts=3).fetch(FUNDING_DOGE, PAST, FUTURE))


def test_open_interest_never_asks_beyond_30_days(
    emu: Emulator, data: BinanceData
) -> None:
    src = source(emu)
    k = key("BTC/USDT:USDT", "open_interest", "1d")
    assert src.earliest(k, NOW) == NOW - timedelta(days=30)
    assert src.earliest(SPOT_1H, NOW) is None
    before = len(emu.log)
    assert fetch_all(src, k, NOW - timedelta(days=400)).height == 30
    asked = [
        int(r.query["startTime"]) for r in emu.log[before:] if "startTime" in r.query
    ]
    assert min(asked) >= data.now_ms - 30 * 86_400_000
    assert all(r.status == 200 for r in emu.log[before:])


def test_series_defaults() -> None:
    src = BinanceSource(object())
    assert [str(k) for k in src.series("btc")] == [
        "binance:BTC/USDT:ohlcv:1d",
        "binance:BTC/USDT:USDT:ohlcv:1d",
        "binance:BTC/USDT:USDT:funding:settle",
        "binance:BTC/USDT:USDT:open_interest:1d",
    ]
    assert src.venue == "binance"


# --- known answers --------------------------------------------------------------------
H = 3_600_000


@pytest.mark.parametrize(
    ("spacing_ms", "hours"),
    [
        (8 * H + 7, 8), (8 * H - 2, 8), (4 * H + 3, 4), (H, 1), (2 * H, 2),
        (16 * H, 8), (3 * H, 4), (int(1.4 * H), 1), (int(1.5 * H), 2), (0, 1),
    ],
)  # fmt: skip
def test_funding_interval_hours(spacing_ms: int, hours: int) -> None:
    assert funding_interval_hours(spacing_ms) == hours


def test_label_intervals() -> None:
    def fallback() -> int:
        return 4

    assert label_intervals([8 * H, 16 * H], previous_ms=0, fallback=fallback) == [8, 8]
    assert label_intervals([0, 8 * H, 12 * H], previous_ms=None, fallback=fallback) == [
        8,
        8,
        4,
    ]
    assert label_intervals([5 * H], previous_ms=None, fallback=fallback) == [4]
    assert label_intervals([], previous_ms=None, fallback=fallback) == []


def test_parse_funding_known_answer() -> None:
    rows = [
        {"symbol": "BTCUSDT", "fundingTime": 1570608000003, "fundingRate": "0.00010000",
         "markPrice": ""},
        {"symbol": "BTCUSDT", "fundingTime": 1570636800000,
         "fundingRate": "-0.03750000", "markPrice": "34287.54619963"},
    ]  # fmt: skip
    frame = parse_funding(rows, [8, 8])
    assert frame["rate"].to_list() == [1e-4, -0.0375]
    assert frame[TS].to_list() == [
        datetime(2019, 10, 9, 8, tzinfo=UTC),
        datetime(2019, 10, 9, 16, tzinfo=UTC),
    ]
    assert frame[INTERVAL_HOURS].dtype == pl.Int32


def test_parse_klines_known_answer() -> None:
    row = [1704067200000, "42283.58", "42554.57", "42261.02", "42475.23",
           "1271.68108", 1704070799999, "53957248.973789", 47134, "682.57581",
           "28957416.819645", "0"]  # fmt: skip
    frame = parse_klines([row])
    assert frame.row(0) == (
        datetime(2024, 1, 1, tzinfo=UTC), 42283.58, 42554.57, 42261.02, 42475.23,
        1271.68108, 53957248.973789, 47134, 682.57581, 28957416.819645,
    )  # fmt: skip
    assert parse_klines([]).height == 0


def test_parse_open_interest_known_answer() -> None:
    frame = parse_open_interest(
        [{"symbol": "BTCUSDT", "sumOpenInterest": "75375.61700000",
          "sumOpenInterestValue": "3248828883.71251440", "timestamp": 1642179900000}]
    )  # fmt: skip
    assert frame.row(0) == (
        datetime(2022, 1, 14, 17, 5, tzinfo=UTC), 75375.617, 3248828883.7125144,
        False, False,
    )  # fmt: skip
