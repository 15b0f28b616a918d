"""Black-76 implied-vol solver: reason codes, input screen, bracketed Newton.

The public entry point is :func:`rallylens.features.black76.implied_vol`, which
validates the bracket, broadcasts the inputs and calls :func:`screen_iv_inputs`,
:func:`normalised_otm` and :func:`solve_stdev`. The reason codes are re-exported
there. Pure, vectorised NumPy.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from rallylens.features._normal import norm_cdf, norm_pdf

FloatArray = NDArray[np.float64]

IV_OK: Final = 0
IV_NON_POSITIVE: Final = 1
IV_EXPIRED: Final = 2
IV_BELOW_INTRINSIC: Final = 3
IV_ABOVE_MAX: Final = 4
IV_OUT_OF_BOUNDS: Final = 5
IV_NO_CONVERGENCE: Final = 6
IV_REASONS: Final[dict[int, str]] = {
    IV_OK: "ok",
    IV_NON_POSITIVE: "non-positive or non-finite price, forward, strike or discount",
    IV_EXPIRED: "expired: no time left to expiry",
    IV_BELOW_INTRINSIC: "price at or below the discounted intrinsic value",
    IV_ABOVE_MAX: "price at or above the no-arbitrage maximum (D*F call, D*K put)",
    IV_OUT_OF_BOUNDS: "implied vol outside [vol_lo, vol_hi]",
    IV_NO_CONVERGENCE: "solver did not converge",
}

_REL_TOL: Final = 1e-14  # relative step (or bracket width) at which a row stops


def screen_iv_inputs(
    p: FloatArray,
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    c: NDArray[np.bool_],
    d: FloatArray,
) -> tuple[NDArray[np.int8], FloatArray, FloatArray]:
    """Reason codes for impossible inputs, the normalised target and ln(F/K)."""
    reason = np.zeros(p.shape, dtype=np.int8)
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.isfinite(p) & np.isfinite(f) & np.isfinite(k) & np.isfinite(d)
        bad = ~finite | (p <= 0) | (f <= 0) | (k <= 0) | (d <= 0) | np.isnan(t)
        good = ~bad
        fs = np.where(good, f, 1.0)
        ks = np.where(good, k, 1.0)
        undisc = np.where(good, p / np.where(good, d, 1.0), 1.0)
        intrinsic = np.maximum(np.where(c, fs - ks, ks - fs), 0.0)
        cap = np.where(c, fs, ks)
        time_value = undisc - intrinsic
        logm = np.log(fs / ks)
        beta = time_value / np.sqrt(fs * ks)
    reason[bad] = IV_NON_POSITIVE
    reason[good & (t <= 0)] = IV_EXPIRED
    live = reason == IV_OK
    reason[live & (time_value <= 0)] = IV_BELOW_INTRINSIC
    live = reason == IV_OK
    reason[live & (undisc >= cap)] = IV_ABOVE_MAX
    return reason, beta, logm


def normalised_otm(logm: FloatArray, stdev: FloatArray) -> FloatArray:
    """Normalised out-of-the-money price b(x, s) = price / sqrt(F K)."""
    ax = np.abs(logm)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        d1 = -ax / stdev + 0.5 * stdev
        out: FloatArray = np.exp(-0.5 * ax) * norm_cdf(d1) - np.exp(
            0.5 * ax
        ) * norm_cdf(d1 - stdev)
    return np.maximum(out, 0.0)


def _normalised_vega(logm: FloatArray, stdev: FloatArray) -> FloatArray:
    """db/ds = e^{-|x|/2} n(d1) with d1 = -|x|/s + s/2."""
    ax = np.abs(logm)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        d1 = -ax / stdev + 0.5 * stdev
        out: FloatArray = np.exp(-0.5 * ax) * norm_pdf(d1)
    return out


def solve_stdev(
    beta: FloatArray,
    logm: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    *,
    max_iter: int,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Bracketed Newton for b(logm, s) = beta on s in (lo, hi), vectorised.

    Stops per row at a relative step of 1e-14; rows still moving after
    ``max_iter`` rounds are reported as not converged.
    """
    lo, hi = lo.copy(), hi.copy()
    s_c = np.sqrt(2.0 * np.abs(logm))
    use_log = beta < normalised_otm(logm, s_c)
    s = np.clip(s_c, lo, hi)
    s = np.where((s <= lo) | (s >= hi), np.sqrt(lo * hi), s)
    converged = np.zeros(beta.shape, dtype=np.bool_)
    active = np.arange(beta.size)
    for _ in range(max_iter):
        if active.size == 0:
            break
        step = _newton_round(beta, logm, lo, hi, s, use_log, active)
        done = step <= _REL_TOL * s[active]
        converged[active[done]] = True
        active = active[~done]
    return s, converged


def _newton_round(
    beta: FloatArray,
    logm: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    s: FloatArray,
    use_log: NDArray[np.bool_],
    idx: NDArray[np.intp],
) -> FloatArray:
    """One safeguarded Newton step on the active rows; updates s, lo, hi in place.

    Returns the absolute size of the step taken (or of the bracket when the
    bracket itself is below tolerance).
    """
    si, bi, xi = s[idx], beta[idx], logm[idx]
    val = normalised_otm(xi, si)
    vega = _normalised_vega(xi, si)
    low_side = val < bi
    lo[idx] = np.where(low_side, si, lo[idx])
    hi[idx] = np.where(low_side, hi[idx], si)
    li, hj = lo[idx], hi[idx]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_step = (np.log(val) - np.log(bi)) * val / vega
        lin_step = (val - bi) / vega
        newton = si - np.where(use_log[idx], log_step, lin_step)
    inside = np.isfinite(newton) & (newton > li) & (newton < hj)
    bisect = np.where(hj > 2.0 * li, np.sqrt(li * hj), 0.5 * (li + hj))
    exact = val == bi
    new = np.where(exact, si, np.where(inside, newton, bisect))
    s[idx] = new
    step = np.abs(new - si)
    width = hj - li
    return np.where(exact | (width <= _REL_TOL * si), 0.0, step)
