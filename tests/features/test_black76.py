"""Black-76 prices, greeks and implied vol: textbook answers, references, edges."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallylens.exceptions import ConfigError
from rallylens.features import black76
from rallylens.features.black76 import (
    IV_ABOVE_MAX,
    IV_BELOW_INTRINSIC,
    IV_EXPIRED,
    IV_NO_CONVERGENCE,
    IV_NON_POSITIVE,
    IV_OK,
    IV_OUT_OF_BOUNDS,
    IV_REASONS,
    YEAR_DAYS,
    Greeks,
    black76_greeks,
    black76_price,
    coin_to_usd,
    implied_vol,
    usd_to_coin,
    year_fraction,
)


# --- independent scalar reference (math.erf, textbook formulas) ------------------
def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _ref(
    f: float, k: float, t: float, v: float, call: bool, disc: float = 1.0
) -> dict[str, float]:
    """Black-76 price and greeks written out as in Haug (2007), section 1.1.3."""
    s = v * math.sqrt(t)
    d1 = (math.log(f / k) + 0.5 * v * v * t) / s
    d2 = d1 - s
    r = -math.log(disc) / t
    if call:
        price = disc * (f * _cdf(d1) - k * _cdf(d2))
        delta = disc * _cdf(d1)
    else:
        price = disc * (k * _cdf(-d2) - f * _cdf(-d1))
        delta = -disc * _cdf(-d1)
    return {
        "price": price,
        "delta": delta,
        "gamma": disc * _pdf(d1) / (f * s),
        "vega": disc * f * _pdf(d1) * math.sqrt(t),
        "theta": -disc * f * _pdf(d1) * v / (2 * math.sqrt(t)) + r * price,
    }


def _scalar(a: np.ndarray) -> float:
    return float(np.asarray(a))


# --- the private erfc -------------------------------------------------------------
def test_erfc_matches_math_erf_on_a_dense_grid() -> None:
    x = np.linspace(-9.0, 9.0, 180_001)
    ours = black76._erfc(x)
    erf_ref = np.array([math.erf(v) for v in x])
    erfc_ref = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs((1.0 - ours) - erf_ref)) <= 1e-14
    assert np.max(np.abs(ours - erfc_ref) / erfc_ref) <= 1e-14


def test_erfc_keeps_relative_accuracy_in_the_far_tail() -> None:
    x = np.linspace(4.0, 26.5, 20_001)
    ours = black76._erfc(x)
    ref = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs(ours - ref) / ref) <= 1e-13
    assert np.all(black76._erfc(np.array([27.5, 40.0, 1e6, np.inf])) == 0.0)
    assert np.all(black76._erfc(np.array([-40.0, -np.inf])) == 2.0)
    assert np.isnan(black76._erfc(np.array([np.nan]))).all()


def test_normal_cdf_tails_are_accurate() -> None:
    x = np.array([-37.0, -20.0, -8.0, -1.0, 0.0, 1.0, 8.0])
    ours = black76._norm_cdf(x)
    ref = np.array([_cdf(v) for v in x])
    # x / sqrt(2) is rounded before erfc: relative error ~ x^2 * 1.1e-16 at most
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


# --- textbook known answers -------------------------------------------------------
def test_hull_example_15_6_black_scholes_via_the_forward() -> None:
    """Hull, Options, Futures and Other Derivatives, 8th ed., Example 15.6.

    S=42, K=40, r=10%, sigma=20%, T=0.5: c = 4.76, p = 0.81 (as printed).
    """
    disc = math.exp(-0.1 * 0.5)
    fwd = 42.0 / disc
    call, put = black76_price(fwd, 40.0, 0.5, 0.2, [True, False], discount=disc)
    assert round(float(call), 2) == 4.76
    assert round(float(put), 2) == 0.81


def test_hull_black_model_futures_put() -> None:
    """Hull, OFOD, 8th ed., ch. "Futures Options": Black's model, crude-oil put.

    F0=20, K=20, r=9%, sigma=25%, T=4 months: p = 1.12 (as printed).
    """
    disc = math.exp(-0.09 * 4 / 12)
    put = black76_price(20.0, 20.0, 4 / 12, 0.25, False, discount=disc)
    assert round(_scalar(put), 2) == 1.12


def test_haug_black76_put() -> None:
    """Haug, The Complete Guide to Option Pricing Formulas, 2nd ed., ch. 1, Black-76.

    Black-76: F=19, K=19, T=0.75, r=10%, sigma=28%: put = 1.7011.
    """
    disc = math.exp(-0.1 * 0.75)
    put = black76_price(19.0, 19.0, 0.75, 0.28, False, discount=disc)
    assert round(_scalar(put), 4) == 1.7011


def test_haug_futures_option_delta() -> None:
    """Haug, 2nd ed., ch. 2 "Black-Scholes-Merton Greeks": futures-option delta.

    F=105, K=100, T=0.5, r=10%, sigma=36%: call delta 0.5946, put delta -0.3566.
    """
    greeks = black76_greeks(
        105.0, 100.0, 0.5, 0.36, [True, False], discount=math.exp(-0.05)
    )
    assert np.round(greeks.delta, 4).tolist() == [0.5946, -0.3566]


def test_haug_gamma_on_a_stock_via_the_forward() -> None:
    """Haug, 2nd ed., ch. 2, gamma example: S=55, K=60, T=0.75, r=b=10%, sigma=30%.

    Printed answer: gamma 0.0278.

    A stock is a forward F = S e^{rT} paid with D = e^{-rT}; dF/dS = e^{rT}, so
    the spot gamma is the forward gamma times e^{2rT}.
    """
    disc = math.exp(-0.1 * 0.75)
    fwd = 55.0 / disc
    gamma_f = black76_greeks(fwd, 60.0, 0.75, 0.3, True, discount=disc).gamma
    assert round(_scalar(gamma_f) / disc**2, 4) == 0.0278


def test_hull_greeks_of_the_20_week_stock_call() -> None:
    """Hull, OFOD, 8th ed., ch. "The Greek Letters": the bank's 20-week stock call.

    S=49, K=50, r=5%, sigma=20%, T=20 weeks (0.3846): delta 0.522,
    gamma 0.066, vega 12.1, theta -4.31 per year (spot delta and theta: the
    forward moves with the stock, so delta_S = delta_F e^{rT} and
    theta_S = theta_F - r F delta_F).
    """
    t, r = 0.3846, 0.05
    disc = math.exp(-r * t)
    fwd = 49.0 / disc
    g = black76_greeks(fwd, 50.0, t, 0.2, True, discount=disc)
    assert round(_scalar(g.delta) / disc, 3) == 0.522
    assert round(_scalar(g.gamma) / disc**2, 3) == 0.066
    assert round(_scalar(g.vega), 1) == 12.1
    assert round(_scalar(g.theta) - r * fwd * _scalar(g.delta), 2) == -4.31


# --- against the independent reference --------------------------------------------
FORWARDS = [100.0]
STRIKES = [30.0, 60.0, 90.0, 100.0, 110.0, 150.0, 300.0]
YEARS = [1 / 8760, 1 / 365, 0.1, 0.5, 2.0]
VOLS = [0.05, 0.3, 0.8, 1.5, 3.0]
DISCOUNTS = [1.0, math.exp(-0.05)]


def _reference_grid() -> list[tuple[float, float, float, float, bool, float]]:
    return [
        (f, k, t, v, c, d)
        for f in FORWARDS
        for k in STRIKES
        for t in YEARS
        for v in VOLS
        for c in (True, False)
        for d in DISCOUNTS
    ]


def test_price_and_greeks_match_the_reference_to_1e8() -> None:
    grid = _reference_grid()
    f, k, t, v, c, d = (np.array(col) for col in zip(*grid, strict=True))
    price = black76_price(f, k, t, v, c, discount=d)
    greeks = black76_greeks(f, k, t, v, c, discount=d)
    ours = {
        "price": price,
        "delta": greeks.delta,
        "gamma": greeks.gamma,
        "vega": greeks.vega,
        "theta": greeks.theta,
    }
    for i, args in enumerate(grid):
        ref = _ref(*args)
        for name, value in ref.items():
            assert ours[name][i] == pytest.approx(value, rel=1e-8, abs=1e-8), (
                name,
                args,
            )


@pytest.mark.parametrize("strike", [60.0, 95.0, 100.0, 105.0, 160.0])
@pytest.mark.parametrize("call", [True, False])
def test_greeks_are_derivatives_of_the_price(strike: float, call: bool) -> None:
    """Central finite differences of the reference price (independent of our code)."""
    f, t, v, d = 100.0, 0.25, 0.6, math.exp(-0.02)

    def px(ff: float = f, tt: float = t, vv: float = v) -> float:
        dd = d ** (tt / t)  # the rate, not the factor, is held fixed over time
        return _ref(ff, strike, tt, vv, call, dd)["price"]

    g = black76_greeks(f, strike, t, v, call, discount=d)
    h = 1e-3
    assert _scalar(g.delta) == pytest.approx(
        (px(ff=f + h) - px(ff=f - h)) / (2 * h), abs=1e-8
    )
    hg = 1e-2
    gamma_fd = (px(ff=f + hg) - 2 * px() + px(ff=f - hg)) / hg**2
    assert _scalar(g.gamma) == pytest.approx(gamma_fd, rel=1e-6, abs=1e-9)
    assert _scalar(g.vega) == pytest.approx(
        (px(vv=v + 1e-5) - px(vv=v - 1e-5)) / 2e-5, rel=1e-7
    )
    ht = 1e-6
    theta_fd = -(px(tt=t + ht) - px(tt=t - ht)) / (2 * ht)
    assert _scalar(g.theta) == pytest.approx(theta_fd, rel=1e-6)


def test_put_call_parity_holds_to_1e12() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    f = rng.uniform(100.0, 100_000.0, n)
    k = f * np.exp(rng.uniform(-2.0, 2.0, n))
    t = rng.uniform(0.0, 3.0, n)
    v = rng.uniform(0.0, 4.0, n)
    d = np.exp(-rng.uniform(0.0, 0.1, n) * t)
    call = black76_price(f, k, t, v, True, discount=d)
    put = black76_price(f, k, t, v, False, discount=d)
    scale = np.maximum(f, k)
    assert np.max(np.abs(call - put - d * (f - k)) / scale) <= 1e-12
    g_call = black76_greeks(f, k, t, v, True, discount=d)
    g_put = black76_greeks(f, k, t, v, False, discount=d)
    assert np.max(np.abs(g_call.delta - g_put.delta - d)) <= 1e-12
    np.testing.assert_array_equal(g_call.gamma, g_put.gamma)
    np.testing.assert_array_equal(g_call.vega, g_put.vega)


@settings(max_examples=200, deadline=None)
@given(
    k_over_f=st.floats(0.2, 5.0),
    years=st.floats(1e-4, 3.0),
    vol=st.floats(0.01, 4.0),
    call=st.booleans(),
)
def test_price_is_bounded_and_increasing_in_vol(
    k_over_f: float, years: float, vol: float, call: bool
) -> None:
    f = 50_000.0
    k = f * k_over_f
    p = black76_price(f, k, years, [vol, vol * 1.01], call)
    intrinsic = max(f - k, 0.0) if call else max(k - f, 0.0)
    cap = f if call else k
    assert intrinsic - 1e-9 * f <= p[0] <= p[1] <= cap


# --- edges: expiry, zero vol, extremes, invalid inputs ----------------------------
def test_expired_and_zero_vol_give_intrinsic_and_limit_greeks() -> None:
    f = 100.0
    k = np.array([90.0, 100.0, 110.0])
    for years, vol in [(0.0, 0.5), (0.5, 0.0)]:
        disc = 1.0 if years == 0.0 else 0.98
        call = black76_price(f, k, years, vol, True, discount=disc)
        put = black76_price(f, k, years, vol, False, discount=disc)
        np.testing.assert_allclose(call, disc * np.array([10.0, 0.0, 0.0]))
        np.testing.assert_allclose(put, disc * np.array([0.0, 0.0, 10.0]))
        gc = black76_greeks(f, k, years, vol, True, discount=disc)
        gp = black76_greeks(f, k, years, vol, False, discount=disc)
        np.testing.assert_allclose(gc.delta, disc * np.array([1.0, 0.5, 0.0]))
        np.testing.assert_allclose(gp.delta, disc * np.array([0.0, -0.5, -1.0]))
        for arr in (gc.gamma, gc.vega, gc.theta, gp.gamma, gp.vega, gp.theta):
            np.testing.assert_array_equal(arr, 0.0)


def test_extreme_moneyness_and_vol_stay_finite() -> None:
    k = np.array([1e-6, 1e-3, 1.0, 1e3, 1e6, 1e9])
    t = np.array([[1e-9], [1e-4], [1.0], [30.0]])
    for vol in (1e-6, 0.5, 50.0):
        for call in (True, False):
            p = black76_price(1.0, k, t, vol, call)
            g = black76_greeks(1.0, k, t, vol, call)
            for arr in (p, g.delta, g.gamma, g.vega, g.theta):
                assert np.all(np.isfinite(arr))
            assert np.all(p >= 0)
            assert np.all(g.gamma >= 0) and np.all(g.vega >= 0)
            assert np.all(np.abs(g.delta) <= 1.0)


def test_invalid_inputs_give_nan_not_errors() -> None:
    f = np.array([100.0, -1.0, 100.0, 100.0, 100.0, np.nan, 100.0])
    k = np.array([100.0, 100.0, 0.0, 100.0, 100.0, 100.0, 100.0])
    t = np.array([1.0, 1.0, 1.0, -0.1, 1.0, 1.0, 1.0])
    v = np.array([0.5, 0.5, 0.5, 0.5, -0.2, 0.5, np.inf])
    p = black76_price(f, k, t, v, True)
    g = black76_greeks(f, k, t, v, True)
    assert np.isfinite(p[0]) and np.isnan(p[1:]).all()
    for arr in (g.delta, g.gamma, g.vega, g.theta):
        assert np.isfinite(arr[0]) and np.isnan(arr[1:]).all()
    assert np.isnan(black76_price(100.0, 100.0, 1.0, 0.5, True, discount=0.0))


def test_broadcasting_and_scalars() -> None:
    p = black76_price(100.0, np.array([[90.0], [110.0]]), [0.5, 1.0, 2.0], 0.4, True)
    assert p.shape == (2, 3)
    g = black76_greeks(100.0, 100.0, 1.0, 0.4, False)
    assert isinstance(g, Greeks)
    assert g.delta.shape == () and g.theta.dtype == np.float64
    assert np.all(np.diff(p, axis=1) > 0)


# --- implied volatility -------------------------------------------------------------
def _iv_grid() -> tuple[np.ndarray, ...]:
    moneyness = np.geomspace(0.3, 3.0, 41)
    vols = np.geomspace(0.05, 3.0, 25)
    years = np.geomspace(1 / 8760, 2.0, 20)
    return tuple(np.meshgrid(moneyness, vols, years, [True, False], indexing="ij"))


def test_implied_vol_round_trips_over_a_wide_grid() -> None:
    m, v, t, c = _iv_grid()
    f = 30_000.0
    k = f * m
    price = black76_price(f, k, t, v, c)
    iv, reason = implied_vol(price, f, k, t, c)
    ok = reason == IV_OK
    # price -> iv -> price is exact to rounding wherever an iv was found
    back = black76_price(f, k, t, iv, c)
    assert np.max(np.abs(back - price)[ok]) <= 1e-13 * f
    # the vol itself comes back wherever vega lets the price carry it
    vega_norm = black76_greeks(f, k, t, v, c).vega / (f * np.sqrt(t))
    for floor, tol in [(1e-4, 1e-10), (1e-2, 1e-12)]:
        sel = vega_norm > floor
        assert ok[sel].all()
        assert np.max(np.abs(iv - v)[sel]) <= tol
    # every failure is a price that no longer carries the vol (time value lost
    # to float rounding: at/below intrinsic, zero, or outside the bracket)
    assert set(np.unique(reason[~ok]).tolist()) <= {
        IV_NON_POSITIVE,
        IV_BELOW_INTRINSIC,
        IV_OUT_OF_BOUNDS,
    }
    assert ok.mean() > 0.55


def test_implied_vol_with_discounting_and_near_the_bounds() -> None:
    disc = math.exp(-0.05)
    vols = np.array([1.0001e-4, 0.01, 1.0, 9.99])
    k = np.array([100.0, 100.0, 105.0, 100.0])
    price = black76_price(100.0, k, 1.0, vols, True, discount=disc)
    iv, reason = implied_vol(price, 100.0, k, 1.0, True, discount=disc)
    assert (reason == IV_OK).all()
    np.testing.assert_allclose(iv, vols, rtol=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    log_m=st.floats(-1.2, 1.2),
    years=st.floats(1 / 8760, 2.0),
    vol=st.floats(0.05, 3.0),
    call=st.booleans(),
)
def test_implied_vol_round_trip_property(
    log_m: float, years: float, vol: float, call: bool
) -> None:
    f = 2_000.0
    k = f * math.exp(log_m)
    price = black76_price(f, k, years, vol, call)
    iv, reason = implied_vol(price, f, k, years, call)
    vega = _scalar(black76_greeks(f, k, years, vol, call).vega)
    if vega > 1e-4 * f * math.sqrt(years):
        assert int(reason) == IV_OK
        assert _scalar(iv) == pytest.approx(vol, rel=1e-9)
    if int(reason) == IV_OK:
        back = _scalar(black76_price(f, k, years, iv, call))
        assert back == pytest.approx(_scalar(price), abs=1e-12 * f)


def test_implied_vol_reason_codes() -> None:
    f, k, t = 100.0, 90.0, 0.5
    cases = [
        (5.0, f, k, t, True, IV_BELOW_INTRINSIC),  # call intrinsic is 10
        (10.0, f, k, t, True, IV_BELOW_INTRINSIC),  # exactly intrinsic
        (100.0, f, k, t, True, IV_ABOVE_MAX),  # a call is worth less than F
        (95.0, f, 95.0, t, False, IV_ABOVE_MAX),  # a put is worth less than K
        (12.0, f, k, 0.0, True, IV_EXPIRED),
        (12.0, f, k, -1.0, True, IV_EXPIRED),
        (0.0, f, 110.0, t, True, IV_NON_POSITIVE),
        (-1.0, f, k, t, True, IV_NON_POSITIVE),
        (12.0, -f, k, t, True, IV_NON_POSITIVE),
        (12.0, f, 0.0, t, True, IV_NON_POSITIVE),
        (np.nan, f, k, t, True, IV_NON_POSITIVE),
        (99.99, f, k, t, True, IV_OUT_OF_BOUNDS),  # needs a vol far above 10
        (1e-9, f, f, t, False, IV_OUT_OF_BOUNDS),  # needs a vol below 1e-4
    ]
    price, fwd, strike, years, call, expected = (
        np.array(col) for col in zip(*cases, strict=True)
    )
    iv, reason = implied_vol(price, fwd, strike, years, call)
    assert reason.dtype == np.int8
    assert reason.tolist() == expected.tolist()
    assert np.isnan(iv).all()
    assert set(IV_REASONS) == {
        IV_OK,
        IV_NON_POSITIVE,
        IV_EXPIRED,
        IV_BELOW_INTRINSIC,
        IV_ABOVE_MAX,
        IV_OUT_OF_BOUNDS,
        IV_NO_CONVERGENCE,
    }
    assert all(IV_REASONS[code] for code in IV_REASONS)


def test_implied_vol_reports_no_convergence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(black76, "_MAX_ITER", 1)
    price = black76_price(100.0, 130.0, 0.5, 0.7, True)
    iv, reason = implied_vol(price, 100.0, 130.0, 0.5, True)
    assert int(reason) == IV_NO_CONVERGENCE and np.isnan(iv)


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (1.0, 0.5), (0.1, np.inf)])
def test_implied_vol_bracket_is_checked(lo: float, hi: float) -> None:
    with pytest.raises(ConfigError, match="vol_lo"):
        implied_vol(1.0, 100.0, 100.0, 1.0, True, vol_lo=lo, vol_hi=hi)


def test_implied_vol_on_empty_input() -> None:
    iv, reason = implied_vol(np.array([]), 100.0, 100.0, 1.0, True)
    assert iv.shape == (0,) and reason.shape == (0,)


# --- conventions ---------------------------------------------------------------------
def test_year_fraction_in_365_day_years_clipped_at_zero() -> None:
    ts = datetime(2020, 5, 14, 5, 41, tzinfo=UTC)
    expiry = datetime(2020, 5, 22, 8, tzinfo=UTC)
    ts_us = int(ts.timestamp() * 1e6)
    ex_us = int(expiry.timestamp() * 1e6)
    years = year_fraction(
        np.array([ts_us, ex_us, ex_us + 1]), np.array([ex_us, ex_us, ex_us])
    )
    expected = (expiry - ts).total_seconds() / (YEAR_DAYS * 86_400)
    assert years.tolist() == [pytest.approx(expected, rel=1e-15), 0.0, 0.0]
    as_dt64 = year_fraction(
        np.array(["2020-05-14T05:41"], dtype="datetime64[m]"),
        np.array(["2020-05-22T08:00"], dtype="datetime64[us]"),
    )
    assert as_dt64.tolist() == [pytest.approx(expected, rel=1e-15)]


def test_coin_and_usd_conversion_round_trip() -> None:
    coin = np.array([0.0401, 0.0057, 2.2])
    under = np.array([9352.58, 9352.41, 9359.92])
    usd = coin_to_usd(coin, under)
    np.testing.assert_allclose(usd, coin * under, rtol=0)
    np.testing.assert_allclose(usd_to_coin(usd, under), coin, rtol=1e-15)
    assert np.isnan(usd_to_coin(1.0, np.array([0.0, -5.0]))).all()


def test_inverse_option_priced_in_coin() -> None:
    """A coin-quoted price is the USD Black-76 price over the underlying."""
    f = 9352.58
    usd = black76_price(f, 9250.0, 8.1 / YEAR_DAYS, 0.7687, False)
    coin = usd_to_coin(usd, f)
    iv, reason = implied_vol(coin_to_usd(coin, f), f, 9250.0, 8.1 / YEAR_DAYS, False)
    assert int(reason) == IV_OK
    assert _scalar(iv) == pytest.approx(0.7687, rel=1e-12)
    assert 0.03 < _scalar(coin) < 0.05
