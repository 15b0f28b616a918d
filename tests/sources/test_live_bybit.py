"""Bybit v5 live adapter against the local Bybit emulator (no real venue)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rallylens.exceptions import (
    ConfigError,
    RateLimitError,
    SourceError,
    UnsupportedSymbolError,
)
from rallylens.schemas import (
    CANDLES,
    OPEN_INTEREST,
    TS,
    SeriesFrame,
    SeriesKey,
    validate,
)
from rallylens.sources._ccxt import RetryPolicy, make_exchange
from rallylens.sources.live import make_source
from rallylens.sources.live_bybit import (
    BybitSource,
    Kline,
    Page,
    Point,
    funding_frame,
    funding_hours_from_minutes,
    funding_intervals,
    kline_frame,
    kline_page_complete,
    open_interest_frame,
    parse_funding_page,
    parse_kline_page,
    parse_open_interest_page,
    walk_back,
    walk_windows,
)
from rallylens.store import Store, read_series, write_series
from rallylens.store.read import last_timestamp
from tests.emulator import Emulator, Fault
from tests.emulator.bybit import HOST, BybitData, install_bybit

NOW = datetime(2026, 11, 21, 5, 30, tzinfo=UTC)
END = NOW + timedelta(days=1)
H = 3_600_000
PERP, SPOT = "BTC/USDT:USDT", "BTC/USDT"


def key(market: str, kind: str, timeframe: str) -> SeriesKey:
    return SeriesKey("bybit", market, kind, timeframe)  # type: ignore[arg-type]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server


@pytest.fixture
def data(emu: Emulator) -> BybitData:
    return install_bybit(emu, now=NOW, seed=11, fault_rows=2)


def source(emu: Emulator, *, attempts: int = 10, timeout_ms: int = 2000) -> BybitSource:
    exchange = make_exchange("bybit", base_url=emu.base_url, timeout_ms=timeout_ms)
    return BybitSource(exchange, policy=RetryPolicy(attempts, sleep=lambda s: None))


def fetch_all(src: BybitSource, k: SeriesKey, start: datetime) -> pl.DataFrame:
    chunks = list(src.fetch(k, start, END))
    assert chunks, f"no chunk for {k}"
    assert all(c[TS].is_sorted() for c in chunks)
    return pl.concat(chunks)


def get(emu: Emulator, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{emu.base_url}/{HOST}{path}", timeout=5) as reply:
        body: dict[str, Any] = json.loads(reply.read())
    return body


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# --- known answers: parsing and units -------------------------------------------------
def envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 5}


def test_funding_rate_string_is_a_decimal_per_settlement() -> None:
    page = parse_funding_page(
        envelope(
            {
                "category": "linear",
                "list": [
                    {
                        "symbol": "BTCUSDT",
                        "fundingRate": "0.00010000",
                        "fundingRateTimestamp": "1672041600000",
                    },
                    {
                        "symbol": "BTCUSDT",
                        "fundingRate": "-0.00002994",
                        "fundingRateTimestamp": "1672012800000",
                    },
                ],
            }
        )
    )
    assert page.rows == [Point(1672041600000, 1e-4), Point(1672012800000, -2.994e-5)]
    assert page.server_ms == 5
    frame = funding_frame(sorted(page.rows), [8, 8])
    assert frame["rate"].to_list() == [-2.994e-5, 1e-4]
    assert frame["interval_hours"].dtype == pl.Int32
    assert frame[TS].to_list()[1] == datetime(2022, 12, 26, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minutes", "hours"), [(480, 8), (240, 4), (120, 2), (60, 1), ("480", 8)]
)
def test_funding_interval_minutes_to_hours(minutes: object, hours: int) -> None:
    assert funding_hours_from_minutes(minutes) == hours


@pytest.mark.parametrize("minutes", [0, 90, 720, None, "x"])
def test_unknown_funding_interval_is_refused(minutes: object) -> None:
    with pytest.raises(SourceError, match="fundingInterval"):
        funding_hours_from_minutes(minutes, symbol="XUSDT")


@pytest.mark.parametrize(
    ("stamps", "previous", "expected"),
    [
        ([0, 8 * H, 16 * H], None, [8, 8, 8]),
        ([0, 8 * H, 12 * H, 16 * H], None, [8, 8, 4, 4]),  # 8h -> 4h
        ([0, 4 * H, 12 * H], None, [4, 4, 8]),  # 4h -> 8h
        ([0, 2 * H, 3 * H, 4 * H], None, [2, 2, 1, 1]),
        ([0, 8 * H, 32 * H, 40 * H], None, [8, 8, 8, 8]),  # outage: carries on
        ([0], None, [4]),  # alone: the instrument's interval
        ([16 * H], (12 * H, 8), [4]),  # spacing to the previous chunk's row
        ([40 * H], (12 * H, 2), [2]),  # irregular gap after a 2h row: carried
    ],
)
def test_funding_intervals_follow_settlement_spacing(
    stamps: list[int], previous: tuple[int, int] | None, expected: list[int]
) -> None:
    prev_ms, prev_hours = previous or (None, None)
    got = funding_intervals(
        stamps, default_hours=4, previous_ms=prev_ms, previous_hours=prev_hours
    )
    assert got == expected


def test_kline_page_from_the_docs_example() -> None:
    page = parse_kline_page(
        envelope(
            {
                "symbol": "BTCUSD",
                "category": "inverse",
                "list": [
                    [
                        "1670608800000",
                        "17071",
                        "17073",
                        "17027",
                        "17055.5",
                        "268611",
                        "15.74462667",
                    ],
                    [
                        "1670605200000",
                        "17071.5",
                        "17071.5",
                        "17061",
                        "17071",
                        "4177",
                        "0.24469757",
                    ],
                ],
            }
        )
    )
    assert page.rows[0] == Kline(
        1670608800000, 17071.0, 17073.0, 17027.0, 17055.5, 268611.0, 15.74462667
    )
    frame = kline_frame(sorted(page.rows))
    assert validate(frame, CANDLES).height == 2
    assert frame["close"].to_list() == [17071.0, 17055.5]
    assert frame["quote_volume"].to_list() == [0.24469757, 15.74462667]
    for column in ("trades", "taker_buy_base", "taker_buy_quote"):
        assert frame[column].null_count() == 2


def test_open_interest_page_keeps_base_coin_and_cursor() -> None:
    page = parse_open_interest_page(
        envelope(
            {
                "symbol": "BTCUSDT",
                "category": "linear",
                "list": [
                    {"openInterest": "461134384.00000000", "timestamp": "1669571400000"}
                ],
                "nextPageCursor": "lastTime%3D1669571400000",
            }
        )
    )
    assert page.rows == [Point(1669571400000, 461134384.0)]
    assert page.cursor == "lastTime%3D1669571400000"
    frame = validate(open_interest_frame(page.rows), OPEN_INTEREST)
    assert frame.row(0)[1:] == (461134384.0, None, False, False)
    last = parse_open_interest_page(envelope({"list": [], "nextPageCursor": ""}))
    assert last.cursor is None


@pytest.mark.parametrize(
    "payload",
    [
        "<html>502</html>",
        {"retCode": 0, "result": {"list": [["1", "x"]]}, "time": 1},
        {"retCode": 0, "result": {"nolist": []}, "time": 1},
        {"retCode": 0, "result": {"list": []}},
        '{"retCode":0,"result":{"li',
    ],
)
def test_malformed_payloads_raise_the_retried_error(payload: object) -> None:
    from rallylens.sources._ccxt import MalformedPayloadError

    with pytest.raises(MalformedPayloadError):
        parse_kline_page(payload)


def bars(*hours: int) -> Page:
    return Page([Kline(h * H, 1, 1, 1, 1, 1, 1) for h in hours], 100 * H)


@pytest.mark.parametrize(
    ("page", "complete"),
    [
        (bars(9, 8, 7, 6, 5), True),
        (bars(), True),  # nothing listed yet
        (bars(9, 8, 6, 5), False),  # a hole
        (bars(9, 8, 7, 6), False),  # starts late (lost rows, or the listing)
        (bars(8, 7, 6, 5), False),  # ends early
        (bars(10, 9, 8, 7, 6, 5, 4), True),  # rows outside the window are ignored
    ],
)
def test_kline_page_must_cover_its_window(page: Page, complete: bool) -> None:
    assert kline_page_complete(page, 5 * H, 10 * H, H) is complete


def test_kline_page_may_end_at_the_bar_in_progress() -> None:
    page = Page(bars(7, 6, 5).rows, 7 * H + 1)
    assert kline_page_complete(page, 5 * H, 10 * H, H)
    assert not kline_page_complete(Page(bars(6, 5).rows, 7 * H + 1), 5 * H, 10 * H, H)


def test_walk_windows_skips_empty_windows_before_data_only() -> None:
    asked: list[int] = []

    def collect(lo: int, hi: int) -> tuple[list[Any], int]:
        asked.append(lo)
        return ([lo] if 30 <= lo < 60 else []), 1000

    assert list(walk_windows(collect, 0, 100, 10)) == [[30], [40], [50]]
    assert asked == [0, 10, 20, 30, 40, 50, 60]  # stops at the empty window
    clock = list(walk_windows(lambda lo, hi: ([lo], 25), 0, 100, 10))
    assert clock == [[0], [10], [20]]  # stops past the venue clock


def test_walk_back_detects_a_venue_that_does_not_advance() -> None:
    def same_page(upper: int, cursor: str | None) -> Page:
        return Page([Point(10 * H, 1.0), Point(9 * H, 1.0)], 100 * H, "again")

    with pytest.raises(SourceError, match="does not advance"):
        walk_back(same_page, 0, 11 * H, spacing=lambda s: H, what="test")


# --- the emulator speaks Bybit's wire format ------------------------------------------
def test_load_markets_works_against_the_emulator(
    emu: Emulator, data: BybitData
) -> None:
    exchange = make_exchange("bybit", base_url=emu.base_url)
    markets = exchange.load_markets()
    assert {"BTC/USDT", "BTC/USDT:USDT", "SOL/USDT", "SOL/USDT:USDT"} <= set(markets)
    perp = markets["BTC/USDT:USDT"]
    assert (perp["id"], perp["linear"], perp["swap"]) == ("BTCUSDT", True, True)
    assert perp["info"]["fundingInterval"] == 480
    assert markets["SOL/USDT:USDT"]["info"]["fundingInterval"] == 60
    assert markets["BTC/USDT"]["spot"] is True
    assert exchange.fetch_time() == ms(NOW)
    queries = [r.query for r in emu.requests_to("instruments-info")]
    assert queries == [
        {"category": "spot"},
        {"category": "linear", "limit": "1000"},
        {"category": "linear", "limit": "1000", "status": "PreLaunch"},
    ]


def test_instruments_info_pages_with_a_cursor(emu: Emulator) -> None:
    install_bybit(emu, now=NOW, seed=1, extra_linear=1500)
    exchange = make_exchange("bybit", base_url=emu.base_url)
    markets = exchange.load_markets()
    linear = [m for m in markets.values() if m["linear"]]
    assert len(linear) == 1503
    cursors = [r.query.get("cursor") for r in emu.requests_to("instruments-info")]
    assert any(c and c.startswith("first=") for c in cursors)


def test_kline_is_newest_first_strings_with_the_bar_in_progress(
    emu: Emulator, data: BybitData
) -> None:
    start = ms(NOW) - 5 * H - 10 * 60_000  # inside a bar: that bar comes first
    body = get(
        emu,
        f"/v5/market/kline?category=linear&symbol=BTCUSDT&interval=60&start={start}",
    )
    assert body["retCode"] == 0 and body["retMsg"] == "OK"
    rows = body["result"]["list"]
    assert all(isinstance(v, str) for row in rows for v in row) and len(rows[0]) == 7
    stamps = [int(r[0]) for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[-1] == start // H * H
    assert stamps[0] == ms(NOW) // H * H  # in progress: not in the truth
    assert data.candles(PERP, "1h")[TS].max() == datetime(2026, 11, 21, 4, tzinfo=UTC)
    capped = get(
        emu, "/v5/market/kline?category=spot&symbol=BTCUSDT&interval=60&limit=5000"
    )
    assert len(capped["result"]["list"]) == 1000


def test_emulator_faults_act_in_cursor_order(emu: Emulator, data: BybitData) -> None:
    start = ms(NOW) // H * H - 30 * H
    path = f"/v5/market/kline?category=linear&symbol=BTCUSDT&interval=60&start={start}"
    plain = [int(r[0]) for r in get(emu, f"{path}&limit=10")["result"]["list"]]
    emu.inject(Fault("skip", match="kline"))
    skipped = [int(r[0]) for r in get(emu, f"{path}&limit=10")["result"]["list"]]
    emu.inject(Fault("overlap", match="kline"))
    shifted = [int(r[0]) for r in get(emu, f"{path}&limit=10")["result"]["list"]]
    assert plain[-1] == start and skipped == plain[:-2]  # lost next to the cursor
    assert shifted == [t - 2 * H for t in plain]  # starts 2 rows before it
    funding = "/v5/market/funding/history?category=linear&symbol=BTCUSDT&limit=5"
    newest = [r["fundingRateTimestamp"] for r in get(emu, funding)["result"]["list"]]
    emu.inject(Fault("skip", match="funding"))
    lost = [r["fundingRateTimestamp"] for r in get(emu, funding)["result"]["list"]]
    assert lost == newest[2:]  # endTime pages lose their newest rows


def test_funding_history_rules(emu: Emulator, data: BybitData) -> None:
    base = "/v5/market/funding/history?category=linear&symbol=ETHUSDT"
    alone = get(emu, f"{base}&startTime={ms(NOW) - 100 * H}")
    assert alone["retCode"] == 10001
    latest = get(emu, base)["result"]["list"]
    assert len(latest) == 200
    stamps = [int(r["fundingRateTimestamp"]) for r in latest]
    assert stamps == sorted(stamps, reverse=True)
    assert set(latest[0]) == {"symbol", "fundingRate", "fundingRateTimestamp"}
    assert stamps[0] - stamps[1] == 4 * H  # ETH moved to 4h settlements


def test_open_interest_cursor_walks_every_row_once(
    emu: Emulator, data: BybitData
) -> None:
    query = "/v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=1d"
    seen: list[int] = []
    cursor = ""
    for _ in range(10):
        body = get(emu, f"{query}&limit=200" + (f"&cursor={cursor}" if cursor else ""))
        seen += [int(r["timestamp"]) for r in body["result"]["list"]]
        cursor = body["result"]["nextPageCursor"]
        if not cursor:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    truth = data.open_interest(PERP, "1d")
    assert len(seen) == truth.height


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/v5/market/kline?category=linear&symbol=DOGEUSDT&interval=D",
            "Not supported symbols",
        ),
        (
            "/v5/market/funding/history?category=linear&symbol=DOGEUSDT",
            "params error: symbol invalid",
        ),
        (
            "/v5/market/open-interest?category=linear&symbol=DOGEUSDT&intervalTime=1d",
            "params error: symbol invalid",
        ),
    ],
)
def test_unknown_symbols_get_bybit_errors(
    emu: Emulator, data: BybitData, path: str, message: str
) -> None:
    body = get(emu, path)
    assert (body["retCode"], body["retMsg"]) == (10001, message)


# --- full fetches equal the ground truth ----------------------------------------------
SERIES = [
    key(PERP, "ohlcv", "1d"),
    key(PERP, "funding", "settle"),
    key(PERP, "open_interest", "1d"),
    key(SPOT, "ohlcv", "1d"),
    key("ETH/USDT:USDT", "funding", "settle"),
    key("SOL/USDT:USDT", "funding", "settle"),
    key("ETH/USDT:USDT", "ohlcv", "4h"),
    key(PERP, "open_interest", "4h"),
]


@pytest.mark.parametrize("k", SERIES, ids=str)
def test_full_fetch_equals_the_truth(
    emu: Emulator, data: BybitData, k: SeriesKey
) -> None:
    got = fetch_all(source(emu), k, datetime(2020, 1, 1, tzinfo=UTC))
    assert_frame_equal(got, data.truth(k), check_exact=True)


def test_default_series_and_their_history(emu: Emulator, data: BybitData) -> None:
    src = source(emu)
    assert src.series("btc") == [
        key(PERP, "ohlcv", "1d"),
        key(PERP, "funding", "settle"),
        key(PERP, "open_interest", "1d"),
        key(SPOT, "ohlcv", "1d"),
    ]
    assert src.earliest(key(PERP, "open_interest", "1d"), NOW) == data.launch(PERP)
    assert src.earliest(key(SPOT, "ohlcv", "1d"), NOW) is None
    assert src.earliest(key("DOGE/USDT:USDT", "ohlcv", "1d"), NOW) is None


def test_only_closed_bars(emu: Emulator, data: BybitData) -> None:
    got = fetch_all(source(emu), key(PERP, "ohlcv", "4h"), NOW - timedelta(days=2))
    assert got[TS].max() + timedelta(hours=4) <= NOW
    assert got[TS].max() == datetime(2026, 11, 21, tzinfo=UTC)


def test_funding_from_mid_history_keeps_the_interval_before_start(
    emu: Emulator, data: BybitData
) -> None:
    k = key("ETH/USDT:USDT", "funding", "settle")
    truth = data.truth(k)
    first_4h = truth.filter(pl.col("interval_hours") == 4)[TS][0]
    for start in (first_4h, first_4h + timedelta(microseconds=1)):
        got = fetch_all(source(emu), k, start)
        assert_frame_equal(got, truth.filter(pl.col(TS) >= start), check_exact=True)


def test_candles_do_not_depend_on_which_end_a_page_comes_from(emu: Emulator) -> None:
    data = install_bybit(emu, now=NOW, seed=5, kline_anchor="end")
    for k in (key(PERP, "ohlcv", "1h"), key(SPOT, "ohlcv", "1d")):
        got = fetch_all(source(emu), k, data.launch(k.market) - timedelta(days=60))
        assert_frame_equal(got, data.truth(k), check_exact=True)


def test_a_market_listed_after_the_first_load_is_found(
    emu: Emulator, data: BybitData
) -> None:
    src = source(emu)
    assert list(src.fetch(key(SPOT, "ohlcv", "1d"), NOW - timedelta(days=3), END))
    data.list_symbol("DOGE")
    for k in (
        key("DOGE/USDT:USDT", "funding", "settle"),
        key("DOGE/USDT", "ohlcv", "1d"),
    ):
        got = fetch_all(src, k, data.launch(k.market))
        assert_frame_equal(got, data.truth(k), check_exact=True)
    assert len(emu.requests_to("instruments-info")) == 6  # loaded twice


def test_make_source_builds_the_bybit_adapter(emu: Emulator, data: BybitData) -> None:
    src = make_source("bybit", base_url=emu.base_url, policy=RetryPolicy(2))
    assert isinstance(src, BybitSource) and src.venue == "bybit"
    k = key(SPOT, "ohlcv", "1d")
    assert_frame_equal(pl.concat(src.fetch(k, data.launch(SPOT), END)), data.truth(k))


# --- faults ---------------------------------------------------------------------------
def gauntlet(match: str) -> list[Fault]:
    """Every fault kind the REST emulator has, hitting consecutive requests."""
    kinds = ["429", "418", "500", "502", "503"]
    faults = [Fault(k, match=match, retry_after=0) for k in kinds]  # type: ignore[arg-type]
    faults.append(Fault("slow", match=match, delay_s=0.05))
    faults.append(Fault("timeout", match=match, delay_s=0.8))
    faults += [Fault("truncated", match=match), Fault("invalid", match=match)]
    faults += [Fault("overlap", match=match), Fault("skip", match=match)]
    return faults


def window_start(data: BybitData, k: SeriesKey, index: int) -> int:
    """``startTime`` of the adapter's ``index``-th window for a funding/OI series."""
    launch = ms(data.launch(k.market))
    if k.kind == "funding":
        return launch - 8 * H + index * 5 * 200 * data.funding_hours(k.market) * H
    step = {"1h": H, "4h": 4 * H, "1d": 24 * H}[k.timeframe]
    return launch + index * 5 * 200 * step


@pytest.mark.parametrize(
    ("k", "path"),
    [
        (key(PERP, "ohlcv", "1h"), "kline"),
        (key(SPOT, "ohlcv", "4h"), "kline"),
        (key("SOL/USDT:USDT", "funding", "settle"), "funding/history"),
        (key(PERP, "open_interest", "1h"), "open-interest"),
    ],
    ids=str,
)
def test_every_fault_across_the_run_still_gives_the_truth(
    emu: Emulator, data: BybitData, k: SeriesKey, path: str
) -> None:
    emu.inject(Fault("503", match="category=spot"), Fault("truncated", match="linear"))
    emu.inject(*gauntlet(path))
    if k.kind != "ohlcv":  # mid-run overlaps and lost rows, on window 3
        later = f"startTime={window_start(data, k, 3)}"
        emu.inject(Fault("skip", match=later), Fault("overlap", match=later))
    if k.kind == "open_interest":  # and on a cursor page
        emu.inject(Fault("skip", match="cursor="), Fault("overlap", match="cursor="))
    got = fetch_all(source(emu, timeout_ms=300), k, data.launch(k.market))
    assert not emu.pending_faults()
    assert_frame_equal(got, data.truth(k), check_exact=True)
    hit = {r.fault for r in emu.log}  # a timed-out request is never logged
    assert hit >= {"429", "418", "500", "502", "503", "slow", "truncated", "invalid"}
    assert hit >= {"overlap", "skip"}


def test_bybit_rate_limit_answer_is_retried(emu: Emulator, data: BybitData) -> None:
    data.throttle(3)
    k = key(PERP, "funding", "settle")
    got = fetch_all(source(emu), k, data.launch(PERP))
    assert_frame_equal(got, data.truth(k), check_exact=True)


def test_geo_block_says_the_venue_refuses_this_location(
    emu: Emulator, data: BybitData
) -> None:
    emu.inject(Fault("451", match="kline"))
    with pytest.raises(SourceError, match="refuses requests from this location"):
        list(source(emu).fetch(key(PERP, "ohlcv", "1d"), NOW - timedelta(days=9), END))
    assert len(emu.requests_to("kline")) == 1  # not retried


def test_exhausted_retries_say_what_to_do(emu: Emulator, data: BybitData) -> None:
    emu.inject(Fault("503", match="open-interest", times=10))
    src = source(emu, attempts=3)
    with pytest.raises(
        SourceError, match=r"gave up after 3 attempts.*run the fetch again"
    ):
        list(src.fetch(key(PERP, "open_interest", "1d"), NOW - timedelta(days=9), END))
    emu.inject(Fault("429", match="funding", times=10))
    with pytest.raises(RateLimitError, match="kept rate-limiting"):
        list(src.fetch(key(PERP, "funding", "settle"), NOW - timedelta(days=9), END))


# --- symbols and keys -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["ohlcv", "funding", "open_interest"])
def test_unlisted_symbol_is_unsupported_without_a_data_request(
    emu: Emulator, data: BybitData, kind: str
) -> None:
    timeframe = "settle" if kind == "funding" else "1d"
    with pytest.raises(UnsupportedSymbolError, match=r"bybit does not list it"):
        list(source(emu).fetch(key("DOGE/USDT:USDT", kind, timeframe), NOW, END))
    assert not emu.requests_to("kline|funding|open-interest")


@pytest.mark.parametrize("kind", ["ohlcv", "funding", "open_interest"])
def test_symbol_the_venue_rejects_is_unsupported(emu: Emulator, kind: str) -> None:
    install_bybit(emu, now=NOW, seed=3, extra_linear=2)  # listed, no data served
    timeframe = "settle" if kind == "funding" else "1d"
    k = key("FILL0001/USDT:USDT", kind, timeframe)
    with pytest.raises(UnsupportedSymbolError, match="symbol"):
        list(source(emu).fetch(k, NOW - timedelta(days=3), END))


@pytest.mark.parametrize(
    ("k", "error", "message"),
    [
        (
            key(SPOT, "funding", "settle"),
            UnsupportedSymbolError,
            "no funding for the spot",
        ),
        (key(PERP, "liquidations", "1h"), UnsupportedSymbolError, "not liquidations"),
        (key(PERP, "open_interest", "8h"), ConfigError, "1h, 4h, 1d"),
        (key(PERP, "ohlcv", "1w"), ConfigError, "not '1w'"),
        (key(PERP, "funding", "8h"), ConfigError, "'settle'"),
        (SeriesKey("okx", PERP, "ohlcv", "1d"), ConfigError, "not a bybit series"),  # type: ignore[arg-type]
    ],
    ids=str,
)
def test_series_bybit_does_not_serve(
    emu: Emulator, data: BybitData, k: SeriesKey, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        list(source(emu).fetch(k, NOW - timedelta(days=3), END))


def test_naive_times_are_refused(emu: Emulator, data: BybitData) -> None:
    with pytest.raises(ConfigError, match="time zone"):
        source(emu).fetch(key(PERP, "ohlcv", "1d"), datetime(2026, 1, 1), END)


# --- an interrupted fetch resumes without gap or duplicate ----------------------------
@pytest.mark.parametrize(
    "k",
    [
        key(PERP, "ohlcv", "1h"),
        key("SOL/USDT:USDT", "funding", "settle"),
        key(PERP, "open_interest", "1h"),
    ],
    ids=str,
)
def test_interrupted_fetch_resumes_from_the_store(
    emu: Emulator, data: BybitData, k: SeriesKey, tmp_path: Path
) -> None:
    src = source(emu)
    with Store(tmp_path / "s.duckdb") as store:
        chunks = src.fetch(k, data.launch(k.market), END)
        for i, chunk in enumerate(chunks):
            write_series(store, [SeriesFrame(k, chunk)])
            if i == 2:
                break
        chunks.close()  # type: ignore[attr-defined]
        last = last_timestamp(store, k)
        assert last is not None and last < NOW - timedelta(days=30)
        emu.inject(Fault("overlap", match="kline|funding|open-interest"))
        for chunk in src.fetch(k, last, END):
            write_series(store, [SeriesFrame(k, chunk)])
        stored = read_series(store, k)
    assert stored[TS].is_unique().all()
    assert_frame_equal(stored, data.truth(k), check_exact=True)


def test_sync_series_downloads_a_series_into_the_store(
    emu: Emulator, data: BybitData, tmp_path: Path
) -> None:
    from rallylens.store.sync import sync_series

    k = key(PERP, "funding", "settle")
    with Store(tmp_path / "s.duckdb") as store:
        result = sync_series(
            store, source(emu), k, since=datetime(2020, 1, 1, tzinfo=UTC), now=END
        )
        assert result.status == "updated", result.note
        assert "history only from" in result.note
        assert_frame_equal(read_series(store, k), data.truth(k), check_exact=True)
        again = sync_series(store, source(emu), k, since=NOW, now=END)
        assert again.inserted == 0
