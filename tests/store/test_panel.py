from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rallylens.exceptions import InsufficientDataError
from rallylens.schemas import (
    CANDLES,
    FUNDING,
    OPEN_INTEREST,
    VOL_INDEX,
    SeriesFrame,
    SeriesKey,
)
from rallylens.store import Store, load_panel, write_series

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def candles(
    start: datetime, hours: int, step_h: int = 1, price: float = 100.0
) -> pl.DataFrame:
    ts = [start + timedelta(hours=i * step_h) for i in range(hours)]
    close = [price + i for i in range(hours)]
    return pl.DataFrame(
        {
            "ts": ts,
            "open": [c - 0.5 for c in close],
            "high": [c + 1.0 for c in close],
            "low": [c - 1.0 for c in close],
            "close": close,
            "volume": [1.0] * hours,
            "quote_volume": None,
            "trades": None,
            "taker_buy_base": None,
            "taker_buy_quote": [0.4 * c for c in close],
        },
        schema=CANDLES.columns,
    )


def funding(start: datetime, n: int, every_h: int, rate: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [start + timedelta(hours=i * every_h) for i in range(n)],
            "rate": [rate] * n,
            "interval_hours": [every_h] * n,
            "rate_open": None,
            "rate_high": None,
            "rate_low": None,
        },
        schema=FUNDING.columns,
    )


def put(
    store: Store, venue: str, market: str, kind: str, tf: str, frame: pl.DataFrame
) -> None:
    write_series(store, [SeriesFrame(SeriesKey(venue, market, kind, tf), frame)])  # type: ignore[arg-type]


def test_hourly_candles_aggregate_to_daily_ohlcv(store: Store) -> None:
    put(store, "binance", "BTC/USDT", "ohlcv", "1h", candles(T0, 48))
    frame = load_panel(store, "BTC", "1d").frame
    assert frame.height == 2
    day = frame.row(0, named=True)
    # hand-computed: closes 100..123 on day one
    assert day["spot_open"] == 99.5
    assert day["spot_high"] == 124.0
    assert day["spot_low"] == 99.0
    assert day["spot_close"] == 123.0
    assert day["spot_volume"] == 24.0
    assert day["spot_taker_buy_quote"] == pytest.approx(0.4 * sum(range(100, 124)))
    assert day["spot_quote_volume"] is None  # all-null stays null, not 0


@pytest.mark.parametrize(
    ("every_h", "rate", "apr"),
    [(8, 0.0001, 0.1095), (4, 0.0001, 0.219), (1, 0.00001, 0.0876)],
)
def test_funding_apr_honours_the_settlement_interval(
    store: Store, every_h: int, rate: float, apr: float
) -> None:
    put(store, "binance", "BTC/USDT", "ohlcv", "1h", candles(T0, 48))
    put(
        store,
        "binance",
        "BTC/USDT:USDT",
        "funding",
        "settle",
        funding(T0, 48 // every_h, every_h, rate),
    )
    frame = load_panel(store, "BTC", "1h").frame
    assert frame["funding_apr"][5] == pytest.approx(apr)
    assert frame["funding_interval_hours"][5] == every_h


def test_daily_level_lands_on_the_bar_in_which_it_is_known(store: Store) -> None:
    put(store, "binance", "BTC/USDT", "ohlcv", "1h", candles(T0, 72))
    dvol = pl.DataFrame(
        {
            "ts": [T0, T0 + timedelta(days=1)],
            "open": None,
            "high": None,
            "low": None,
            "close": [0.5, 0.6],
        },
        schema=VOL_INDEX.columns,
    )
    put(store, "deribit", "BTC", "vol_index", "1d", dvol)
    frame = load_panel(store, "BTC", "1h").frame
    # the close of day 0 is known at 24:00, i.e. in the hourly bar opened 23:00
    assert frame.filter(pl.col("ts") == T0 + timedelta(hours=22))["dvol"][0] is None
    assert frame.filter(pl.col("ts") == T0 + timedelta(hours=23))["dvol"][0] == 0.5
    assert frame.filter(pl.col("ts") == T0 + timedelta(hours=47))["dvol"][0] == 0.6


def test_prices_stitch_by_precedence(store: Store) -> None:
    put(
        store,
        "coinbase",
        "BTC/USD",
        "ohlcv",
        "1d",
        candles(T0, 10, step_h=24, price=50.0),
    )
    put(
        store,
        "binance",
        "BTC/USDT",
        "ohlcv",
        "1d",
        candles(T0 + timedelta(days=5), 10, step_h=24, price=200.0),
    )
    panel = load_panel(store, "BTC", "1d")
    closes = panel.frame["spot_close"].to_list()
    assert closes[:5] == [50.0, 51.0, 52.0, 53.0, 54.0]  # only coinbase early
    assert closes[5] == 200.0  # binance wins where both exist
    assert panel.sources["spot"] == [
        "binance:BTC/USDT:ohlcv:1d",
        "coinbase:BTC/USD:ohlcv:1d",
    ]


def test_open_interest_uses_one_series_and_names_missing_groups(store: Store) -> None:
    put(store, "binance", "BTC/USDT", "ohlcv", "1d", candles(T0, 10, step_h=24))
    oi = pl.DataFrame(
        {
            "ts": [T0 + timedelta(days=i) for i in range(10)],
            "oi_base": None,
            "oi_usd": [1e9 + i for i in range(10)],
            "oi_base_derived": False,
            "oi_usd_derived": False,
        },
        schema=OPEN_INTEREST.columns,
    )
    put(store, "binance", "BTC/USDT:USDT", "open_interest", "1d", oi)
    put(
        store,
        "all",
        "BTC",
        "open_interest",
        "1d",
        oi.head(3).with_columns(pl.col("oi_usd") * 3),
    )
    panel = load_panel(store, "BTC", "1d")
    assert panel.sources["open_interest"] == ["binance:BTC/USDT:USDT:open_interest:1d"]
    assert panel.frame["oi_usd"][0] == 1e9  # never a splice of two venues' levels
    assert (
        "liquidations" in panel.missing
        and "no liquidations series" in panel.missing["liquidations"]
    )


def test_no_prices_is_a_clear_error(store: Store) -> None:
    with pytest.raises(InsufficientDataError, match="no spot or perp prices for ETH"):
        load_panel(store, "ETH", "1d")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cut=st.integers(min_value=30, max_value=200),
    extra=st.integers(min_value=1, max_value=60),
)
def test_rows_after_as_of_never_change_the_panel(
    tmp_path_factory: pytest.TempPathFactory, cut: int, extra: int
) -> None:
    path = tmp_path_factory.mktemp("panel") / "s.duckdb"
    with Store(path) as store:
        hourly = candles(T0, 240)
        put(store, "binance", "BTC/USDT", "ohlcv", "1h", hourly.head(cut))
        as_of = T0 + timedelta(hours=cut - 5)
        rates = funding(T0, 30, 8, 0.0001)
        put(
            store,
            "binance",
            "BTC/USDT:USDT",
            "funding",
            "settle",
            rates.filter(pl.col("ts") <= as_of),
        )
        before = load_panel(store, "BTC", "1h", as_of=as_of).frame
        put(
            store,
            "binance",
            "BTC/USDT",
            "ohlcv",
            "1h",
            hourly.slice(cut, extra).with_columns(pl.col("close") * 7),
        )
        later = funding(T0, 30, 8, 0.002).filter(pl.col("ts") > as_of)
        put(store, "binance", "BTC/USDT:USDT", "funding", "settle", later)
        after = load_panel(store, "BTC", "1h", as_of=as_of).frame
        assert before.equals(after)
        assert (before["ts"] + timedelta(hours=1) <= as_of).all()
