"""OKX live adapter against the local OKX emulator (no other host is reached)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ccxt
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rallylens.exceptions import (
    ConfigError,
    GapWarning,
    SourceError,
    UnsupportedSymbolError,
)
from rallylens.schemas import (
    CLOSE,
    INTERVAL_HOURS,
    OI_BASE,
    OI_USD,
    QUOTE_VOLUME,
    RATE,
    TS,
    VOLUME,
    SeriesFrame,
    SeriesKey,
)
from rallylens.sources._ccxt import RetryPolicy, call_with_retries, make_exchange
from rallylens.sources.live_okx import (
    FUNDING_HISTORY,
    OkxSource,
    candles_frame,
    funding_frame,
    funding_intervals,
    open_interest_frame,
    walk_windows,
)
from rallylens.store import Store, read_series, write_series
from tests.emulator import Emulator, Fault
from tests.emulator.okx import HOST, OkxData, install_okx, select_page

NOW = datetime(2026, 11, 21, 3, 30, tzinfo=UTC)  # mid-day: the 1d bar is open
H_MS = 3_600_000

SPOT_1D = SeriesKey("okx", "BTC/USDT", "ohlcv", "1d")
SWAP_1D = SeriesKey("okx", "BTC/USDT:USDT", "ohlcv", "1d")
SWAP_1H = SeriesKey("okx", "BTC/USDT:USDT", "ohlcv", "1h")
SPOT_4H = SeriesKey("okx", "BTC/USDT", "ohlcv", "4h")
SPOT_1W = SeriesKey("okx", "BTC/USDT", "ohlcv", "1w")
FUNDING = SeriesKey("okx", "BTC/USDT:USDT", "funding", "settle")
OI_1D = SeriesKey("okx", "BTC/USDT:USDT", "open_interest", "1d")
OI_5M = SeriesKey("okx", "BTC/USDT:USDT", "open_interest", "5m")
CCY_OI_1D = SeriesKey("okx", "BTC/*:*", "open_interest", "1d")
CCY_OI_1H = SeriesKey("okx", "BTC/*:*", "open_interest", "1h")
ALL_KEYS = [
    SPOT_1D,
    SPOT_1W,
    SWAP_1D,
    SWAP_1H,
    SPOT_4H,
    FUNDING,
    OI_1D,
    OI_5M,
    CCY_OI_1D,
    CCY_OI_1H,
]


def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
def venue() -> Iterator[tuple[Emulator, OkxData]]:
    with Emulator() as emu:
        yield emu, install_okx(emu, now=NOW, seed=7)


def make_source(
    emu: Emulator,
    *,
    attempts: int = 6,
    timeout_ms: int = 3000,
    sleeps: list[float] | None = None,
) -> OkxSource:
    exchange = make_exchange("okx", base_url=emu.base_url, timeout_ms=timeout_ms)
    sleep = sleeps.append if sleeps is not None else no_sleep
    return OkxSource(exchange, policy=RetryPolicy(attempts=attempts, sleep=sleep))


def expected(
    data: OkxData, key: SeriesKey, start: datetime, end: datetime
) -> pl.DataFrame:
    truth = data.truth(key)
    return truth.filter((pl.col(TS) >= start) & (pl.col(TS) < end))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def raw_get(emu: Emulator, path: str) -> Any:
    try:
        with urllib.request.urlopen(
            f"{emu.base_url}/{HOST}{path}", timeout=5
        ) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # OKX's parameter errors come as HTTP 400
        return json.loads(exc.read())


# --- the emulator speaks OKX --------------------------------------------------
def test_ccxt_load_markets_against_emulator(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    exchange = make_exchange("okx", base_url=emu.base_url)
    markets = exchange.load_markets()
    spot, swap = markets["BTC/USDT"], markets["BTC/USDT:USDT"]
    assert (spot["id"], spot["type"], spot["spot"]) == ("BTC-USDT", "spot", True)
    assert (swap["id"], swap["type"], swap["linear"]) == ("BTC-USDT-SWAP", "swap", True)
    assert swap["contractSize"] == 0.01
    assert sorted(
        r.query["instType"] for r in emu.requests_to("public/instruments")
    ) == [
        "SPOT",
        "SWAP",
    ]
    assert all(r.status == 200 for r in emu.log)


def test_candles_wire_format(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    body = raw_get(emu, "/api/v5/market/history-candles?instId=BTC-USDT&bar=1Dutc")
    assert (body["code"], body["msg"]) == ("0", "")
    rows = body["data"]
    assert len(rows) == 100  # default limit
    assert all(len(r) == 9 and all(isinstance(v, str) for v in r) for r in rows)
    stamps = [int(r[0]) for r in rows]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert rows[0][8] == "0" and {r[8] for r in rows[1:]} == {"1"}  # today is open
    assert stamps[0] == int(datetime(2026, 11, 21, tzinfo=UTC).timestamp() * 1000)
    capped = raw_get(
        emu, "/api/v5/market/history-candles?instId=BTC-USDT&bar=1H&limit=999"
    )
    assert len(capped["data"]) == 300
    cursor = stamps[5]
    older = raw_get(
        emu, f"/api/v5/market/history-candles?instId=BTC-USDT&bar=1Dutc&after={cursor}"
    )["data"]
    assert int(older[0][0]) == stamps[6]  # exclusive
    window = raw_get(
        emu,
        "/api/v5/market/history-candles?instId=BTC-USDT&bar=1Dutc"
        f"&after={stamps[2]}&before={stamps[6]}",
    )["data"]
    assert [int(r[0]) for r in window] == stamps[3:6]


def test_swap_candles_count_contracts(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    row = raw_get(emu, "/api/v5/market/history-candles?instId=BTC-USDT-SWAP&bar=1H")[
        "data"
    ][1]
    contracts, coins = int(row[5]), float(row[6])
    assert coins == pytest.approx(contracts * 0.01)


def test_funding_wire_format(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    rows = raw_get(emu, "/api/v5/public/funding-rate-history?instId=BTC-USDT-SWAP")[
        "data"
    ]
    assert len(rows) == 400  # default and maximum
    assert set(rows[0]) == {
        "formulaType",
        "fundingRate",
        "fundingTime",
        "instId",
        "instType",
        "method",
        "realizedRate",
    }
    times = [int(r["fundingTime"]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(isinstance(r["realizedRate"], str) for r in rows)


def test_open_interest_wire_formats(venue: tuple[Emulator, OkxData]) -> None:
    emu, data = venue
    contract = raw_get(
        emu,
        "/api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP&period=1Dutc",
    )["data"]
    assert len(contract) == 100 and all(len(r) == 4 for r in contract)
    currency = raw_get(
        emu, "/api/v5/rubik/stat/contracts/open-interest-volume?ccy=BTC&period=1D"
    )["data"]
    assert len(currency) == 180 and all(len(r) == 3 for r in currency)  # no limit
    first = datetime.fromtimestamp(int(currency[-1][0]) / 1000, UTC)
    assert first >= NOW - timedelta(days=180) and first.hour == 16  # UTC+8 days
    assert data.truth(OI_1D)[TS].min() == datetime(2024, 1, 1, tzinfo=UTC)
    assert data.truth(OI_5M).height == 1440  # the latest 1,440 entries
    bad = raw_get(
        emu, "/api/v5/rubik/stat/contracts/open-interest-volume?ccy=BTC&period=4H"
    )
    assert bad["code"] == "51000"


def test_unknown_instrument_answers_51001(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    body = raw_get(emu, "/api/v5/market/history-candles?instId=NOPE-USDT")
    assert body == {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    exchange = make_exchange("okx", base_url=emu.base_url)
    with pytest.raises(ccxt.BadSymbol):
        exchange.publicGetMarketHistoryCandles({"instId": "NOPE-USDT"})
    with pytest.raises(UnsupportedSymbolError, match="does not list it"):
        call_with_retries(
            exchange,
            exchange.publicGetPublicFundingRateHistory,
            {"instId": "NOPE-USDT-SWAP"},
            what="funding",
        )


def test_ccxt_unified_methods_read_the_emulator(
    venue: tuple[Emulator, OkxData],
) -> None:
    """ccxt's own OKX parsing (written against the real venue) agrees with the truth."""
    emu, data = venue
    exchange = make_exchange("okx", base_url=emu.base_url)
    since = NOW - timedelta(days=200)
    bars = exchange.fetch_ohlcv(
        "BTC/USDT:USDT",
        "1d",
        since=ms(since),
        limit=50,
        params={"type": "HistoryCandles"},
    )
    truth = expected(data, SWAP_1D, since, since + timedelta(days=50))
    assert [b[0] for b in bars] == [ms(t) for t in truth[TS]]
    assert [b[4] for b in bars] == truth[CLOSE].to_list()
    assert [b[5] for b in bars] == truth[VOLUME].to_list()  # ccxt: volCcy on swaps
    rates = exchange.fetch_funding_rate_history("BTC/USDT:USDT", limit=5)
    assert [r["fundingRate"] for r in rates] == data.truth(FUNDING)[RATE].to_list()[-5:]
    oi_truth = data.truth(OI_5M)
    first = oi_truth[TS][0]
    oi = exchange.fetch_open_interest_history("BTC/USDT:USDT", "5m", since=ms(first))
    assert [(o["timestamp"], o["openInterestValue"]) for o in oi] == list(
        zip([ms(t) for t in oi_truth[TS][:100]], oi_truth[OI_USD][:100], strict=True)
    )
    total = exchange.fetch_open_interest_history("BTC", "1d")
    assert [o["openInterestValue"] for o in total] == data.truth(CCY_OI_1D)[
        OI_USD
    ].to_list()


def test_select_page_bounds_and_faults() -> None:
    rows = list(range(20, 0, -1))  # newest first

    def page(**kw: Any) -> list[int]:
        return select_page(
            rows, int, **{"limit": 5, "fault": None, "fault_rows": 1, **kw}
        )

    assert page(older_than=15, newer_than=None) == [14, 13, 12, 11, 10]
    assert page(older_than=15, newer_than=12) == [14, 13]
    assert page(older_than=15, newer_than=12, fault="overlap") == [14, 13, 12]
    assert page(older_than=15, newer_than=None, fault="overlap") == [15, 14, 13, 12, 11]
    assert page(older_than=15, newer_than=12, fault="skip") == [13]
    assert page(older_than=None, newer_than=None) == [20, 19, 18, 17, 16]


# --- conversions (known answers) ----------------------------------------------
@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("0.00010000", 1e-4),
        ("-0.0000746572360545", -0.0000746572360545),
        ("0.0003", 3e-4),
        ("0", 0.0),
    ],
)
def test_funding_rate_strings_are_decimals(text: str, rate: float) -> None:
    rows = [{"fundingTime": str(8 * H_MS), "realizedRate": text, "fundingRate": "0.5"}]
    frame = funding_frame(rows, previous_ms=0)
    assert frame[RATE].to_list() == [rate]
    assert frame[INTERVAL_HOURS].to_list() == [8]


def test_funding_rate_falls_back_to_forecast_when_realised_is_empty() -> None:
    rows = [{"fundingTime": str(4 * H_MS), "realizedRate": "", "fundingRate": "0.0002"}]
    assert funding_frame(rows, previous_ms=0)[RATE].to_list() == [2e-4]


@pytest.mark.parametrize(
    ("hours", "previous", "intervals"),
    [
        ([8, 16, 24], 0, [8, 8, 8]),
        ([8, 16, 20, 21, 22, 30], 0, [8, 8, 4, 1, 1, 8]),
        ([8, 16, 20], None, [8, 8, 4]),  # first: spacing to the next
        ([4, 6, 8], None, [2, 2, 2]),
        ([8], None, [8]),  # alone: OKX's default
        ([6, 12], 0, [6, 6]),
    ],
)
def test_funding_intervals_from_settlement_spacing(
    hours: list[int], previous: int | None, intervals: list[int]
) -> None:
    stamps = [h * H_MS for h in hours]
    prev_ms = None if previous is None else previous * H_MS
    assert funding_intervals(stamps, previous_ms=prev_ms) == intervals


def test_funding_interval_gap_keeps_previous_and_warns() -> None:
    stamps = [h * H_MS for h in (8, 16, 32)]
    with pytest.warns(GapWarning, match="16 h apart"):
        assert funding_intervals(stamps, previous_ms=0) == [8, 8, 8]


def test_candles_frame_units_and_confirm() -> None:
    rows = [
        ["7200000", "3.9", "4.0", "3.8", "3.95", "70", "0.7", "276.5", "0"],
        [
            "3600000",
            "3.721",
            "3.743",
            "3.677",
            "3.708",
            "8422410",
            "84224.1",
            "3.1e5",
            "1",
        ],
    ]
    swap = candles_frame(rows, contract=True)
    spot = candles_frame(rows, contract=False)
    assert swap.height == 1  # the open bar is dropped
    assert swap[TS].to_list() == [datetime(1970, 1, 1, 1, tzinfo=UTC)]
    assert swap[CLOSE].to_list() == [3.708]
    assert swap[VOLUME].to_list() == [84224.1]  # volCcy: coins, not contracts
    assert spot[VOLUME].to_list() == [8422410.0]  # vol: coins on spot
    assert swap[QUOTE_VOLUME].to_list() == [310000.0]
    assert swap.select("trades", "taker_buy_base", "taker_buy_quote").null_count().row(
        0
    ) == (
        1,
        1,
        1,
    )


def test_open_interest_frames() -> None:
    contract = open_interest_frame(
        [["1701417600000", "731377.57500501", "111", "8888888"]], per_contract=True
    )
    assert contract.select(OI_BASE, OI_USD).row(0) == (111.0, 8888888.0)
    assert contract.select("oi_base_derived", "oi_usd_derived").row(0) == (False, False)
    currency = open_interest_frame(
        [["1630502400000", "1713028741.6898", "39800873.554"]], per_contract=False
    )
    assert currency.select(OI_BASE, OI_USD).row(0) == (None, 1713028741.6898)


# --- paging (a fake venue) ----------------------------------------------------
def fake_venue(stamps: list[int], page_rows: int, log: list[tuple[int, int]]) -> Any:
    def fetch(lo: int, hi: int) -> list[int]:
        log.append((lo, hi))
        return [t for t in sorted(stamps, reverse=True) if lo <= t < hi][:page_rows]

    return fetch


def test_walk_windows_halves_on_full_pages_and_never_repeats() -> None:
    stamps = list(range(0, 1000, 1)) + list(range(1000, 5000, 10))
    log: list[tuple[int, int]] = []
    pages = list(
        walk_windows(
            fake_venue(stamps, 50, log), 0, 5000, ts_of=int, window_ms=400, page_rows=50
        )
    )
    flat = [t for p in pages for t in p]
    assert flat == stamps
    assert all(len(p) < 50 for p in pages)
    assert any(hi - lo < 400 for lo, hi in log)  # it halved in the dense part


def test_walk_windows_refuses_a_venue_ignoring_bounds() -> None:
    with pytest.raises(SourceError, match="ignores the time bounds"):
        list(
            walk_windows(
                lambda lo, hi: list(range(100)),
                0,
                10_000,
                ts_of=int,
                window_ms=64,
                page_rows=100,
            )
        )


def test_walk_windows_asks_an_empty_window_twice() -> None:
    answers = iter([[], [5], []])
    log: list[int] = []

    def fetch(lo: int, hi: int) -> list[int]:
        log.append(lo)
        return next(answers, [])

    assert list(walk_windows(fetch, 0, 10, ts_of=int, window_ms=10, page_rows=100)) == [
        [5]
    ]
    assert log[:2] == [0, 0]


# --- fetch == truth -----------------------------------------------------------
@pytest.mark.parametrize("key", ALL_KEYS, ids=str)
def test_full_fetch_equals_truth(
    venue: tuple[Emulator, OkxData], key: SeriesKey
) -> None:
    emu, data = venue
    source = make_source(emu)
    start = source.earliest(key, NOW)
    assert start is not None
    chunks = list(source.fetch(key, start, NOW))
    got = pl.concat(chunks)
    assert_frame_equal(got, expected(data, key, start, NOW))
    assert got[TS].is_unique().all() and got[TS].is_sorted()
    assert all(c.height for c in chunks)
    assert [c[TS].min() for c in chunks] == sorted(c[TS].min() for c in chunks)


def test_funding_truth_changes_interval(venue: tuple[Emulator, OkxData]) -> None:
    _, data = venue
    assert set(data.truth(FUNDING)[INTERVAL_HOURS].unique()) == {1, 4, 8}


def test_funding_fetched_from_an_interval_change_keeps_its_interval(
    venue: tuple[Emulator, OkxData],
) -> None:
    emu, data = venue
    source = make_source(emu)
    truth = data.truth(FUNDING)
    hours = truth[INTERVAL_HOURS].to_list()
    changes = [i for i in range(len(hours) - 1) if hours[i] != hours[i + 1]]
    assert len(changes) == 3
    for i in changes:  # the spacing to the next settlement is not this one's
        start = truth[TS][i]
        got = pl.concat(list(source.fetch(FUNDING, start, start + timedelta(days=1))))
        assert_frame_equal(
            got, expected(data, FUNDING, start, start + timedelta(days=1))
        )


FAULTS = [
    Fault("429", retry_after=0.01),
    Fault("418", retry_after=0.01),
    Fault("500"),
    Fault("502"),
    Fault("503"),
    Fault("slow", delay_s=0.05),
    Fault("timeout", delay_s=0.5),
    Fault("truncated"),
    Fault("invalid"),
    Fault("overlap"),
    Fault("skip"),
]


@pytest.mark.parametrize(
    ("key", "days"),
    [(SWAP_1H, 60), (SPOT_4H, 200), (FUNDING, 90), (OI_5M, 4), (CCY_OI_1H, 29)],
    ids=str,
)
def test_fetch_with_every_fault_equals_truth(
    venue: tuple[Emulator, OkxData], key: SeriesKey, days: int
) -> None:
    emu, data = venue
    source = make_source(emu, timeout_ms=250)
    source._markets()  # markets first: the faults below are for the data pages
    path = {
        "ohlcv": "history-candles",
        "funding": "funding-rate-history",
    }.get(key.kind.value, "open-interest")
    start, chunks = NOW - timedelta(days=days), []
    pending = [
        Fault(f.kind, match=path, retry_after=f.retry_after, delay_s=f.delay_s)
        for f in FAULTS
    ]
    for chunk in source.fetch(key, start, NOW):
        chunks.append(chunk)
        for _ in range(2):  # two faults before the next page, spread over the run
            if pending:
                emu.inject(pending.pop(0))
    assert not pending, "the run was too short to spread every fault"
    assert not emu.pending_faults()  # every fault was served
    # a timed-out request is dropped by the client before the server logs it
    hit = {r.fault for r in emu.log if r.fault}
    assert hit == {f.kind for f in FAULTS} - {"timeout"}
    assert_frame_equal(pl.concat(chunks), expected(data, key, start, NOW))


def test_overlap_and_skip_of_several_rows() -> None:
    with Emulator() as emu:
        data = install_okx(emu, now=NOW, seed=3, fault_rows=3)
        source = make_source(emu)
        start, chunks = NOW - timedelta(days=30), []
        for i, chunk in enumerate(source.fetch(SWAP_1H, start, NOW)):
            chunks.append(chunk)
            if i < 6:
                emu.inject(
                    Fault("skip" if i % 2 else "overlap", match="history-candles")
                )
        assert not emu.pending_faults()
        assert_frame_equal(pl.concat(chunks), expected(data, SWAP_1H, start, NOW))


# --- resume -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "days"),
    [(SWAP_1H, 40), (SPOT_1D, 400), (FUNDING, 90), (OI_1D, 800), (CCY_OI_1H, 29)],
    ids=str,
)
def test_interrupted_fetch_resumes_from_store(
    venue: tuple[Emulator, OkxData], key: SeriesKey, days: int, tmp_path: Path
) -> None:
    emu, data = venue
    source = make_source(emu)
    start = NOW - timedelta(days=days)
    with Store(tmp_path / "s.duckdb") as store:
        first = source.fetch(key, start, NOW)
        got = [next(first) for _ in range(3)]
        write_series(store, [SeriesFrame(key, pl.concat(got))])
        last = read_series(store, key)[TS].max()
        assert isinstance(last, datetime) and last < NOW - timedelta(hours=2)
        rest = list(source.fetch(key, last, NOW))
        report = write_series(store, [SeriesFrame(key, pl.concat(rest))])
        assert report.series[0].conflicting == 0
        stored = read_series(store, key)
    assert_frame_equal(stored, expected(data, key, start, NOW))


# --- errors -------------------------------------------------------------------
def test_unknown_symbol(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    source = make_source(emu)
    for key in (
        SeriesKey("okx", "DOGE/USDT:USDT", "ohlcv", "1d"),
        SeriesKey("okx", "DOGE/USDT:USDT", "funding", "settle"),
        SeriesKey("okx", "DOGE/*:*", "open_interest", "1d"),
    ):
        with pytest.raises(UnsupportedSymbolError, match="DOGE"):
            list(source.fetch(key, NOW - timedelta(days=3), NOW))


@pytest.mark.parametrize(
    ("key", "match"),
    [
        (SeriesKey("okx", "BTC/USDT", "funding", "settle"), "perp"),
        (SeriesKey("okx", "BTC/USDT:USDT", "ohlcv", "2d"), "timeframe '2d'"),
        (SeriesKey("okx", "BTC/*:*", "open_interest", "4h"), "5m, 1h, 1d"),
        (SeriesKey("okx", "BTC/USDT:USDT", "liquidations", "1h"), "not liquidations"),
        (SeriesKey("binance", "BTC/USDT", "ohlcv", "1d"), "not an okx series"),
    ],
    ids=str,
)
def test_keys_okx_does_not_serve(
    venue: tuple[Emulator, OkxData], key: SeriesKey, match: str
) -> None:
    emu, _ = venue
    with pytest.raises(ConfigError, match=match):
        make_source(emu).fetch(key, NOW - timedelta(days=1), NOW)
    assert not emu.log  # refused before any request


def test_geo_block_is_not_retried(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    source = make_source(emu)
    source._markets()
    emu.inject(Fault("451", match="history-candles", times=5))
    with pytest.raises(SourceError, match="refuses requests from this location"):
        list(source.fetch(SWAP_1D, NOW - timedelta(days=10), NOW))
    assert len(emu.requests_to("history-candles")) == 1


def test_retries_exhausted_say_so(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    sleeps: list[float] = []
    source = make_source(emu, attempts=3, sleeps=sleeps)
    source._markets()
    emu.inject(Fault("503", match="funding-rate-history", times=10))
    with pytest.raises(
        SourceError, match=r"gave up after 3 attempts.*run the fetch again"
    ):
        list(source.fetch(FUNDING, NOW - timedelta(days=10), NOW))
    assert len(emu.requests_to("funding-rate-history")) == 3
    assert len(sleeps) == 2


def test_markets_retried_when_a_listing_comes_back_cut(
    venue: tuple[Emulator, OkxData],
) -> None:
    emu, data = venue
    emu.inject(Fault("truncated", match="instType=SWAP"))
    source = make_source(emu)
    got = pl.concat(list(source.fetch(SWAP_1D, NOW - timedelta(days=20), NOW)))
    assert_frame_equal(got, expected(data, SWAP_1D, NOW - timedelta(days=20), NOW))


def test_naive_datetimes_are_refused(venue: tuple[Emulator, OkxData]) -> None:
    emu, _ = venue
    with pytest.raises(ConfigError, match="time zone"):
        make_source(emu).fetch(SWAP_1D, datetime(2026, 1, 1), NOW)


# --- the source surface -------------------------------------------------------
def test_series_and_earliest(venue: tuple[Emulator, OkxData]) -> None:
    emu, data = venue
    source = make_source(emu)
    assert source.venue == "okx"
    assert [str(k) for k in source.series("btc")] == [
        "okx:BTC/USDT:ohlcv:1d",
        "okx:BTC/USDT:USDT:ohlcv:1d",
        "okx:BTC/USDT:USDT:funding:settle",
        "okx:BTC/USDT:USDT:open_interest:1d",
        "okx:BTC/*:*:open_interest:1d",
    ]
    assert source.earliest(FUNDING, NOW) == NOW - FUNDING_HISTORY
    assert source.earliest(CCY_OI_1D, NOW) == NOW - timedelta(days=180)
    assert source.earliest(OI_1D, NOW) == datetime(2024, 1, 1, tzinfo=UTC)
    assert source.earliest(OI_5M, NOW) == NOW - timedelta(minutes=5 * 1440)
    spot_start = source.earliest(SPOT_1D, NOW)
    assert spot_start is not None and spot_start <= data.listed
    assert data.truth(SPOT_1D)[TS].min() >= spot_start


def test_refuses_another_client() -> None:
    with pytest.raises(ConfigError, match="okx"):
        OkxSource(make_exchange("binance"))
