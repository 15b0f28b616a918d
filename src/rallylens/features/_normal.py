"""Standard normal CDF and density on a private complementary error function.

NumPy has no ``erf`` and scipy is not a runtime dependency, so the normal CDF
used by :mod:`rallylens.features.black76` is built here on W. J. Cody's
rational Chebyshev approximations of ``erfc`` (relative error ~1e-16, accurate
far into the tails). Pure, vectorised NumPy.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

_INV_SQRT_2PI: Final = 0.39894228040143267794
_INV_SQRT_PI: Final = 0.56418958354775628695
_SQRT1_2: Final = 0.70710678118654752440
# W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969) 631-637; coefficients as in netlib specfun CALERF.
_A: Final = (
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
)
_B: Final = (
    2.36012909523441209e01,
    2.44024637934444173e02,
    1.28261652607737228e03,
    2.84423683343917062e03,
)
_C: Final = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
)
_D: Final = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_P: Final = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_Q: Final = (
    2.56852019228982242e00,
    1.87295284992346725e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)
_THRESH: Final = 0.46875


def _horner(y: FloatArray, lead: float, coefs: tuple[float, ...]) -> FloatArray:
    """``(...((lead*y + c0)*y + c1)*y ... + c_{n-1})*y`` in place (Cody's loops)."""
    acc = lead * y
    for c in coefs:
        acc += c
        acc *= y
    return acc


def _erfc_small(y: FloatArray) -> FloatArray:
    """Cody's erfc on 0 <= y <= 0.46875, via erf."""
    ysq = y * y
    num = _horner(ysq, _A[4], _A[:3])
    den = _horner(ysq, 1.0, _B[:3])
    num += _A[3]
    den += _B[3]
    num *= y
    num /= den
    np.subtract(1.0, num, out=num)
    return num


def _exp_neg_sq(y: FloatArray) -> FloatArray:
    """exp(-y**2) with Cody's split of y**2 to keep full relative accuracy.

    ``y**2 = h**2 + (y - h)(y + h)`` with ``h = trunc(16 y) / 16`` exact in
    binary, so no rounding of ``y**2`` is amplified by the exponential.
    """
    head = np.trunc(y * 16.0)
    head /= 16.0
    rest = (y - head) * (y + head)
    np.negative(rest, out=rest)
    head *= head
    np.negative(head, out=head)
    out: FloatArray = np.exp(head)
    out *= np.exp(rest)
    return out


def _erfc_mid(y: FloatArray) -> FloatArray:
    """Cody's erfc on 0.46875 < y <= 4."""
    num = _horner(y, _C[8], _C[:7])
    den = _horner(y, 1.0, _D[:7])
    num += _C[7]
    den += _D[7]
    num /= den
    num *= _exp_neg_sq(y)
    return num


def _erfc_large(y: FloatArray) -> FloatArray:
    """Cody's erfc on y > 4 (arguments above 40 underflow to zero anyway)."""
    y = np.minimum(y, 40.0)
    inv = 1.0 / (y * y)
    num = _horner(inv, _P[5], _P[:4])
    den = _horner(inv, 1.0, _Q[:4])
    num += _P[4]
    den += _Q[4]
    num /= den
    num *= inv
    np.subtract(_INV_SQRT_PI, num, out=num)
    num /= y
    num *= _exp_neg_sq(y)
    return num


def erfc(x: ArrayLike) -> FloatArray:
    """Complementary error function, vectorised, relative error ~1e-16.

    Notes
    -----
    Cody's three rational approximations on ``|x| <= 0.46875``,
    ``0.46875 < |x| <= 4`` and ``|x| > 4``; ``erfc(-x) = 2 - erfc(x)``.
    NaN propagates.
    """
    xa = np.asarray(x, dtype=np.float64)
    y = np.abs(xa)
    out = np.full(y.shape, np.nan)
    small = y <= _THRESH
    large = y > 4.0
    mid = ~(small | large | np.isnan(y))
    with np.errstate(under="ignore"):
        out[mid] = _erfc_mid(y[mid])
        if small.any():
            out[small] = _erfc_small(y[small])
        if large.any():
            out[large] = _erfc_large(y[large])
    neg = xa < 0
    out[neg] = 2.0 - out[neg]
    return out


def norm_cdf(x: ArrayLike) -> FloatArray:
    """Standard normal CDF, Phi(x) = erfc(-x / sqrt 2) / 2 (accurate in tails)."""
    return 0.5 * erfc(-np.asarray(x, dtype=np.float64) * _SQRT1_2)


def norm_pdf(x: ArrayLike) -> FloatArray:
    """Standard normal density."""
    xa = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore", over="ignore"):
        out: FloatArray = _INV_SQRT_2PI * np.exp(-0.5 * xa * xa)
    return out
