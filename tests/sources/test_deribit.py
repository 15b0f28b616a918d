"""Deribit presets: option chains, book summaries, IV smiles, DVOL, summaries."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from statistics import NormalDist

import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import SeriesFrame, SeriesKey
from rallylens.sources import FileOptions, load_mapping, parse_file, read_raw
from rallylens.sources.deribit import PRESETS
from rallylens.sources.files import PRESETS as ALL_PRESETS
from tests.conftest import NOW

BTC_CHAIN = SeriesKey("deribit", "BTC/USD:BTC", SeriesKind.OPTIONS_CHAIN, "snapshot")
ETH_CHAIN = SeriesKey("deribit", "ETH/USD:ETH", SeriesKind.OPTIONS_CHAIN, "snapshot")
GREEKS = (
    "\"{'vega': 5.49167, 'theta': -26.07217, 'rho': -0.99385, "
    "'gamma': 0.00037, 'delta': -0.43897}\""
)
ORDER_BOOK_HEADER = (
    ",expiration_timestamp,option_type,instrument_name,strike,underlying_price,"
    "timestamp,open_interest,mark_price,mark_iv,index_price,greeks,bid_iv,ask_iv"
)
TICKER_HEADER = (
    "instrument_name,currency,type,strike,expiration_timestamp,mark_price,"
    "underlying_price,mark_iv,bid_iv,ask_iv,open_interest,delta,gamma,theta,vega"
)
SUMMARY_HEADER = (
    ",mid_price,estimated_delivery_price,quote_currency,creation_timestamp,"
    "base_currency,underlying_index,underlying_price,mark_price,open_interest,"
    "instrument_name"
)
IV_HEADER = (
    "option_type,strike,creation,maturity,mark_price,last_price,mark_iv,index_price"
)
SUMMARY_METRICS_HEADER = (
    "snap_time,spot,expiry_used,days_to_expiry,atm_iv,put10_iv,call10_iv,"
    "skew10_put_minus_call,put_call_oi_ratio_45d,total_oi_45d,"
    "max_oi_put_strike_45d,max_oi_call_strike_45d"
)
MAY14 = 1589434896486  # 2020-05-14 05:41:36.486 UTC
MAY22_EXPIRY = 1590134400000  # 2020-05-22 08:00 UTC


def _csv(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _parse(path: Path, preset: str | None = None, **options: object) -> SeriesFrame:
    opts = FileOptions(**{"now": NOW, **options})  # type: ignore[arg-type]
    _, chosen, parsed = parse_file(path, preset=preset, options=opts)
    assert preset is None or chosen.name == preset
    (series,) = parsed.series
    return series


def _row(series: SeriesFrame, instrument: str) -> dict[str, object]:
    return series.frame.filter(pl.col("instrument") == instrument).row(0, named=True)


def _order_book(path: Path, *, greeks: str = GREEKS, quote_ms: int = MAY14) -> Path:
    return _csv(
        path,
        [
            ORDER_BOOK_HEADER,
            f"0,{MAY22_EXPIRY},put,BTC-22MAY20-9250-P,9250.0,9352.58,{quote_ms},"
            f"139.3,0.04010621,76.87,9350.67,{greeks},80.07,85.17",
            f"1,1591344000000,call,BTC-5JUN20-12000-C,12000.0,9360.0,{quote_ms + 1007},"
            "110.6,0.00570308,112.49,9350.12,\"{'delta': 0.08013, 'gamma': 0.0001, "
            "'vega': 2.07333, 'theta': -14.40395}\",0.0,115.97",
        ],
    )


def _ticker(path: Path) -> Path:
    return _csv(
        path,
        [
            TICKER_HEADER,
            "BTC-13MAR26-61000-C,BTC,call,61000.0,1773388800000,0.0951,66342.3,"
            "63.29,28.16,74.21,2.0,0.78695,4e-05,-93.14463,34.6075",
            "BTC-13MAR26-62000-P,BTC,put,62000.0,1773388800000,0.0129,66342.3,"
            "61.1,0.0,65.72,9.1,-0.25075,4e-05,-98.46943,37.89797",
        ],
    )


def _book_summary(path: Path, *names: str, created_ms: int = 1704712781414) -> Path:
    rows = [
        f"{i},0.0007,2222.19,ETH,{created_ms},ETH,SYN.ETH-9JAN24,2241.65,"
        f"0.000853,965.0,{name}"
        for i, name in enumerate(names)
    ]
    return _csv(path, [SUMMARY_HEADER, *rows])


# --- option chain: order book rows ------------------------------------------
def test_order_book_chain_greeks_dict_and_percent_iv(tmp_path: Path) -> None:
    series = _parse(_order_book(tmp_path / "chain.csv"), "deribit-chain")
    assert series.key == BTC_CHAIN
    row = _row(series, "BTC-22MAY20-9250-P")
    assert row["ts"] == datetime(2020, 5, 14, 5, 41, tzinfo=UTC)
    assert row["quote_ts"] == datetime(2020, 5, 14, 5, 41, 36, 486000, tzinfo=UTC)
    assert row["expiry"] == datetime(2020, 5, 22, 8, tzinfo=UTC)
    assert (row["strike"], row["option_type"]) == (9250.0, "put")
    assert row["mark_iv"] == pytest.approx(0.7687)
    assert row["bid_iv"] == pytest.approx(0.8007)
    assert row["mark_price"] == pytest.approx(0.04010621)
    assert (row["delta"], row["gamma"]) == (-0.43897, 0.00037)
    assert (row["vega"], row["theta"]) == (5.49167, -26.07217)
    assert (row["open_interest"], row["underlying_price"]) == (139.3, 9352.58)
    assert row["index_price"] == 9350.67


def test_order_book_single_digit_day_and_zero_bid_iv(tmp_path: Path) -> None:
    series = _parse(_order_book(tmp_path / "chain.csv"), "deribit-chain")
    row = _row(series, "BTC-5JUN20-12000-C")
    assert row["expiry"] == datetime(2020, 6, 5, 8, tzinfo=UTC)
    assert row["bid_iv"] is None  # Deribit's 0 = no quote
    assert row["ask_iv"] == pytest.approx(1.1597)
    assert row["delta"] == 0.08013
    assert row["ts"] == datetime(2020, 5, 14, 5, 41, tzinfo=UTC)


def test_order_book_file_is_detected(tmp_path: Path) -> None:
    series = _parse(_order_book(tmp_path / "whatever.csv"))
    assert series.key == BTC_CHAIN


def test_polls_an_hour_apart_are_two_snapshots(tmp_path: Path) -> None:
    first = _order_book(tmp_path / "a.csv").read_text().splitlines()
    later = _order_book(tmp_path / "b.csv", quote_ms=MAY14 + 3_600_000)
    path = _csv(tmp_path / "c.csv", first + later.read_text().splitlines()[1:])
    series = _parse(path, "deribit-chain")
    assert series.frame["ts"].unique().sort().to_list() == [
        datetime(2020, 5, 14, 5, 41, tzinfo=UTC),
        datetime(2020, 5, 14, 6, 41, tzinfo=UTC),
    ]
    assert series.frame.height == 4


@pytest.mark.parametrize(
    "greeks",
    ["\"{'delta': -0.4, 'gamma': }\"", '"[0.1, 0.2]"', "\"__import__('os')\""],
)
def test_malformed_greeks_name_the_line(tmp_path: Path, greeks: str) -> None:
    path = _order_book(tmp_path / "chain.csv", greeks=greeks)
    with pytest.raises(ParseError, match=r"chain\.csv, line 2, column 'greeks'"):
        _parse(path, "deribit-chain")


def test_greek_that_is_not_a_number_names_the_line(tmp_path: Path) -> None:
    path = _order_book(tmp_path / "chain.csv", greeks="\"{'delta': 'x'}\"")
    with pytest.raises(ParseError, match=r"line 2, column 'greeks'.*delta"):
        _parse(path, "deribit-chain")


def test_snapshot_option_wins_over_quote_times(tmp_path: Path) -> None:
    when = datetime(2020, 5, 14, 5, 45, tzinfo=UTC)
    series = _parse(_order_book(tmp_path / "chain.csv"), snapshot_ts=when)
    assert series.frame["ts"].unique().to_list() == [when]
    assert series.frame["quote_ts"].null_count() == 0


# --- option chain: ticker rows ----------------------------------------------
def test_ticker_chain_without_snapshot_time_asks_for_it(tmp_path: Path) -> None:
    path = _ticker(tmp_path / "tickers.csv")
    with pytest.raises(ParseError, match="--snapshot-time"):
        _parse(path)


def test_ticker_chain_with_snapshot_time(tmp_path: Path) -> None:
    when = datetime(2026, 3, 1, 13, 49, tzinfo=UTC)
    series = _parse(_ticker(tmp_path / "tickers.csv"), snapshot_ts=when)
    assert series.key == BTC_CHAIN
    row = _row(series, "BTC-13MAR26-61000-C")
    assert row["ts"] == when
    assert row["quote_ts"] is None
    assert (row["delta"], row["gamma"], row["theta"], row["vega"]) == (
        0.78695,
        4e-05,
        -93.14463,
        34.6075,
    )
    assert row["mark_iv"] == pytest.approx(0.6329)
    assert (row["bid_iv"], row["ask_iv"]) == pytest.approx((0.2816, 0.7421))
    put = _row(series, "BTC-13MAR26-62000-P")
    assert (put["option_type"], put["bid_iv"]) == ("put", None)
    assert put["underlying_price"] == 66342.3  # the forward, not filled


def test_snapshot_after_expiry_is_refused(tmp_path: Path) -> None:
    path = _ticker(tmp_path / "tickers.csv")
    late = datetime(2026, 3, 14, tzinfo=UTC)
    with pytest.raises(ParseError, match=r"line 2.*expired.*--snapshot-time"):
        _parse(path, snapshot_ts=late)


def test_market_contradicting_the_instruments_is_refused(tmp_path: Path) -> None:
    path = _ticker(tmp_path / "tickers.csv")
    with pytest.raises(ParseError, match="holds BTC options"):
        _parse(path, snapshot_ts=NOW, market="ETH/USD:ETH")


# --- book summary -------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expiry", "strike", "kind"),
    [
        ("ETH-5JUN20-200-P", datetime(2020, 6, 5, 8, tzinfo=UTC), 200.0, "put"),
        ("ETH-9JAN24-2900-C", datetime(2024, 1, 9, 8, tzinfo=UTC), 2900.0, "call"),
        ("ETH-27DEC24-8500-C", datetime(2024, 12, 27, 8, tzinfo=UTC), 8500.0, "call"),
        ("ETH-29FEB24-1d5-P", datetime(2024, 2, 29, 8, tzinfo=UTC), 1.5, "put"),
    ],
)
def test_book_summary_expiry_codes(
    tmp_path: Path, name: str, expiry: datetime, strike: float, kind: str
) -> None:
    path = _book_summary(tmp_path / "s.csv", name, created_ms=1588291200000)
    series = _parse(path)
    assert series.key == ETH_CHAIN
    row = _row(series, name)
    assert (row["expiry"], row["strike"], row["option_type"]) == (expiry, strike, kind)


def test_book_summary_values_and_snapshot(tmp_path: Path) -> None:
    path = _book_summary(tmp_path / "s.csv", "ETH-26JAN24-1200-P", "ETH-9JAN24-2550-C")
    series = _parse(path, "deribit-book-summary")
    row = _row(series, "ETH-26JAN24-1200-P")
    assert row["ts"] == datetime(2024, 1, 8, 11, 19, tzinfo=UTC)
    assert row["quote_ts"] == datetime(2024, 1, 8, 11, 19, 41, 414000, tzinfo=UTC)
    assert (row["mark_price"], row["open_interest"]) == (0.000853, 965.0)
    assert (row["underlying_price"], row["index_price"]) == (2241.65, 2222.19)
    assert row["mark_iv"] is None and row["delta"] is None
    assert "no implied vol" in series.notes["mark_iv"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ETH-31FEB24-2000-C", "invalid expiry"),
        ("ETH-5JUNE20-2000-C", "not a Deribit inverse option name"),
        ("ETH_USDC-5JUN20-2000-C", "not a Deribit inverse option name"),
    ],
)
def test_bad_instrument_names_name_the_line(
    tmp_path: Path, name: str, message: str
) -> None:
    path = _book_summary(tmp_path / "s.csv", "ETH-9JAN24-2550-C", name)
    with pytest.raises(
        ParseError, match=rf"line 3, column 'instrument_name'.*{message}"
    ):
        _parse(path, "deribit-book-summary")


def test_mixed_currencies_are_refused(tmp_path: Path) -> None:
    path = _book_summary(tmp_path / "s.csv", "ETH-9JAN24-2550-C", "BTC-9JAN24-45000-C")
    with pytest.raises(ParseError, match="split it per currency"):
        _parse(path, "deribit-book-summary")


# --- IV smile -------------------------------------------------------------------
def _smile(path: Path) -> Path:
    return _csv(
        path,
        [
            IV_HEADER,
            "call,63000.0,2024-05-23 18:11:00,2024-05-25 08:00:00,0.0852,0.079,"
            "100.0,68777.9",
            "put,68500.5,2024-05-23 18:11:00,2024-05-25 08:00:00,0.0031,0.003,"
            "35.29,68778.77",
        ],
    )


def test_iv_smile_builds_instrument_names(tmp_path: Path) -> None:
    when = datetime(2024, 5, 24, 19, 16, tzinfo=UTC)
    series = _parse(_smile(tmp_path / "btc_option_iv.csv"), snapshot_ts=when)
    assert series.key == BTC_CHAIN
    assert series.frame["instrument"].to_list() == [
        "BTC-25MAY24-63000-C",
        "BTC-25MAY24-68500d5-P",
    ]
    row = _row(series, "BTC-25MAY24-63000-C")
    assert row["expiry"] == datetime(2024, 5, 25, 8, tzinfo=UTC)
    assert (row["mark_iv"], row["mark_price"]) == (1.0, 0.0852)
    assert row["underlying_price"] == row["index_price"] == 68777.9
    assert row["open_interest"] is None
    assert "index price" in series.notes["underlying_price"]


def test_iv_smile_needs_a_snapshot_time(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="--snapshot-time"):
        _parse(_smile(tmp_path / "btc_option_iv.csv"))


def test_iv_smile_currency_from_market_option(tmp_path: Path) -> None:
    path = _smile(tmp_path / "smile.csv")
    with pytest.raises(ParseError, match="--market"):
        _parse(path, snapshot_ts=datetime(2024, 5, 24, tzinfo=UTC))
    series = _parse(
        path, snapshot_ts=datetime(2024, 5, 24, tzinfo=UTC), market="ETH/USD:ETH"
    )
    assert series.key == ETH_CHAIN
    assert series.frame["instrument"][0] == "ETH-25MAY24-63000-C"


# --- DVOL -----------------------------------------------------------------------
def test_dvol_dates_scaled_to_decimal(tmp_path: Path) -> None:
    path = _csv(tmp_path / "dvol_eth.csv", ["date,dvol_close", "2023-01-01,61.64"])
    series = _parse(path, "deribit-dvol")
    assert series.key == SeriesKey("deribit", "ETH", SeriesKind.VOL_INDEX, "1d")
    assert series.frame["ts"][0] == datetime(2023, 1, 1, tzinfo=UTC)
    assert series.frame["close"][0] == pytest.approx(0.6164)


def test_dvol_with_epoch_milliseconds(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "cache" / "dvol_btc.csv",
        [
            "datetime_utc,timestamp_ms,dvol_close",
            "2022-11-06T00:00:00Z,1667692800000,56.76",
            "2022-11-07T00:00:00Z,1667779200000,59.48",
        ],
    )
    series = _parse(path)
    assert series.key == SeriesKey("deribit", "BTC", SeriesKind.VOL_INDEX, "1d")
    assert series.frame["close"].to_list() == pytest.approx([0.5676, 0.5948])
    assert series.frame["ts"][1] == datetime(2022, 11, 7, tzinfo=UTC)


def test_dvol_without_currency_in_name_asks_for_market(tmp_path: Path) -> None:
    path = _csv(tmp_path / "vol.csv", ["date,dvol_close", "2023-01-01,46.96"])
    with pytest.raises(ParseError, match="--market"):
        _parse(path, "deribit-dvol")
    assert _parse(path, "deribit-dvol", market="BTC").key.market == "BTC"


def test_dvol_already_in_decimals_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path / "dvol_btc.csv", ["date,dvol_close", "2023-01-01,0.4696"])
    with pytest.raises(ParseError, match="index points"):
        _parse(path, "deribit-dvol")


# --- option summaries -------------------------------------------------------------
def test_options_summary_metrics(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "deribit-options-BTC.csv",
        [
            SUMMARY_METRICS_HEADER,
            "1790172469860,86011.65,2026-10-30,36.74,36.21,39.03,36.36,"
            "2.6700000000000017,0.5818,322853.5,70000.0,95000.0",
        ],
    )
    series = _parse(path)
    assert series.key == SeriesKey(
        "deribit", "BTC/USD:BTC", SeriesKind.OPTIONS_SUMMARY, "snapshot"
    )
    values = dict(series.frame.select("metric", "value").iter_rows())
    assert values == pytest.approx(
        {
            "atm_iv": 0.3621,
            "put10_iv": 0.3903,
            "call10_iv": 0.3636,
            "skew10": 0.0267,
            "put_call_oi_ratio_45d": 0.5818,
            "total_oi_45d_base": 322853.5,
            "max_oi_put_strike_45d": 70000.0,
            "max_oi_call_strike_45d": 95000.0,
            "days_to_expiry": 36.74,
            "spot_usd": 86011.65,
        }
    )
    assert series.frame["ts"][0] == datetime(2026, 9, 23, 14, 7, 49, 860000, tzinfo=UTC)


# --- detection --------------------------------------------------------------------
def test_each_generated_file_matches_exactly_one_preset(tmp_path: Path) -> None:
    files = {
        "deribit-chain": [_order_book(tmp_path / "a.csv"), _ticker(tmp_path / "b.csv")],
        "deribit-book-summary": [_book_summary(tmp_path / "c.csv", "ETH-9JAN24-1-C")],
        "deribit-iv": [_smile(tmp_path / "btc_d.csv")],
        "deribit-dvol": [_csv(tmp_path / "dvol_btc.csv", ["date,dvol_close", "x,1"])],
    }
    for name, paths in files.items():
        for path in paths:
            raw = read_raw(path)
            assert [p.name for p in ALL_PRESETS.values() if p.detect(raw)] == [name]


def test_other_formats_are_not_claimed(tmp_path: Path) -> None:
    for header in (
        "date,open,high,low,close,volume",
        "date,dvol_close,extra",
        "option_type,strike,maturity,mark_price,mark_iv,index_price,instrument_name",
        "instrument_name,strike,mark_price,mark_iv",
    ):
        raw = read_raw(_csv(tmp_path / "x.csv", [header, ",".join(["1"] * 7)]))
        assert not [p.name for p in PRESETS if p.detect(raw)], header


def test_mapping_file_rules_use_deribit_presets(mappings_dir: Path) -> None:
    rules = load_mapping(mappings_dir / "deribit.toml")
    assert {r.preset for r in rules} <= {p.name for p in PRESETS}
    assert all(r.options.get("venue") == "deribit" for r in rules)


# --- real files -------------------------------------------------------------------
def _real(shared_raw: Path, mappings_dir: Path, relative: str) -> SeriesFrame:
    rules = load_mapping(mappings_dir / "deribit.toml")
    _, _, parsed = parse_file(
        shared_raw / relative, options=FileOptions(now=NOW), rules=rules
    )
    (series,) = parsed.series
    return series


def test_real_schepal_chains(shared_raw: Path, mappings_dir: Path) -> None:
    first = _real(
        shared_raw,
        mappings_dir,
        "deribit_chain_schepal/btc_option_chain_2020-05-14T0541Z.csv",
    )
    assert first.key == BTC_CHAIN
    assert first.frame.height == 310
    assert first.frame["ts"].unique().to_list() == [
        datetime(2020, 5, 14, 5, 41, tzinfo=UTC)
    ]
    row = _row(first, "BTC-22MAY20-9250-P")
    assert (row["strike"], row["open_interest"], row["underlying_price"]) == (
        9250.0,
        139.3,
        9352.58,
    )
    assert row["mark_iv"] == pytest.approx(0.7687)
    assert (row["delta"], row["gamma"]) == (-0.43897, 0.00037)
    assert first.frame["open_interest"].sum() == pytest.approx(96275.9)
    second = _real(
        shared_raw,
        mappings_dir,
        "deribit_chain_schepal/btc_option_chain_2020-05-21T2319Z.csv",
    )
    assert second.frame.height == 326
    assert _row(second, "BTC-5JUN20-6750-P")["expiry"] == datetime(
        2020, 6, 5, 8, tzinfo=UTC
    )


def test_real_definer_book_summary(shared_raw: Path, mappings_dir: Path) -> None:
    series = _real(
        shared_raw,
        mappings_dir,
        "deribit_chain_definer/eth_option_book_summary_2024-01-08T1119Z.csv",
    )
    assert series.key == ETH_CHAIN
    frame = series.frame
    assert frame.height == 684
    assert (frame["option_type"] == "call").sum() == 342
    assert frame["expiry"].n_unique() == 11
    assert frame["expiry"].min() == datetime(2024, 1, 9, 8, tzinfo=UTC)
    assert frame["open_interest"].sum() == pytest.approx(2_337_624)
    assert frame["ts"].unique().to_list() == [datetime(2024, 1, 8, 11, 19, tzinfo=UTC)]
    assert "MIT" in series.notes["source"]


def test_real_tessicin_with_inferred_snapshot(
    shared_raw: Path, mappings_dir: Path
) -> None:
    series = _real(
        shared_raw,
        mappings_dir,
        "deribit_chain_tessicin/btc_option_tickers_2026-03_pm10pct.csv",
    )
    frame = series.frame
    assert frame.height == 166
    assert frame["open_interest"].sum() == pytest.approx(55622.1)
    snapshot = datetime(2026, 3, 1, 13, 49, tzinfo=UTC)
    assert frame["ts"].unique().to_list() == [snapshot]
    assert "inferred" in series.notes["snapshot_ts"]
    # at the inferred time Black-76 reproduces Deribit's 13MAR26 deltas
    near = frame.filter(pl.col("expiry") == datetime(2026, 3, 13, 8, tzinfo=UTC))
    for row in near.iter_rows(named=True):
        years = (row["expiry"] - snapshot).total_seconds() / (365 * 86400)
        vol = row["mark_iv"] * math.sqrt(years)
        d1 = (math.log(row["underlying_price"] / row["strike"]) + vol**2 / 2) / vol
        delta = NormalDist().cdf(d1) - (row["option_type"] == "put")
        assert delta == pytest.approx(row["delta"], abs=1e-4), row["instrument"]


def test_real_soldnn_smiles(shared_raw: Path, mappings_dir: Path) -> None:
    btc = _real(
        shared_raw, mappings_dir, "deribit_chain_soldnn/btc_option_iv_2024-05-24.csv"
    )
    eth = _real(
        shared_raw, mappings_dir, "deribit_chain_soldnn/eth_option_iv_2024-05-24.csv"
    )
    assert (btc.key, eth.key) == (BTC_CHAIN, ETH_CHAIN)
    assert (btc.frame.height, eth.frame.height) == (578, 502)
    assert btc.frame["ts"][0] == datetime(2024, 5, 24, 19, 16, tzinfo=UTC)
    assert (btc.frame["mark_iv"] == 1.0).sum() == 34
    assert "mark_iv = 100" in btc.notes["caveat"]
    row = _row(btc, "BTC-25MAY24-63000-C")
    assert (row["mark_price"], row["index_price"]) == (0.0852, 68777.9)


def test_real_dvol(shared_raw: Path, mappings_dir: Path) -> None:
    btc = _real(
        shared_raw, mappings_dir, "deribit_dvol_straddle_with_hedge/dvol_btc.csv"
    )
    assert btc.key == SeriesKey("deribit", "BTC", SeriesKind.VOL_INDEX, "1d")
    frame = btc.frame
    assert frame.height == 1269
    assert (frame["ts"].min(), frame["ts"].max()) == (
        datetime(2023, 1, 1, tzinfo=UTC),
        datetime(2026, 6, 22, tzinfo=UTC),
    )
    assert frame["close"][0] == pytest.approx(0.4696)
    kalyar = _real(shared_raw, mappings_dir, "kalyar_eth_dashboard/dvol_btc.csv")
    assert kalyar.frame.height == 1102
    assert "incremental" in kalyar.notes["artefact"]
    both = kalyar.frame.join(frame, on="ts", suffix="_straddle")
    same = (both["close"] - both["close_straddle"]).abs() < 1e-9
    assert (both.height, int(same.sum())) == (1046, 1039)


def test_real_lazzmatazz_summaries(shared_raw: Path, mappings_dir: Path) -> None:
    series = _real(
        shared_raw, mappings_dir, "deribit_summary_lazzmatazz/deribit-options-BTC.csv"
    )
    assert series.key.kind is SeriesKind.OPTIONS_SUMMARY
    frame = series.frame
    assert frame.height == 190
    first = frame.filter(pl.col("ts") == frame["ts"].min())
    values = dict(first.select("metric", "value").iter_rows())
    assert values["atm_iv"] == pytest.approx(0.3621)
    assert values["skew10"] == pytest.approx(0.0267)
