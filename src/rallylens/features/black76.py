"""Black-76 option prices, greeks and implied volatility on the forward.

Pure, vectorised NumPy: every argument broadcasts against the others, nothing
loops over instruments, nothing touches disk, network or clock.

Deribit conventions, handled explicitly by the caller through these helpers:

* option prices are quoted in the coin (inverse options): a USD price is the
  coin price times the underlying (:func:`coin_to_usd`, :func:`usd_to_coin`);
* the underlying of an option is its expiry's futures price (Deribit's
  ``underlying_price``, a forward) or the index for expiries without a future;
  rates are already in the forward, so ``discount=1.0`` is the venue's choice;
* time to expiry runs to the 08:00 UTC expiry in years of 365 days
  (:func:`year_fraction`).

The normal CDF is built on a private high-accuracy complementary error
function (W. J. Cody's rational Chebyshev approximations, in
:mod:`rallylens.features._normal`), because NumPy has no ``erf`` and scipy is
not a runtime dependency. The implied-vol solver behind :func:`implied_vol`
lives in :mod:`rallylens.features._iv`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rallylens.exceptions import ConfigError
from rallylens.features._iv import (
    IV_ABOVE_MAX,
    IV_BELOW_INTRINSIC,
    IV_EXPIRED,
    IV_NO_CONVERGENCE,
    IV_NON_POSITIVE,
    IV_OK,
    IV_OUT_OF_BOUNDS,
    IV_REASONS,
    normalised_otm,
    screen_iv_inputs,
    solve_stdev,
)
from rallylens.features._normal import erfc as _erfc  # noqa: F401 (tests use it)
from rallylens.features._normal import norm_cdf as _norm_cdf
from rallylens.features._normal import norm_pdf as _norm_pdf

__all__ = [
    "IV_ABOVE_MAX",
    "IV_BELOW_INTRINSIC",
    "IV_EXPIRED",
    "IV_NON_POSITIVE",
    "IV_NO_CONVERGENCE",
    "IV_OK",
    "IV_OUT_OF_BOUNDS",
    "IV_REASONS",
    "YEAR_DAYS",
    "Greeks",
    "black76_greeks",
    "black76_price",
    "coin_to_usd",
    "implied_vol",
    "usd_to_coin",
    "year_fraction",
]

FloatArray = NDArray[np.float64]

YEAR_DAYS: Final = 365.0
_US_PER_YEAR: Final = YEAR_DAYS * 86_400.0 * 1e6

# ---------------------------------------------------------------------------
# Conventions
# ---------------------------------------------------------------------------


def year_fraction(ts_us: ArrayLike, expiry_us: ArrayLike) -> FloatArray:
    """Time from ``ts`` to ``expiry`` in years of 365 days; negative -> 0.

    Parameters
    ----------
    ts_us, expiry_us : array_like of int64 or datetime64
        Microseconds since the Unix epoch (UTC), or ``datetime64`` values
        (converted to microseconds). Deribit options expire at 08:00 UTC.

    Returns
    -------
    numpy.ndarray of float64
        ``max(expiry - ts, 0) / (365 * 86400 * 1e6)``.
    """
    start = _as_us(ts_us)
    end = _as_us(expiry_us)
    out: FloatArray = np.maximum(end - start, 0).astype(np.float64) / _US_PER_YEAR
    return out


def _as_us(values: ArrayLike) -> NDArray[np.int64]:
    """Integer microseconds from an int or datetime64 array."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[us]")
    return arr.astype(np.int64)


def coin_to_usd(price_coin: ArrayLike, underlying: ArrayLike) -> FloatArray:
    """USD value of a coin-quoted (inverse) option price.

    Notes
    -----
    ``price_usd = price_coin * underlying``, with ``underlying`` the USD price
    used for the conversion (Deribit: the expiry's forward, ``underlying_price``;
    on the May 2020 BTC chains Deribit's theta cap equals ``mark_price *
    underlying_price`` to the 5 decimals it prints, not the index conversion).
    """
    out: FloatArray = np.asarray(price_coin, dtype=np.float64) * np.asarray(
        underlying, dtype=np.float64
    )
    return out


def usd_to_coin(price_usd: ArrayLike, underlying: ArrayLike) -> FloatArray:
    """Coin-quoted (inverse) price of a USD option price.

    Notes
    -----
    ``price_coin = price_usd / underlying``; a non-positive underlying gives NaN.
    """
    under = np.asarray(underlying, dtype=np.float64)
    safe = np.where(under > 0, under, np.nan)
    out: FloatArray = np.asarray(price_usd, dtype=np.float64) / safe
    return out


# ---------------------------------------------------------------------------
# Pricing
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Terms:
    """Broadcast inputs and the shared intermediate terms of Black-76."""

    forward: FloatArray
    strike: FloatArray
    years: FloatArray
    vol: FloatArray
    is_call: NDArray[np.bool_]
    discount: FloatArray
    valid: NDArray[np.bool_]  # finite, F>0, K>0, T>=0, vol>=0, D>0
    live: NDArray[np.bool_]  # valid and total vol s = vol*sqrt(T) > 0
    # forward, strike, discount are 1 and years, vol 0 where not valid
    stdev: FloatArray  # s, 1 where not live
    d1: FloatArray  # 0 where not live
    d2: FloatArray


def _terms(
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    discount: ArrayLike,
) -> _Terms:
    """Broadcast the inputs, flag invalid ones and compute d1, d2."""
    f, k, t, v, c, d = np.broadcast_arrays(
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(years, dtype=np.float64),
        np.asarray(vol, dtype=np.float64),
        np.asarray(is_call, dtype=np.bool_),
        np.asarray(discount, dtype=np.float64),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        valid = (
            np.isfinite(f)
            & np.isfinite(k)
            & np.isfinite(t)
            & np.isfinite(v)
            & np.isfinite(d)
            & (f > 0)
            & (k > 0)
            & (t >= 0)
            & (v >= 0)
            & (d > 0)
        )
    if not valid.all():  # invalid rows get stand-ins, masked to NaN by the callers
        f, k, d = (np.where(valid, a, 1.0) for a in (f, k, d))
        t, v = np.where(valid, t, 0.0), np.where(valid, v, 0.0)
    stdev = v * np.sqrt(t)
    live = stdev > 0
    s = np.where(live, stdev, 1.0)
    with np.errstate(over="ignore", divide="ignore"):
        logm = np.where(live, np.log(f / k), 0.0)
        d1 = logm / s + 0.5 * s
    return _Terms(f, k, t, v, c, d, valid, live, s, d1, d1 - s)


def black76_price(
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    *,
    discount: ArrayLike = 1.0,
) -> FloatArray:
    """Black-76 price of a European option on a forward, in the forward's currency.

    Parameters
    ----------
    forward : array_like
        Forward (futures) price of the underlying, USD (Deribit ``underlying_price``).
    strike : array_like
        Strike, USD.
    years : array_like
        Time to expiry in years (:func:`year_fraction`); 0 gives the intrinsic.
    vol : array_like
        Implied volatility, decimal annualised (0.6 for 60%); 0 gives the
        discounted intrinsic.
    is_call : array_like of bool
        True for calls, False for puts.
    discount : array_like, default 1.0
        Discount factor ``D = exp(-r T)`` to the premium payment date (1.0 on
        Deribit, whose forward already carries the rate).

    Returns
    -------
    numpy.ndarray of float64
        Price per option on one unit of underlying, in USD. NaN where an input is
        non-finite or ``forward``, ``strike``, ``discount`` <= 0 or ``years``,
        ``vol`` < 0. Divide by the underlying for a coin price
        (:func:`usd_to_coin`).

    Notes
    -----
    With ``s = vol * sqrt(years)``, ``d1 = ln(F/K)/s + s/2``, ``d2 = d1 - s``:

    ``call = D (F N(d1) - K N(d2))``, ``put = D (K N(-d2) - F N(-d1))``.

    The out-of-the-money side is evaluated with the formula (no cancellation
    against a large intrinsic) and the in-the-money side by put-call parity,
    ``call - put = D (F - K)``, which therefore holds to rounding.
    """
    tm = _terms(forward, strike, years, vol, is_call, discount)
    return _mask(tm, _price(tm))


def _otm_price(
    forward: FloatArray,
    strike: FloatArray,
    d1: FloatArray,
    d2: FloatArray,
    live: NDArray[np.bool_],
) -> FloatArray:
    """Undiscounted price of the out-of-the-money option at each strike (0 dead).

    A call when ``F <= K``, a put when ``F > K``: ``w (F N(w d1) - K N(w d2))``
    with ``w = +1`` for the call and ``-1`` for the put.
    """
    w = np.where(forward <= strike, 1.0, -1.0)
    price = w * (forward * _norm_cdf(w * d1) - strike * _norm_cdf(w * d2))
    out: FloatArray = np.where(live, np.maximum(price, 0.0), 0.0)
    return out


def _price(tm: _Terms) -> FloatArray:
    """Discounted price from the terms: OTM by formula, ITM by parity."""
    otm = _otm_price(tm.forward, tm.strike, tm.d1, tm.d2, tm.live)
    itm = np.where(tm.is_call, tm.forward - tm.strike, tm.strike - tm.forward)
    out: FloatArray = tm.discount * (otm + np.maximum(itm, 0.0))
    return out


@dataclass(frozen=True, eq=False)
class Greeks:
    """Black-76 sensitivities of one option on one unit of underlying.

    Attributes
    ----------
    delta : numpy.ndarray
        dPrice/dForward (forward delta, times the discount factor).
    gamma : numpy.ndarray
        d2Price/dForward2, per USD of forward.
    vega : numpy.ndarray
        dPrice/dVol per 1.00 of vol (divide by 100 for per vol point).
    theta : numpy.ndarray
        dPrice/dt per year of calendar time (negative for a long option,
        except deep in-the-money options when the rate is positive).
    """

    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


def black76_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    *,
    discount: ArrayLike = 1.0,
) -> Greeks:
    """Black-76 delta, gamma, vega and theta on the forward.

    Parameters
    ----------
    forward, strike, years, vol, is_call, discount : array_like
        As in :func:`black76_price` (USD, USD, years, decimal vol, bool, factor).

    Returns
    -------
    Greeks
        Arrays broadcast from the inputs, in USD per option on one unit of
        underlying (Deribit contracts are one coin). NaN where an input is
        invalid (see :func:`black76_price`).

    Notes
    -----
    With ``s = vol sqrt(T)``, ``n`` the normal density and ``r = -ln(D)/T``:

    * ``delta = D N(d1)`` (call), ``-D N(-d1)`` (put);
    * ``gamma = D n(d1) / (F s)``;
    * ``vega = D F n(d1) sqrt(T)``;
    * ``theta = -D F n(d1) vol / (2 sqrt T) + r * price``: the change of the
      price as calendar time passes with the rate held fixed (Haug's Black-76
      theta); with ``D = 1`` it is ``-F n(d1) vol / (2 sqrt T)``.

    ``F n(d1) = K n(d2)`` is used to keep these symmetric in moneyness. Where
    ``s = 0`` (expired or zero vol) the limits are used: delta is ``D`` times
    1, 1/2 or 0 as the option is in, at or out of the money (signed for puts),
    gamma, vega and theta are 0 (the at-the-money gamma at expiry, a Dirac
    mass, is reported as 0).
    """
    tm = _terms(forward, strike, years, vol, is_call, discount)
    disc = tm.discount
    pdf = np.where(tm.live, _norm_pdf(tm.d1), 0.0)
    dead_n1 = np.where(
        tm.forward > tm.strike, 1.0, np.where(tm.forward < tm.strike, 0.0, 0.5)
    )
    # N(d1) for calls and N(-d1) for puts, each from its own tail (no 1 - N)
    sign = np.where(tm.is_call, 1.0, -1.0)
    dead = np.where(tm.is_call, dead_n1, 1.0 - dead_n1)
    delta = sign * disc * np.where(tm.live, _norm_cdf(sign * tm.d1), dead)
    gamma = disc * pdf / (tm.forward * tm.stdev)
    sqrt_t = np.sqrt(tm.years)
    vega = disc * tm.forward * pdf * sqrt_t
    theta = _theta(tm, pdf, sqrt_t)
    return Greeks(
        delta=_mask(tm, delta),
        gamma=_mask(tm, gamma),
        vega=_mask(tm, vega),
        theta=_mask(tm, theta),
    )


def _mask(tm: _Terms, values: FloatArray) -> FloatArray:
    """NaN where an input was invalid (a float64 array even for scalar input)."""
    out: FloatArray = np.array(values, dtype=np.float64)
    out[~tm.valid] = np.nan
    return out


def _theta(tm: _Terms, pdf: FloatArray, sqrt_t: FloatArray) -> FloatArray:
    """Calendar theta per year: decay of the vol term plus r * price."""
    safe_sqrt = np.where(tm.live, sqrt_t, 1.0)
    theta: FloatArray = np.array(
        -tm.discount * tm.forward * pdf * tm.vol / (2.0 * safe_sqrt)
    )
    carry = tm.live & (tm.discount != 1.0)
    if carry.any():  # r * price, only where there is a rate (none on Deribit)
        sub = _Terms(*(getattr(tm, f.name)[carry] for f in fields(_Terms)))
        rate = -np.log(sub.discount) / sub.years
        theta[carry] += rate * _price(sub)
    return theta


# ---------------------------------------------------------------------------
# Implied volatility
# ---------------------------------------------------------------------------

_MAX_ITER: Final = 100  # solver iteration cap, read by implied_vol at call time


def implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    is_call: ArrayLike,
    *,
    discount: ArrayLike = 1.0,
    vol_lo: float = 1e-4,
    vol_hi: float = 10.0,
) -> tuple[FloatArray, NDArray[np.int8]]:
    """Black-76 implied volatility from a price, with a reason where there is none.

    Parameters
    ----------
    price : array_like
        Option price in the forward's currency (USD; convert coin-quoted
        prices with :func:`coin_to_usd` first).
    forward, strike, years, is_call, discount : array_like
        As in :func:`black76_price`.
    vol_lo, vol_hi : float, default 1e-4 and 10.0
        Bracket searched for the vol (decimal, annualised).

    Returns
    -------
    iv : numpy.ndarray of float64
        Implied vol (decimal), NaN where ``reason != IV_OK``.
    reason : numpy.ndarray of int8
        ``IV_OK`` (0) or one of the codes described in :data:`IV_REASONS`:
        non-positive input, expired, at/below intrinsic, at/above the maximum,
        outside ``[vol_lo, vol_hi]``, no convergence.

    Raises
    ------
    ConfigError
        If ``0 < vol_lo < vol_hi`` does not hold.

    Notes
    -----
    The time value ``p/D - max(w (F-K), 0)`` equals, by put-call parity, the
    price of the out-of-the-money option at the same strike; with
    ``x = ln(F/K)`` and ``s = vol sqrt(T)`` its normalised value is

    ``b(s) = e^{-|x|/2} N(-|x|/s + s/2) - e^{|x|/2} N(-|x|/s - s/2)``,

    increasing in ``s`` from 0 to ``e^{-|x|/2}`` with
    ``db/ds = e^{-|x|/2} n(d1) = n(x/s) e^{-s^2/8}``. The
    solver is a bracketed Newton iteration on ``s`` within
    ``[vol_lo sqrt T, vol_hi sqrt T]``: on ``ln b`` below the inflection
    point ``s_c = sqrt(2|x|)`` (where ``b`` is exponentially flat) and on
    ``b`` above it, started at ``s_c`` (Manaster-Koehler), falling back to
    (geometric) bisection whenever a step leaves the bracket. It stops at a
    relative step of 1e-14 or after 100 iterations.
    """
    if not (0.0 < vol_lo < vol_hi) or not np.isfinite(vol_hi):
        raise ConfigError(
            f"implied_vol needs 0 < vol_lo < vol_hi, got vol_lo={vol_lo}, "
            f"vol_hi={vol_hi}; pass a bracket such as vol_lo=1e-4, vol_hi=10.0"
        )
    p, f, k, t, c, d = np.broadcast_arrays(
        np.asarray(price, dtype=np.float64),
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(years, dtype=np.float64),
        np.asarray(is_call, dtype=np.bool_),
        np.asarray(discount, dtype=np.float64),
    )
    reason, beta, logm = screen_iv_inputs(p, f, k, t, c, d)
    sqrt_t = np.sqrt(np.where(reason == IV_OK, t, 1.0))
    s_lo, s_hi = vol_lo * sqrt_t, vol_hi * sqrt_t
    ok = reason == IV_OK
    b_lo = normalised_otm(logm, s_lo)
    b_hi = normalised_otm(logm, s_hi)
    reason[ok & ((beta <= b_lo) | (beta >= b_hi))] = IV_OUT_OF_BOUNDS
    ok = reason == IV_OK
    stdev, converged = solve_stdev(
        beta[ok], logm[ok], s_lo[ok], s_hi[ok], max_iter=_MAX_ITER
    )
    iv = np.full(p.shape, np.nan)
    iv[ok] = stdev / sqrt_t[ok]
    sub = reason[ok]
    sub[~converged] = IV_NO_CONVERGENCE
    reason[ok] = sub
    iv[reason != IV_OK] = np.nan
    return iv, reason
