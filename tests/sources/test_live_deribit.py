"""Deribit live adapter (option chains, DVOL) against the emulated venue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import (
    ConfigError,
    RateLimitError,
    SourceError,
    UnsupportedSymbolError,
)
from rallylens.schemas import (
    CLOSE,
    EXPIRY,
    INDEX_PRICE,
    INSTRUMENT,
    MARK_IV,
    MARK_PRICE,
    OPTION_OI,
    OPTION_TYPE,
    OPTIONS_CHAIN,
    QUOTE_TS,
    STRIKE,
    TS,
    UNDERLYING_PRICE,
    VOL_INDEX,
    SeriesFrame,
    SeriesKey,
)
from rallylens.sources._ccxt import RetryPolicy, make_exchange
from rallylens.sources.live_deribit import (
    DVOL_START,
    DeribitSource,
    chain_frame,
    is_book_summary,
    is_volatility_page,
    snapshot_time,
    volatility_frame,
)
from rallylens.store import (
    Store,
    last_timestamp,
    read_series,
    sync_series,
    write_series,
)
from tests.emulator import Emulator, Fault, Reply
from tests.emulator.deribit import API, HOST, DeribitData, install_deribit, ms

NOW = datetime(2026, 11, 21, 14, 3, 27, 512345, tzinfo=UTC)
HOUR = 3_600_000
BOOK = "get_book_summary_by_currency"
DVOL = "get_volatility_index_data"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server


@pytest.fixture
def data(emu: Emulator) -> DeribitData:
    return install_deribit(emu, now=NOW, seed=11)


def source(
    emu: Emulator,
    *,
    attempts: int = 6,
    timeout_ms: int = 2000,
    clock: datetime = NOW,
    sleeps: list[float] | None = None,
) -> DeribitSource:
    waits = sleeps if sleeps is not None else []
    exchange = make_exchange("deribit", base_url=emu.base_url, timeout_ms=timeout_ms)
    policy = RetryPolicy(attempts=attempts, sleep=waits.append)
    return DeribitSource(exchange, policy=policy, clock=lambda: clock)


def chain_key(currency: str = "BTC") -> SeriesKey:
    market = f"{currency}/USD:{currency}"
    return SeriesKey("deribit", market, SeriesKind.OPTIONS_CHAIN, "snapshot")


def dvol_key(currency: str = "BTC", timeframe: str = "1d") -> SeriesKey:
    return SeriesKey("deribit", currency, SeriesKind.VOL_INDEX, timeframe)


def fetch_all(src: DeribitSource, key: SeriesKey, start: datetime) -> pl.DataFrame:
    return pl.concat(list(src.fetch(key, start, NOW)))


def window_starts(start: datetime, step_ms: int, count: int) -> list[int]:
    first = -(-ms(start) // step_ms) * step_ms
    return [first + k * 1000 * step_ms for k in range(count)]


# --- the emulated venue speaks what ccxt expects --------------------------------
def test_load_markets_lists_the_emulated_instruments(
    emu: Emulator, data: DeribitData
) -> None:
    exchange = make_exchange("deribit", base_url=emu.base_url, timeout_ms=2000)
    markets = exchange.load_markets()
    options = [m for m in markets.values() if m["option"]]
    assert len(options) == 80  # 2 currencies x 4 expiries x 5 strikes x call/put
    assert {"BTC", "ETH"} <= set(exchange.currencies)
    name = data.chains["BTC"][INSTRUMENT][0]
    market = exchange.markets_by_id[name][0]
    row = data.chains["BTC"].row(0, named=True)
    assert market["symbol"].startswith("BTC/USD:BTC-")
    assert market["expiry"] == ms(row[EXPIRY])
    assert market["strike"] == row[STRIKE]
    assert market["optionType"] == row[OPTION_TYPE]
    assert exchange.markets["BTC/USD:BTC"]["swap"]  # BTC-PERPETUAL
    paths = [r.path for r in emu.log]
    assert paths == [f"{API}/get_currencies", f"{API}/get_instruments"]


def test_unknown_currency_answers_deribits_jsonrpc_error(
    emu: Emulator, data: DeribitData
) -> None:
    import ccxt

    exchange = make_exchange("deribit", base_url=emu.base_url)
    with pytest.raises(ccxt.BadRequest, match='"code": -32602'):
        exchange.publicGetGetBookSummaryByCurrency({"currency": "DOGE"})
    assert emu.log[-1].status == 400


# --- series, earliest, key checks ----------------------------------------------
def test_series_are_dvol_and_the_chain_of_btc_and_eth(emu: Emulator) -> None:
    src = source(emu)
    assert src.series("ETH") == [dvol_key("ETH"), chain_key("ETH")]
    assert src.series("DOGE") == []
    assert src.venue == "deribit"


def test_earliest(emu: Emulator) -> None:
    src = source(emu)
    assert src.earliest(dvol_key("BTC", "1h"), NOW) == DVOL_START
    assert src.earliest(chain_key(), NOW) is None


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (SeriesKey("deribit", "BTC/USDT:USDT", "options_chain", "snapshot"), "BTC/USD"),
        (SeriesKey("deribit", "BTC/USD:BTC", "vol_index", "1d"), "bare currency"),
        (SeriesKey("deribit", "BTC/USD:BTC", "funding", "settle"), "serves"),
        (SeriesKey("deribit", "BTC", "vol_index", "5m"), "1m, 1h, 12h, 1d"),
        (SeriesKey("deribit", "BTC/USD:BTC", "options_chain", "1h"), "snapshot"),
    ],
)
def test_keys_the_adapter_does_not_serve(
    emu: Emulator, key: SeriesKey, error: str
) -> None:
    with pytest.raises((UnsupportedSymbolError, ConfigError), match=error):
        list(source(emu).fetch(key, DVOL_START, NOW))
    assert emu.log == []


@pytest.mark.parametrize("key", [chain_key("DOGE"), dvol_key("DOGE")])
def test_unknown_currency_is_unsupported(
    emu: Emulator, data: DeribitData, key: SeriesKey
) -> None:
    with pytest.raises(UnsupportedSymbolError, match="deribit does not list it"):
        list(source(emu).fetch(key, NOW - timedelta(days=3), NOW))
    assert len(emu.log) == 1  # not retried


# --- known answers -----------------------------------------------------------------
SUMMARY = {
    "jsonrpc": "2.0",
    "usIn": 1732698123456000,
    "usOut": 1732698123456789,
    "usDiff": 789,
    "testnet": False,
    "result": [
        {
            "instrument_name": "BTC-27DEC24-60000-C",
            "open_interest": 310.5,
            "mark_iv": 55.12,
            "mark_price": 0.0421,
            "underlying_price": 96120.4,
            "underlying_index": "BTC-27DEC24",
            "estimated_delivery_price": 95980.1,
            "bid_price": 0.041,
            "ask_price": 0.0435,
            "volume": 12.3,
            "creation_timestamp": 1732698123401,
        },
        {  # a duplicate row: the first one wins
            "instrument_name": "BTC-27DEC24-60000-C",
            "open_interest": 1.0,
            "mark_iv": 1.0,
            "mark_price": 1.0,
            "underlying_price": 1.0,
            "estimated_delivery_price": 1.0,
            "creation_timestamp": 1732698123402,
        },
        {  # no forward: the index stands in; open interest 0 as a JSON int
            "instrument_name": "BTC-5DEC24-101000-P",
            "open_interest": 0,
            "mark_iv": 60,
            "mark_price": 0.0012,
            "underlying_price": None,
            "underlying_index": "index_price",
            "estimated_delivery_price": 95980.1,
            "creation_timestamp": 1732698123399,
        },
        {  # expired before the snapshot
            "instrument_name": "BTC-27NOV24-90000-C",
            "open_interest": 5.0,
            "mark_iv": 40.0,
            "mark_price": 0.06,
            "underlying_price": 95980.1,
            "estimated_delivery_price": 95980.1,
            "creation_timestamp": 1732698123399,
        },
        {  # a USDC-settled name is not an inverse BTC option
            "instrument_name": "BTC_USDC-27DEC24-60000-C",
            "open_interest": 5.0,
            "mark_iv": 40.0,
            "mark_price": 36000.0,
            "underlying_price": 95980.1,
            "estimated_delivery_price": 95980.1,
            "creation_timestamp": 1732698123399,
        },
    ],
}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_chain_frame_known_answer() -> None:
    frame = chain_frame(SUMMARY, "BTC")
    assert frame.schema == pl.Schema(OPTIONS_CHAIN.columns)
    assert frame[INSTRUMENT].to_list() == ["BTC-27DEC24-60000-C", "BTC-5DEC24-101000-P"]
    call, put = frame.rows(named=True)
    assert call[TS] == utc(2024, 11, 27, 9, 2, 3)  # usOut floored to the second
    assert call[EXPIRY] == utc(2024, 12, 27, 8)
    assert (call[STRIKE], call[OPTION_TYPE]) == (60000.0, "call")
    assert call[OPTION_OI] == 310.5
    assert call[MARK_IV] == pytest.approx(0.5512, abs=1e-15)
    assert call[MARK_PRICE] == 0.0421  # coin per option, unchanged
    assert (call[UNDERLYING_PRICE], call[INDEX_PRICE]) == (96120.4, 95980.1)
    assert call[QUOTE_TS] == utc(2024, 11, 27, 9, 2, 3) + timedelta(microseconds=401000)
    assert all(call[c] is None for c in ("delta", "gamma", "vega", "theta", "bid_iv"))
    assert put[EXPIRY] == utc(2024, 12, 5, 8)
    assert (put[STRIKE], put[OPTION_TYPE], put[OPTION_OI]) == (101000.0, "put", 0.0)
    assert put[MARK_IV] == 0.6
    assert put[UNDERLYING_PRICE] == 95980.1


@pytest.mark.parametrize(
    ("us_out", "expected"),
    [
        (1732698123456789, utc(2024, 11, 27, 9, 2, 3)),
        (1732698123000000, utc(2024, 11, 27, 9, 2, 3)),
        ("1732698123999999", utc(2024, 11, 27, 9, 2, 3)),
    ],
)
def test_snapshot_time_floors_us_out(us_out: object, expected: datetime) -> None:
    assert snapshot_time({"usOut": us_out}) == expected


@pytest.mark.parametrize(
    ("points", "decimal"),
    [(56.76, 0.5676), (100, 1.0), (8.5, 0.085), (0.0, 0.0)],
)
def test_dvol_points_become_decimals(points: float, decimal: float) -> None:
    frame = volatility_frame([[1667692800000, points, points, points, points]])
    assert frame.schema == pl.Schema(VOL_INDEX.columns)
    assert frame[TS][0] == utc(2022, 11, 6)
    assert frame[CLOSE][0] == pytest.approx(decimal, rel=1e-15)


def test_payload_checks() -> None:
    assert is_book_summary(SUMMARY)
    assert not is_book_summary('{"jsonrpc": "2.0", "resu')  # a truncated body
    assert not is_book_summary({**SUMMARY, "result": [{"instrument_name": 1}]})
    assert not is_book_summary(
        {**SUMMARY, "result": [{"instrument_name": "x", "mark_iv": "5"}]}
    )
    page = {
        "usOut": 1,
        "result": {"data": [[1, 2.0, 3.0, 1.0, 2.5]], "continuation": None},
    }
    assert is_volatility_page(page)
    assert not is_volatility_page({**page, "result": {"data": [[1, 2.0]]}})
    assert not is_volatility_page({**page, "result": {"data": [["1", 2, 3, 1, 2]]}})
    assert not is_volatility_page("<html><body>502 Bad Gateway</body></html>")


@pytest.mark.parametrize(
    ("timeframe", "resolution"),
    [("1m", "60"), ("1h", "3600"), ("12h", "43200"), ("1d", "1D")],
)
def test_timeframes_map_to_resolutions(
    emu: Emulator, data: DeribitData, timeframe: str, resolution: str
) -> None:
    start = NOW - timedelta(days=3)
    frame = fetch_all(source(emu), dvol_key("ETH", timeframe), start)
    assert frame.equals(data.dvol("ETH", timeframe, start, NOW))
    assert {r.query["resolution"] for r in emu.log} == {resolution}


# --- option chains -----------------------------------------------------------------
@pytest.mark.parametrize("currency", ["BTC", "ETH"])
def test_chain_snapshot_equals_the_truth(
    emu: Emulator, data: DeribitData, currency: str
) -> None:
    chunks = list(source(emu).fetch(chain_key(currency), NOW - timedelta(days=1), NOW))
    assert len(chunks) == 1
    assert chunks[0].equals(data.chains[currency])
    assert chunks[0][TS].unique().to_list() == [utc(2026, 11, 21, 14, 3, 27)]
    assert emu.log[0].query == {"currency": currency, "kind": "option"}


def test_chain_outside_the_present_asks_nothing(
    emu: Emulator, data: DeribitData
) -> None:
    src = source(emu)
    past = NOW - timedelta(days=30)
    assert list(src.fetch(chain_key(), past, past + timedelta(days=1))) == []
    assert (
        list(
            src.fetch(chain_key(), NOW + timedelta(minutes=5), NOW + timedelta(days=1))
        )
        == []
    )
    assert emu.log == []


def test_chain_sync_that_ended_a_minute_ago_gets_the_present_chain(
    emu: Emulator, data: DeribitData, tmp_path: Path
) -> None:
    src = source(emu, clock=NOW + timedelta(minutes=1))
    with Store(tmp_path / "s.duckdb") as store:
        result = sync_series(store, src, chain_key(), since=DVOL_START, now=NOW)
        again = sync_series(store, src, chain_key(), since=DVOL_START, now=NOW)
        stored = read_series(store, chain_key())
    assert (result.status, result.inserted, result.note) == ("updated", 40, "")
    assert (again.status, again.inserted) == ("up_to_date", 0)
    assert stored.equals(data.chains["BTC"])


# --- DVOL ---------------------------------------------------------------------
@pytest.mark.parametrize("currency", ["BTC", "ETH"])
def test_full_dvol_history_equals_the_truth(
    emu: Emulator, data: DeribitData, currency: str
) -> None:
    chunks = list(
        source(emu).fetch(dvol_key(currency), datetime(2019, 1, 1, tzinfo=UTC), NOW)
    )
    truth = data.dvol(currency, "1d")
    assert [c.height for c in chunks] == [1000, 1000, truth.height - 2000]
    assert pl.concat(chunks).equals(truth)
    assert truth[TS][0] == DVOL_START
    assert truth[TS][-1] == utc(2026, 11, 20)  # today's bar is still open
    last = data.candles(currency, "1D", ms(utc(2026, 11, 21)), ms(NOW))
    assert len(last) == 1  # ... though the venue serves it


def test_dvol_range_bounds_are_start_inclusive_end_exclusive(
    emu: Emulator, data: DeribitData
) -> None:
    start, end = utc(2025, 3, 1, 12), utc(2025, 3, 3, 12)
    frame = pl.concat(list(source(emu).fetch(dvol_key("BTC", "1h"), start, end)))
    assert frame[TS][0] == start
    assert frame[TS][-1] == end - timedelta(hours=1)
    assert frame.equals(data.dvol("BTC", "1h", start, end))


def test_dvol_follows_continuation_backwards_within_a_window(emu: Emulator) -> None:
    # 300 candles an answer: a 1000-bar window takes four answers, each ending
    # at the previous one's continuation (inclusive, so one candle repeats)
    data = install_deribit(emu, now=NOW, seed=5, page_limit=300, fault_rows=3)
    start = NOW - timedelta(hours=2500)
    first = window_starts(start, HOUR, 1)[0]
    emu.inject(
        Fault("overlap", match=DVOL),
        # the 2nd answer loses its 3 oldest candles; the 3rd recovers only one
        Fault("skip", match=f"end_timestamp={first + 700 * HOUR}&"),
    )
    frame = fetch_all(source(emu), dvol_key("BTC", "1h"), start)
    assert frame.equals(data.dvol("BTC", "1h", start, NOW))
    ends = [int(r.query["end_timestamp"]) - first for r in emu.log[:8]]
    window = [1000 * HOUR - 1, 700 * HOUR, 401 * HOUR, 102 * HOUR]
    assert ends == window + window  # the gap made the window be asked again
    assert not emu.pending_faults()


def test_empty_windows_before_the_history_are_not_asked_again(emu: Emulator) -> None:
    begins = DVOL_START + timedelta(hours=2500)  # say the hourly history starts later
    data = install_deribit(emu, now=NOW, seed=2, history_start=begins)
    stop = begins + timedelta(hours=1200)
    chunks = source(emu).fetch(dvol_key("BTC", "1h"), DVOL_START, stop)
    frame = pl.concat(list(chunks))
    assert frame.equals(data.dvol("BTC", "1h", DVOL_START, stop))
    assert frame[TS][0] == begins
    # the 2 empty windows are asked once; the one where the history starts
    # cannot be told from an answer that lost its oldest candles: 3 times
    w = window_starts(DVOL_START, HOUR, 4)
    asked = [int(r.query["start_timestamp"]) for r in emu.log]
    assert asked == [w[0], w[1], w[2], w[2], w[2], w[3]]


def test_an_empty_answer_inside_the_history_is_asked_again(emu: Emulator) -> None:
    data = install_deribit(emu, now=NOW, seed=2, fault_rows=1000)
    start = NOW - timedelta(hours=2500)
    second = window_starts(start, HOUR, 2)[1]
    emu.inject(Fault("skip", match=f"start_timestamp={second}&"))  # all 1000 lost
    frame = fetch_all(source(emu), dvol_key("BTC", "1h"), start)
    assert frame.equals(data.dvol("BTC", "1h", start, NOW))
    assert len(emu.log) == 4


def test_a_continuation_that_does_not_move_back_is_an_error(
    emu: Emulator, data: DeribitData
) -> None:
    def stuck(query: dict[str, str], fault: str | None) -> Reply:
        last = int(query["end_timestamp"]) // HOUR * HOUR
        page = {"data": [[last, 50.0, 51.0, 49.0, 50.5]], "continuation": last + HOUR}
        return Reply(data.envelope(page))

    emu.route(HOST, f"{API}/{DVOL}", stuck)
    with pytest.raises(SourceError, match="does not move back"):
        fetch_all(source(emu), dvol_key("BTC", "1h"), NOW - timedelta(days=2))


# --- every fault across one run ----------------------------------------------------
FAULTS: list[dict[str, Any]] = [
    {"kind": "429", "retry_after": 0},
    {"kind": "418", "retry_after": 0},
    {"kind": "500"},
    {"kind": "502"},
    {"kind": "503"},
    {"kind": "slow", "delay_s": 0.05},
    {"kind": "timeout", "delay_s": 1.0},
    {"kind": "truncated"},
    {"kind": "invalid"},
    {"kind": "overlap"},  # rows: install_deribit(fault_rows=...)
    {"kind": "skip"},
]


def test_full_fetch_with_every_fault_equals_the_truth(emu: Emulator) -> None:
    data = install_deribit(emu, now=NOW, seed=3, fault_rows=5)
    start = NOW - timedelta(hours=11_500)
    for spec, first in zip(FAULTS, window_starts(start, HOUR, 12), strict=False):
        emu.inject(Fault(match=f"{DVOL}.*start_timestamp={first}&", **spec))
    data.rate_limited = 1  # and Deribit's own 429 (code 10028)
    sleeps: list[float] = []
    src = source(emu, timeout_ms=500, sleeps=sleeps)

    frame = fetch_all(src, dvol_key("BTC", "1h"), start)
    assert frame.equals(data.dvol("BTC", "1h", start, NOW))
    assert frame.height == 11_500 - 1  # the bar in progress is left out

    # the chain, one snapshot per fault: every fault a one-call snapshot can
    # meet (a skipped row cannot be told from a delisted instrument without
    # get_instruments, see the adapter's module notes)
    for n, spec in enumerate(FAULTS[:-1]):
        emu.inject(Fault(match=BOOK, **spec))
        currency = ("BTC", "ETH")[n % 2]
        chain = list(src.fetch(chain_key(currency), start, NOW))
        assert len(chain) == 1 and chain[0].equals(data.chains[currency])
    assert not emu.pending_faults()
    deadline = time.monotonic() + 3  # a timed-out request is logged when answered
    while "timeout" not in {r.fault for r in emu.log} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {r.fault for r in emu.log if r.fault} == {f["kind"] for f in FAULTS}
    # 8 error faults per endpoint and Deribit's 429 were retried, nothing else
    assert len(sleeps) == 2 * 8 + 1


# --- interrupted fetches ------------------------------------------------------------
def test_interrupted_fetch_resumes_without_gap_or_duplicate(
    emu: Emulator, data: DeribitData, tmp_path: Path
) -> None:
    key, start = dvol_key("ETH", "1h"), NOW - timedelta(hours=3600)
    src = source(emu)
    with Store(tmp_path / "s.duckdb") as store:
        chunks = src.fetch(key, start, NOW)
        for _ in range(2):
            write_series(store, [SeriesFrame(key, next(chunks))])
        chunks.close()  # stop consuming half-way
        resume = last_timestamp(store, key)
        assert resume is not None and start < resume < NOW - timedelta(hours=1000)
        for chunk in src.fetch(key, resume, NOW):
            write_series(store, [SeriesFrame(key, chunk)])
        for chunk in src.fetch(chain_key(), start, NOW):  # twice: no duplicate
            write_series(store, [SeriesFrame(chain_key(), chunk)])
            write_series(store, [SeriesFrame(chain_key(), chunk)])
        stored = read_series(store, key)
        chain = read_series(store, chain_key())
    assert stored.equals(data.dvol("ETH", "1h", start, NOW))
    assert stored[TS].is_unique().all()
    assert chain.equals(data.chains["BTC"])


def test_sync_series_fetches_dvol_from_its_launch(
    emu: Emulator, data: DeribitData, tmp_path: Path
) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        result = sync_series(
            store, source(emu), dvol_key(), since=utc(2020, 1, 1), now=NOW
        )
        stored = read_series(store, dvol_key())
    assert result.status == "updated"
    assert "2021-03-24" in result.note
    assert stored.equals(data.dvol("BTC", "1d"))


# --- failures ----------------------------------------------------------------------
def test_geo_block_is_reported_and_not_retried(
    emu: Emulator, data: DeribitData
) -> None:
    emu.inject(Fault("451", match=DVOL, times=5))
    with pytest.raises(SourceError, match="refuses requests from this location"):
        fetch_all(source(emu), dvol_key(), NOW - timedelta(days=5))
    assert len(emu.log) == 1


def test_retries_exhausted_say_so(emu: Emulator, data: DeribitData) -> None:
    emu.inject(Fault("503", match=BOOK, times=10))
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        list(source(emu, attempts=3).fetch(chain_key(), NOW, NOW + timedelta(hours=1)))
    assert len(emu.log) == 3


def test_malformed_answers_exhausted_say_so(emu: Emulator, data: DeribitData) -> None:
    emu.inject(Fault("truncated", match=DVOL, times=10))
    with pytest.raises(
        SourceError, match=r"gave up after 3 attempts \(MalformedPayload"
    ):
        fetch_all(source(emu, attempts=3), dvol_key(), NOW - timedelta(days=5))


def test_deribit_rate_limit_that_never_ends(emu: Emulator, data: DeribitData) -> None:
    data.rate_limited = 10
    with pytest.raises(RateLimitError, match="kept rate-limiting after 3 attempts"):
        list(source(emu, attempts=3).fetch(chain_key(), NOW, NOW + timedelta(hours=1)))
