"""Chain analytics: GEX, gamma flip, walls, max pain, PCR, ATM IV and 25-delta skew."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rallylens.exceptions import ConfigError, InsufficientDataError, SchemaError
from rallylens.features.black76 import black76_price
from rallylens.features.gamma import (
    POSITIONINGS,
    ChainMetrics,
    ChainSpec,
    chain_metrics,
    chain_series,
)
from rallylens.schemas import OPTIONS_CHAIN, SeriesFrame
from rallylens.sources import FileOptions, load_mapping, parse_file
from tests.conftest import NOW

TS0 = datetime(2024, 1, 1, 8, tzinfo=UTC)
SIGNS = {
    "dealer_long_calls_short_puts": {"call": 1.0, "put": -1.0},
    "dealer_short_all": {"call": -1.0, "put": -1.0},
    "dealer_long_all": {"call": 1.0, "put": 1.0},
}


# --- helpers ------------------------------------------------------------------
def _opt(
    strike: float,
    kind: str,
    oi: float,
    iv: float | None,
    *,
    fwd: float = 100.0,
    days: float = 30.0,
    ts: datetime = TS0,
    index: float | None = 100.0,
) -> dict[str, Any]:
    expiry = ts + timedelta(days=days)
    return {
        "ts": ts,
        "instrument": f"X-{expiry:%d%b%y}-{strike:g}-{kind[0].upper()}",
        "expiry": expiry,
        "strike": strike,
        "option_type": kind,
        "open_interest": oi,
        "mark_iv": iv,
        "underlying_price": fwd,
        "index_price": index,
    }


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = dict(OPTIONS_CHAIN.columns)
    return pl.DataFrame([{**dict.fromkeys(schema), **r} for r in rows], schema=schema)


def _d1(fwd: float, strike: float, years: float, vol: float) -> float:
    s = vol * math.sqrt(years)
    return (math.log(fwd / strike) + s * s / 2) / s


def _hand_gamma(fwd: float, strike: float, years: float, vol: float) -> float:
    d1 = _d1(fwd, strike, years, vol)
    pdf = math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi)
    return pdf / (fwd * vol * math.sqrt(years))


def _hand_call_delta(fwd: float, strike: float, years: float, vol: float) -> float:
    return 0.5 * (1 + math.erf(_d1(fwd, strike, years, vol) / math.sqrt(2)))


def _hand_gex(row: dict[str, Any], positioning: str, spot: float) -> float:
    years = (row["expiry"] - row["ts"]).total_seconds() / (365 * 86400)
    gamma = _hand_gamma(row["underlying_price"], row["strike"], years, row["mark_iv"])
    sign = SIGNS[positioning][row["option_type"]]
    return float(sign * gamma * row["open_interest"] * spot**2 * 0.01)


def _brute_max_pain(rows: list[dict[str, Any]]) -> float:
    strikes = sorted({r["strike"] for r in rows})

    def pain(at: float) -> float:
        total = 0.0
        for r in rows:
            payoff = (
                at - r["strike"] if r["option_type"] == "call" else r["strike"] - at
            )
            total += r["open_interest"] * max(payoff, 0.0)
        return total

    return float(min(strikes, key=pain))


# --- GEX on a hand-built chain ---------------------------------------------------
THREE = [
    _opt(105.0, "call", 100.0, 0.50, fwd=101.0),
    _opt(95.0, "put", 150.0, 0.60, fwd=101.0),
    _opt(100.0, "call", 50.0, 0.55, fwd=101.0),
]


@pytest.mark.parametrize("positioning", POSITIONINGS)
def test_gex_of_three_options_by_hand(positioning: str) -> None:
    spec = ChainSpec(positioning=positioning)  # type: ignore[arg-type]
    m = chain_metrics(_frame(THREE), spec=spec)
    assert m.spot == 100.0  # the index, not the forward
    # gamma = n(d1) / (F sigma sqrt T), T = 30/365; GEX = sign * gamma * OI * S^2 / 100
    years = 30 / 365
    d1 = (math.log(101 / 105) + 0.5**2 * years / 2) / (0.5 * math.sqrt(years))
    gamma_105 = (
        math.exp(-(d1**2) / 2) / math.sqrt(2 * math.pi) / (101 * 0.5 * years**0.5)
    )
    call_sign = SIGNS[positioning]["call"]
    expected_105 = call_sign * gamma_105 * 100.0 * 100.0**2 * 0.01
    by_strike = {r["strike"]: r for r in m.by_strike.iter_rows(named=True)}
    assert by_strike[105.0]["call_gex_usd"] == pytest.approx(expected_105, rel=1e-12)
    assert by_strike[105.0]["put_gex_usd"] == 0.0
    expected = {r["strike"]: _hand_gex(r, positioning, 100.0) for r in THREE}
    assert by_strike[95.0]["put_gex_usd"] == pytest.approx(expected[95.0], rel=1e-12)
    assert by_strike[100.0]["net_gex_usd"] == pytest.approx(expected[100.0], rel=1e-12)
    assert m.total_gex_usd == pytest.approx(sum(expected.values()), rel=1e-12)
    assert m.by_expiry["net_gex_usd"][0] == pytest.approx(m.total_gex_usd, rel=1e-12)
    assert m.by_strike.columns == [
        "strike", "call_gex_usd", "put_gex_usd", "net_gex_usd", "call_oi", "put_oi"
    ]  # fmt: skip
    assert (by_strike[95.0]["put_oi"], by_strike[105.0]["call_oi"]) == (150.0, 100.0)
    assert m.positioning == positioning
    assert "estimate" in m.note and positioning in m.note


def test_positionings_flip_the_signs() -> None:
    totals = {
        p: chain_metrics(_frame(THREE), spec=ChainSpec(positioning=p)).total_gex_usd  # type: ignore[arg-type]
        for p in POSITIONINGS
    }
    assert totals["dealer_long_all"] == pytest.approx(-totals["dealer_short_all"])
    assert totals["dealer_long_all"] > 0
    calls = sum(_hand_gex(r, "dealer_long_all", 100) for r in THREE[::2])
    puts = sum(_hand_gex(r, "dealer_long_all", 100) for r in THREE[1:2])
    assert totals["dealer_long_calls_short_puts"] == pytest.approx(calls - puts)


def test_gex_scales_with_the_square_of_the_given_spot() -> None:
    base = chain_metrics(_frame(THREE))
    doubled = chain_metrics(_frame(THREE), spot=200.0)
    assert doubled.spot == 200.0
    assert doubled.total_gex_usd == pytest.approx(4 * base.total_gex_usd)
    assert "spot = given" in doubled.note


def test_spot_falls_back_to_the_nearest_expiry_forward() -> None:
    rows = [
        _opt(100.0, "call", 1.0, 0.5, fwd=102.0, days=7, index=None),
        _opt(100.0, "call", 1.0, 0.5, fwd=103.0, days=30, index=None),
    ]
    m = chain_metrics(_frame(rows))
    assert m.spot == 102.0
    assert "nearest expiry" in m.note


def test_gex_profile_at_spot_equals_total() -> None:
    m = chain_metrics(_frame(THREE))
    centre = m.gex_profile.row(120, named=True)
    assert centre["spot"] == pytest.approx(100.0)
    assert centre["net_gex_usd"] == pytest.approx(m.total_gex_usd, rel=1e-9)
    assert m.gex_profile.height == 241
    assert m.gex_profile["spot"].min() == pytest.approx(70.0)


# --- gamma flip ---------------------------------------------------------------
def _symmetric(vol: float = 0.5) -> list[dict[str, Any]]:
    """Puts at 90 and calls at 100^2/90, equal OI: log-symmetric about 100."""
    return [
        _opt(90.0, "put", 1000.0, vol),
        _opt(100.0**2 / 90.0, "call", 1000.0, vol),
    ]


def test_flip_of_a_symmetric_chain_is_known() -> None:
    # gamma_call(s) = gamma_put(s) <=> d1(K2) = -d1(K1)
    # <=> s = sqrt(K1 K2) exp(-sigma^2 T / 2), here 100 exp(-0.25 * 30/365 / 2)
    expected = 100.0 * math.exp(-(0.5**2) * (30 / 365) / 2)
    m = chain_metrics(_frame(_symmetric()))
    assert m.gamma_flip == pytest.approx(expected, abs=2e-3)
    fine = chain_metrics(_frame(_symmetric()), spec=ChainSpec(grid_points=2401))
    assert fine.gamma_flip == pytest.approx(expected, abs=2e-5)
    assert "No gamma flip" not in m.note
    profile = m.gex_profile
    assert (
        profile.filter(pl.col("spot") < expected - 0.5)["net_gex_usd"].to_numpy().max()
        < 0
    )
    assert (
        profile.filter(pl.col("spot") > expected + 0.5)["net_gex_usd"].to_numpy().min()
        > 0
    )


@pytest.mark.parametrize(
    ("positioning", "sign"),
    [("dealer_long_all", "positive"), ("dealer_short_all", "negative")],
)
def test_no_flip_when_gamma_keeps_one_sign(positioning: str, sign: str) -> None:
    spec = ChainSpec(positioning=positioning)  # type: ignore[arg-type]
    m = chain_metrics(_frame(_symmetric()), spec=spec)
    assert m.gamma_flip is None
    assert f"No gamma flip between 70 and 130 USD: total GEX stays {sign}" in m.note


def test_no_flip_on_a_calls_only_chain() -> None:
    m = chain_metrics(_frame([_opt(110.0, "call", 10.0, 0.6)]))
    assert m.gamma_flip is None
    assert "stays positive" in m.note


def test_flip_nearest_the_spot_is_chosen() -> None:
    rows = [
        _opt(80.0, "put", 3000.0, 0.4),
        _opt(100.0, "call", 1000.0, 0.4),
        _opt(125.0, "put", 3000.0, 0.4),
    ]
    m = chain_metrics(_frame(rows), spec=ChainSpec(grid_span=0.5))
    values = m.gex_profile["net_gex_usd"].to_numpy()
    spots = m.gex_profile["spot"].to_numpy()
    changes = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    assert len(changes) == 2  # one below the spot, one above
    assert m.gamma_flip is not None
    nearest = min(changes, key=lambda j: abs(spots[j] - 100.0))
    assert spots[nearest] <= m.gamma_flip <= spots[nearest + 1]


def test_offsetting_calls_and_puts_show_no_flip() -> None:
    # default positioning, equal call and put OI at every strike: gamma cancels
    m = chain_metrics(_smile_chain())
    assert m.total_gex_usd == pytest.approx(0.0, abs=1e-9)
    assert m.gamma_flip is None
    assert "carries no dealer gamma" in m.note


def test_zero_open_interest_gives_no_positioning() -> None:
    m = chain_metrics(_frame([_opt(100.0, "call", 0.0, 0.5), _opt(90, "put", 0, 0.5)]))
    assert m.total_gex_usd == 0.0
    assert (m.gamma_flip, m.call_wall, m.put_wall, m.max_pain) == (None,) * 4
    assert m.put_call_oi_ratio is None
    assert "carries no dealer gamma" in m.note


# --- walls, max pain, put/call ratio --------------------------------------------
WALLS = [
    _opt(100.0, "call", 100.0, 0.5),
    _opt(110.0, "call", 200.0, 0.5),
    _opt(130.0, "call", 500.0, 0.5),  # most call OI, far out of the money
    _opt(95.0, "put", 50.0, 0.5),
    _opt(90.0, "put", 300.0, 0.5),
    _opt(70.0, "put", 2000.0, 0.5),  # most put OI, far out of the money
]


def test_walls_by_gex_and_by_open_interest() -> None:
    gex = {
        (r["strike"], r["option_type"]): _hand_gex(
            r, "dealer_long_calls_short_puts", 100
        )
        for r in WALLS
    }
    call_wall = max((k for k in gex if k[1] == "call"), key=lambda k: abs(gex[k]))[0]
    put_wall = max((k for k in gex if k[1] == "put"), key=lambda k: abs(gex[k]))[0]
    m = chain_metrics(_frame(WALLS))
    assert (m.call_wall, m.put_wall) == (call_wall, put_wall) == (110.0, 90.0)
    by_oi = chain_metrics(_frame(WALLS), spec=ChainSpec(wall_basis="oi"))
    assert (by_oi.call_wall, by_oi.put_wall) == (130.0, 70.0)


def test_walls_use_gamma_magnitude_whatever_the_positioning() -> None:
    m = chain_metrics(_frame(WALLS), spec=ChainSpec(positioning="dealer_short_all"))
    assert (m.call_wall, m.put_wall) == (110.0, 90.0)


def test_max_pain_and_put_call_ratio() -> None:
    later = [
        _opt(120.0, "call", 500.0, 0.5, days=60),
        _opt(80.0, "put", 400.0, 0.5, days=60),
        _opt(100.0, "put", 700.0, 0.5, days=60),
    ]
    rows = WALLS + later
    m = chain_metrics(_frame(rows))
    assert m.max_pain == _brute_max_pain(rows)
    per_expiry = m.by_expiry["max_pain"].to_list()
    assert per_expiry == [_brute_max_pain(WALLS), _brute_max_pain(later)]
    assert per_expiry == [95.0, 100.0]
    puts = sum(r["open_interest"] for r in rows if r["option_type"] == "put")
    calls = sum(r["open_interest"] for r in rows if r["option_type"] == "call")
    assert m.put_call_oi_ratio == pytest.approx(puts / calls)
    assert m.by_expiry["put_oi"].to_list() == [2350.0, 1100.0]


# --- ATM IV, 25-delta skew, constant maturity ---------------------------------------
def _linear_smile(
    a: float, b: float, days: float, fwd: float = 100.0
) -> list[dict[str, Any]]:
    """sigma(D) = a + b (D - 0.5) in Black-76 call delta D, plus the strike K = F."""
    years = days / 365
    rows = []
    for delta in (0.05, 0.15, 0.35, 0.45, 0.55, 0.65, 0.85, 0.95):
        vol = a + b * (delta - 0.5)
        s = vol * math.sqrt(years)
        strike = fwd * math.exp(-NormalDist().inv_cdf(delta) * s + s * s / 2)
        assert _hand_call_delta(fwd, strike, years, vol) == pytest.approx(delta)
        rows += [_opt(strike, k, 1.0, vol, fwd=fwd, days=days) for k in ("call", "put")]
    atm = _atm(a, b, years)
    rows += [_opt(fwd, k, 1.0, atm, fwd=fwd, days=days) for k in ("call", "put")]
    return rows


def _atm(a: float, b: float, years: float) -> float:
    """The ATM vol solves sigma = a + b (N(sigma sqrt(T) / 2) - 0.5) (fixed point)."""
    vol = a
    for _ in range(100):
        vol = a + b * (NormalDist().cdf(vol * math.sqrt(years) / 2) - 0.5)
    return vol


SMILES = {10: (0.60, 0.10), 40: (0.50, 0.20)}  # days: (a, b)


def _smile_chain(ts: datetime = TS0) -> pl.DataFrame:
    rows = [
        r | {"ts": ts, "expiry": ts + (r["expiry"] - TS0)}
        for days, (a, b) in SMILES.items()
        for r in _linear_smile(a, b, days)
    ]
    return _frame(rows)


def test_atm_iv_and_25_delta_skew_of_linear_smiles() -> None:
    m = chain_metrics(_smile_chain())
    for row, (days, (a, b)) in zip(
        m.by_expiry.iter_rows(named=True), SMILES.items(), strict=True
    ):
        atm = _atm(a, b, days / 365)
        assert row["days"] == pytest.approx(days)
        assert row["forward"] == 100.0
        assert row["atm_iv"] == pytest.approx(atm, abs=1e-12)
        # IV(25d call) = a - b/4, IV(25d put) = IV(call delta 0.75) = a + b/4
        assert row["rr25"] == pytest.approx(-b / 2, abs=1e-9)
        assert row["bf25"] == pytest.approx(a - atm, abs=1e-9)


def test_constant_maturity_interpolates_total_variance() -> None:
    spec = ChainSpec(cm_days=(7, 10, 30, 90))
    m = chain_metrics(_smile_chain(), spec=spec)
    (t1, (a1, b1)), (t2, (a2, b2)) = ((d / 365, ab) for d, ab in SMILES.items())
    t = 30 / 365

    def cm(v1: float, v2: float) -> float:
        w = v1**2 * t1 + (v2**2 * t2 - v1**2 * t1) * (t - t1) / (t2 - t1)
        return math.sqrt(w / t)

    atm = cm(_atm(a1, b1, t1), _atm(a2, b2, t2))
    call, put = cm(a1 - b1 / 4, a2 - b2 / 4), cm(a1 + b1 / 4, a2 + b2 / 4)
    assert m.cm_atm_iv[30] == pytest.approx(atm, abs=1e-12)
    assert m.cm_rr25[30] == pytest.approx(call - put, abs=1e-9)
    assert m.cm_bf25[30] == pytest.approx((call + put) / 2 - atm, abs=1e-9)
    assert min(m.by_expiry["atm_iv"]) <= m.cm_atm_iv[30] <= max(m.by_expiry["atm_iv"])
    # on an expiry the constant maturity is that expiry's value
    assert m.cm_atm_iv[10] == pytest.approx(m.by_expiry["atm_iv"][0], abs=1e-12)
    assert m.cm_rr25[10] == pytest.approx(m.by_expiry["rr25"][0], abs=1e-12)
    # no extrapolation
    assert m.cm_atm_iv[7] is None and m.cm_atm_iv[90] is None
    assert m.cm_rr25[90] is None and m.cm_bf25[7] is None
    assert "No constant-maturity ATM IV at [7, 90] days" in m.note
    assert "no extrapolation" in m.note


def test_smile_that_does_not_reach_25_delta_has_no_skew() -> None:
    rows = [
        _opt(strike, kind, 1.0, 0.5)
        for strike in (98.0, 100.0, 102.0)
        for kind in ("call", "put")
    ]
    m = chain_metrics(_frame(rows))
    assert m.by_expiry["atm_iv"][0] == pytest.approx(0.5)
    assert m.by_expiry["rr25"][0] is None and m.by_expiry["bf25"][0] is None
    assert "without 25-delta skew" in m.note


def test_vols_are_backed_out_of_mark_price_when_mark_iv_is_missing() -> None:
    with_iv = _frame(THREE)
    years = 30 / 365
    price_usd = black76_price(
        with_iv["underlying_price"].to_numpy(),
        with_iv["strike"].to_numpy(),
        years,
        with_iv["mark_iv"].to_numpy(),
        (with_iv["option_type"] == "call").to_numpy(),
    )
    no_iv = with_iv.with_columns(
        pl.Series("mark_price", price_usd / with_iv["underlying_price"].to_numpy()),
        pl.lit(None, dtype=pl.Float64).alias("mark_iv"),
    )
    m = chain_metrics(no_iv)
    assert m.total_gex_usd == pytest.approx(
        chain_metrics(with_iv).total_gex_usd, rel=1e-8
    )
    assert "3 vol(s) backed out of mark_price" in m.note


def test_options_without_vol_are_counted_in_the_note() -> None:
    rows = [*THREE, _opt(110.0, "call", 5.0, None)]
    m = chain_metrics(_frame(rows))
    assert m.total_gex_usd == pytest.approx(chain_metrics(_frame(THREE)).total_gex_usd)
    assert "1 option(s) with open interest but no usable vol" in m.note


def test_expired_options_carry_no_gamma_and_no_smile() -> None:
    rows = [
        *THREE,
        _opt(100.0, "call", 80.0, 0.5, days=0),
        _opt(100.0, "put", 1, 0.5, days=0),
    ]
    m = chain_metrics(_frame(rows))
    assert m.total_gex_usd == pytest.approx(chain_metrics(_frame(THREE)).total_gex_usd)
    expired = m.by_expiry.row(0, named=True)
    assert (expired["days"], expired["atm_iv"], expired["net_gex_usd"]) == (
        0.0,
        None,
        0.0,
    )


# --- series, serialisation, errors -------------------------------------------------
def _three_snapshots() -> tuple[list[pl.DataFrame], pl.DataFrame]:
    snaps = []
    for i, scale in enumerate((1.0, 3.0, 0.5)):
        ts = TS0 + timedelta(hours=i)
        call = pl.col("option_type") == "call"
        otm = (
            pl.when(call).then(pl.col("strike") > 100).otherwise(pl.col("strike") < 100)
        )
        snap = _smile_chain(ts).with_columns(
            pl.col("open_interest")
            * pl.when(otm).then(3.0 + i).otherwise(1.0)
            * scale
            * (1 + pl.col("strike") / 1000),
            pl.lit(99.0 + i).alias("index_price"),
        )
        snaps.append(snap)
    return snaps, pl.concat(snaps)


def _same(a: float | None, b: float | None) -> bool:
    return a is b is None or (a is not None and a == pytest.approx(b, rel=1e-12))


def _assert_series_row(row: dict[str, Any], m: ChainMetrics) -> None:
    assert row["ts"] == m.ts and row["positioning"] == m.positioning
    assert row["note"] == m.note
    scalars = ("spot", "total_gex_usd", "gamma_flip", "call_wall", "put_wall",
               "max_pain", "put_call_oi_ratio")  # fmt: skip
    for name in scalars:
        assert _same(row[name], getattr(m, name)), name
    for days in m.cm_atm_iv:
        assert _same(row[f"atm_iv_{days}d"], m.cm_atm_iv[days])
        assert _same(row[f"rr25_{days}d"], m.cm_rr25[days])
        assert _same(row[f"bf25_{days}d"], m.cm_bf25[days])


def test_series_equals_metrics_per_snapshot() -> None:
    snaps, chains = _three_snapshots()
    spec = ChainSpec(cm_days=(7, 10, 30))
    shuffled = chains.sample(fraction=1.0, shuffle=True, seed=3)
    series = chain_series(shuffled, spec=spec)
    assert series.height == 3 and series["ts"].is_sorted()
    assert series["gamma_flip"].null_count() == 0
    assert series.columns[:9] == [
        "ts", "spot", "positioning", "total_gex_usd", "gamma_flip", "call_wall",
        "put_wall", "max_pain", "put_call_oi_ratio",
    ]  # fmt: skip
    for row, snap in zip(series.iter_rows(named=True), snaps, strict=True):
        _assert_series_row(row, chain_metrics(snap, spec=spec))
    # a later snapshot never changes an earlier row
    earlier = chain_series(pl.concat(snaps[:2]), spec=spec)
    assert_frame_equal(earlier, series.head(2), rel_tol=1e-12, abs_tol=0.0)


def test_to_dict_is_json_ready() -> None:
    m = chain_metrics(_smile_chain())
    data = json.loads(json.dumps(m.to_dict()))
    assert data["ts"] == "2024-01-01T08:00:00+00:00"
    assert data["positioning"] == "dealer_long_calls_short_puts"
    assert data["by_expiry"][0]["expiry"].startswith("2024-01-11T08:00:00")
    assert data["cm_atm_iv"]["30"] == pytest.approx(m.cm_atm_iv[30])
    assert len(data["by_strike"]) == m.by_strike.height
    assert "estimate" in data["note"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"positioning": "dealer_long_puts"}, "positioning must be one of"),
        ({"grid_span": 0.0}, "grid_span must lie in"),
        ({"grid_span": 1.5}, "grid_span must lie in"),
        ({"grid_points": 2}, "grid_points must be >= 3"),
        ({"cm_days": (30, 0)}, "cm_days must be distinct positive"),
        ({"cm_days": (30, 30)}, "cm_days must be distinct positive"),
        ({"wall_basis": "volume"}, "wall_basis must be"),
    ],
)
def test_spec_rejects_bad_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ChainSpec(**kwargs)


def test_bad_chains_are_refused() -> None:
    chain = _frame(THREE)
    with pytest.raises(SchemaError, match=r"missing columns \['open_interest'\]"):
        chain_metrics(chain.drop("open_interest"))
    with pytest.raises(SchemaError, match=r"mark_iv \(or mark_price\)"):
        chain_series(chain.drop("mark_iv", "mark_price"))
    with pytest.raises(SchemaError, match=r"'call' or 'put', got \['C'\]"):
        chain_metrics(chain.with_columns(pl.lit("C").alias("option_type")))
    with pytest.raises(InsufficientDataError, match="holds no rows"):
        chain_metrics(chain.clear())
    with pytest.raises(InsufficientDataError, match="hold no rows"):
        chain_series(chain.clear())
    two = pl.concat([chain, chain.with_columns(pl.col("ts") + timedelta(hours=1))])
    with pytest.raises(InsufficientDataError, match="got 2 values of ts"):
        chain_metrics(two)
    with pytest.raises(ConfigError, match="spot must be a positive"):
        chain_metrics(chain, spot=-5.0)
    nothing = chain.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c)
        for c in ("index_price", "underlying_price")
    )
    with pytest.raises(InsufficientDataError, match="no spot for snapshot"):
        chain_metrics(nothing)


def test_chain_with_only_the_needed_columns() -> None:
    minimal = _frame(THREE).select(
        "ts",
        "expiry",
        "strike",
        "option_type",
        "open_interest",
        "mark_iv",
        "underlying_price",
    )
    m = chain_metrics(minimal)
    assert m.spot == 101.0  # no index: the forward of the only expiry
    assert m.total_gex_usd == pytest.approx(
        chain_metrics(_frame(THREE), spot=101.0).total_gex_usd
    )


# --- property: every USD price scaled by c scales the USD outputs by c ----------
@settings(max_examples=30, deadline=None)
@given(
    scale=st.floats(0.01, 1000.0),
    ois=st.lists(st.floats(1.0, 1e4), min_size=6, max_size=6),
    vols=st.lists(st.floats(0.2, 1.5), min_size=6, max_size=6),
)
def test_price_scale_equivariance(
    scale: float, ois: list[float], vols: list[float]
) -> None:
    strikes = (80.0, 90.0, 100.0, 100.0, 110.0, 120.0)
    kinds = ("put", "put", "call", "put", "call", "call")
    rows = [
        _opt(k, t, oi, v, fwd=101.0)
        for k, t, oi, v in zip(strikes, kinds, ois, vols, strict=True)
    ]
    base = chain_metrics(_frame(rows))
    scaled_rows = [
        r
        | {
            "strike": r["strike"] * scale,
            "underlying_price": 101.0 * scale,
            "index_price": 100.0 * scale,
        }
        for r in rows
    ]
    scaled = chain_metrics(_frame(scaled_rows))
    # gamma ~ 1/c and spot^2 ~ c^2: GEX ~ c; strikes, flip ~ c; vols unchanged
    assert scaled.total_gex_usd == pytest.approx(base.total_gex_usd * scale, rel=1e-9)
    for name in ("call_wall", "put_wall", "max_pain"):
        assert getattr(scaled, name) == pytest.approx(
            getattr(base, name) * scale, rel=1e-12
        )
    if base.gamma_flip is None:
        assert scaled.gamma_flip is None
    else:
        assert scaled.gamma_flip == pytest.approx(base.gamma_flip * scale, rel=1e-9)
    assert scaled.by_expiry["atm_iv"][0] == pytest.approx(
        base.by_expiry["atm_iv"][0], rel=1e-12
    )
    assert scaled.put_call_oi_ratio == pytest.approx(base.put_call_oi_ratio, rel=1e-12)


# --- real chains ----------------------------------------------------------------------
SCHEPAL = "deribit_chain_schepal/btc_option_chain_2020-05-{}.csv"


def _real(shared_raw: Path, mappings_dir: Path, relative: str) -> pl.DataFrame:
    rules = load_mapping(mappings_dir / "deribit.toml")
    _, _, parsed = parse_file(
        shared_raw / relative, options=FileOptions(now=NOW), rules=rules
    )
    (series,) = parsed.series
    assert isinstance(series, SeriesFrame)
    return series.frame


@pytest.fixture
def may14(shared_raw: Path, mappings_dir: Path) -> pl.DataFrame:
    return _real(shared_raw, mappings_dir, SCHEPAL.format("14T0541Z"))


def test_real_btc_chain_sanity(may14: pl.DataFrame) -> None:
    m = chain_metrics(may14)
    assert m.spot == pytest.approx(may14["index_price"].median())
    if m.gamma_flip is None:
        assert "No gamma flip" in m.note
    else:
        assert 0.7 * m.spot <= m.gamma_flip <= 1.3 * m.spot
    strikes = set(may14["strike"].to_list())
    assert {m.call_wall, m.put_wall, m.max_pain} <= strikes
    calls = (
        may14.filter(pl.col("option_type") == "call")["open_interest"].to_numpy().sum()
    )
    puts = (
        may14.filter(pl.col("option_type") == "put")["open_interest"].to_numpy().sum()
    )
    assert m.put_call_oi_ratio == pytest.approx(puts / calls)
    oi = m.by_strike.select(pl.sum_horizontal("call_oi", "put_oi").sum()).item()
    assert oi == pytest.approx(96275.9)
    expiries = m.by_expiry.drop_nulls("atm_iv")
    for days, iv in m.cm_atm_iv.items():
        assert iv is not None  # 7, 30 and 90 days lie within 0.1 .. 225 days
        below = expiries.filter(pl.col("days") <= days).tail(1)["atm_iv"][0]
        above = expiries.filter(pl.col("days") >= days).head(1)["atm_iv"][0]
        assert min(below, above) <= iv <= max(below, above)
    assert "estimate" in m.note and "dealer_long_calls_short_puts" in m.note


def test_real_btc_chain_agrees_with_deribit_greeks(may14: pl.DataFrame) -> None:
    m = chain_metrics(may14)
    # the venue's gamma (rounded to 1e-5) gives nearly the same total GEX
    sign = np.where(may14["option_type"] == "call", 1.0, -1.0)
    venue = (
        float((sign * may14["gamma"] * may14["open_interest"]).sum()) * m.spot**2 / 100
    )
    assert m.total_gex_usd == pytest.approx(venue, rel=0.01)
    # 25-delta risk reversal from the venue's deltas, interpolated the same way
    for row in m.by_expiry.iter_rows(named=True):
        sub = may14.filter(pl.col("expiry") == row["expiry"])
        c = sub.filter(pl.col("option_type") == "call").sort("delta")
        p = sub.filter(pl.col("option_type") == "put").sort("delta")
        ivc = np.interp(0.25, c["delta"].to_numpy(), c["mark_iv"].to_numpy())
        ivp = np.interp(-0.25, p["delta"].to_numpy(), p["mark_iv"].to_numpy())
        assert row["rr25"] == pytest.approx(ivc - ivp, abs=2e-3), row["expiry"]


def test_real_btc_chain_headline_numbers(may14: pl.DataFrame) -> None:
    """Regression pins for 2020-05-14 05:41 UTC (checked against the venue's greeks)."""
    m = chain_metrics(may14)
    assert m.spot == pytest.approx(9348.52)
    assert m.total_gex_usd == pytest.approx(3.700e6, rel=1e-3)
    assert m.gamma_flip == pytest.approx(8564, abs=1)
    assert (m.call_wall, m.put_wall, m.max_pain) == (9500.0, 9000.0, 8500.0)
    assert m.put_call_oi_ratio == pytest.approx(0.8251, abs=1e-4)
    assert m.cm_atm_iv[30] == pytest.approx(0.826, abs=1e-3)
    assert m.cm_rr25[30] == pytest.approx(-0.0675, abs=1e-3)
    short = chain_metrics(may14, spec=ChainSpec(positioning="dealer_short_all"))
    long = chain_metrics(may14, spec=ChainSpec(positioning="dealer_long_all"))
    assert short.total_gex_usd == pytest.approx(-long.total_gex_usd)
    assert short.gamma_flip is None and "stays negative" in short.note


def test_real_btc_series_of_both_snapshots(
    may14: pl.DataFrame, shared_raw: Path, mappings_dir: Path
) -> None:
    may21 = _real(shared_raw, mappings_dir, SCHEPAL.format("21T2319Z"))
    series = chain_series(pl.concat([may21, may14]))
    assert series["ts"].to_list() == [may14["ts"][0], may21["ts"][0]]
    for row, snap in zip(series.iter_rows(named=True), (may14, may21), strict=True):
        _assert_series_row(row, chain_metrics(snap))


def test_real_eth_chain_backs_vols_out_of_mark_price(
    shared_raw: Path, mappings_dir: Path
) -> None:
    eth = _real(
        shared_raw,
        mappings_dir,
        "deribit_chain_definer/eth_option_book_summary_2024-01-08T1119Z.csv",
    )
    assert eth["mark_iv"].null_count() == eth.height
    m = chain_metrics(eth)
    assert "backed out of mark_price" in m.note
    ivs = m.by_expiry["atm_iv"]
    assert ivs.null_count() == 0
    assert 0.3 < ivs.to_numpy().min() and ivs.to_numpy().max() < 1.5
    assert m.total_gex_usd != 0.0
