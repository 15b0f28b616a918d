"""A generated market: hourly prices, flows and positioning driven by regimes.

The path is a fixed sequence of *legs* (an uptrend, froth at the top, a long
decline interrupted by a short squeeze, a base, a spot-led rally, a pullback,
a leveraged rally, a long-liquidation flush and a squeeze in progress at the
end), scaled to the number of days asked for. Each leg has a mood that sets
the drift of price and the behaviour of funding, open interest, liquidations,
spot share, taker flows, the perp premium and implied volatility; the noise
comes from a seeded generator, so one seed always gives the same market.

Pure numpy, no I/O: :mod:`rallylens.datasets._synthetic` turns the arrays into
canonical series.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from rallylens.exceptions import ConfigError

__all__ = ["LEGS", "Market", "Mood", "generate_market"]

FloatArray = NDArray[np.float64]

HOURS_PER_DAY: Final = 24


@dataclass(frozen=True)
class Mood:
    """How a leg of the market behaves (per day unless stated).

    Attributes
    ----------
    funding_8h : float
        Mean funding rate per 8-hour settlement (decimal).
    oi_beta : float
        Log change of open interest (base units) per unit of the price drift:
        positive when positions open as price rises (or close as it falls),
        negative when shorts cover into a rise or open into a fall.
    spot_share : float
        Spot's share of base volume.
    spot_buy, perp_buy : float
        Taker-buy share of spot and of perp volume.
    liq_long, liq_short : float
        Liquidation intensity of longs and shorts (multiples of the base rate).
    premium : float
        Mean perp premium over spot (decimal).
    iv : float
        Target implied volatility (decimal, annualised).
    volume : float
        Volume multiple of the base volume.
    """

    funding_8h: float
    oi_beta: float
    spot_share: float
    spot_buy: float
    perp_buy: float
    liq_long: float
    liq_short: float
    premium: float
    iv: float
    volume: float


MOODS: Final[dict[str, Mood]] = {
    "spot": Mood(0.00008, 0.1, 0.46, 0.56, 0.50, 0.8, 0.8, 3e-4, 0.45, 1.0),
    "froth": Mood(0.00035, 1.5, 0.20, 0.51, 0.55, 1.0, 1.5, 1.5e-3, 0.55, 1.4),
    "bear": Mood(0.00002, -0.3, 0.30, 0.47, 0.47, 2.0, 0.7, 1e-4, 0.65, 1.3),
    "squeeze": Mood(-0.00006, -1.2, 0.22, 0.50, 0.54, 0.7, 5.0, -3e-4, 0.70, 1.6),
    "base": Mood(0.00005, 0.0, 0.32, 0.50, 0.50, 0.8, 0.8, 2e-4, 0.50, 0.8),
    "leverage": Mood(0.00030, 1.4, 0.20, 0.51, 0.56, 0.8, 1.6, 1.2e-3, 0.55, 1.3),
    "flush": Mood(0.00010, 1.6, 0.25, 0.45, 0.43, 6.0, 0.6, -1e-4, 0.80, 1.8),
}
"""The moods legs can have."""

LEGS: Final[tuple[tuple[float, str, float], ...]] = (
    (0.16, "spot", 0.45),
    (0.05, "froth", 0.25),
    (0.09, "bear", -0.45),
    (0.04, "squeeze", 0.22),
    (0.11, "bear", -0.45),
    (0.06, "base", 0.0),
    (0.11, "spot", 0.40),
    (0.05, "bear", -0.15),
    (0.11, "leverage", 0.35),
    (0.08, "flush", -0.30),
    (0.14, "squeeze", 0.30),
)
"""(share of the days, mood, log return of price over the leg), in order; the
shares sum to one."""

_START_PRICE: Final[dict[str, float]] = {"BTC": 30_000.0, "ETH": 2_000.0}
_DEFAULT_PRICE: Final = 100.0
_DAILY_VOL: Final = 0.022
_BASE_VOLUME_USD: Final = 2e8
"""Spot + perp volume per hour at mood volume 1, in USD."""
_BASE_LIQ_USD: Final = 2e5
"""Liquidations per hour and side at intensity 1, in USD."""
_BASE_OI_USD: Final = 8e9


@dataclass(frozen=True)
class Market:
    """Hourly arrays of one generated asset (index ``i`` = hour ``i``).

    Attributes
    ----------
    mood : NDArray
        Mood name of each hour.
    close, perp_close : FloatArray
        Spot and perp close prices (USD).
    wick_up, wick_down : FloatArray
        High over max(open, close) and min(open, close) over low (>= 1).
    spot_volume, perp_volume : FloatArray
        Base volume per hour.
    spot_buy, perp_buy : FloatArray
        Taker-buy share of each venue's volume.
    funding_8h : FloatArray
        Funding rate that would settle at the hour (decimal per 8 h).
    oi_base : FloatArray
        Open interest at the hour's close (base units).
    liq_long_usd, liq_short_usd : FloatArray
        Liquidations in the hour (USD).
    iv : FloatArray
        Implied volatility at the hour's close (decimal, annualised).
    """

    mood: NDArray[np.str_]
    close: FloatArray
    perp_close: FloatArray
    wick_up: FloatArray
    wick_down: FloatArray
    spot_volume: FloatArray
    perp_volume: FloatArray
    spot_buy: FloatArray
    perp_buy: FloatArray
    funding_8h: FloatArray
    oi_base: FloatArray
    liq_long_usd: FloatArray
    liq_short_usd: FloatArray
    iv: FloatArray


def _legs(days: int) -> tuple[NDArray[np.str_], FloatArray]:
    """Mood and price drift (log return) of each hour, the legs scaled to ``days``."""
    edges = np.round(np.cumsum([share for share, _, _ in LEGS]) * days).astype(int)
    edges[-1] = days
    day_mood = np.empty(days, dtype="<U8")
    day_drift = np.zeros(days)
    start = 0
    for (_, name, leg_return), stop in zip(LEGS, edges, strict=True):
        day_mood[start:stop] = name
        day_drift[start:stop] = leg_return / max(stop - start, 1) / HOURS_PER_DAY
        start = stop
    hourly = np.repeat(day_drift, HOURS_PER_DAY)
    return np.repeat(day_mood, HOURS_PER_DAY), _ease(hourly)


def _ease(raw: FloatArray) -> FloatArray:
    """Trailing one-day mean, so leg changes take a day to pass through."""
    kernel = np.ones(HOURS_PER_DAY) / HOURS_PER_DAY
    padded = np.concatenate([np.full(HOURS_PER_DAY - 1, raw[0]), raw])
    out: FloatArray = np.convolve(padded, kernel, mode="valid")
    return out


def _param(moods: NDArray[np.str_], name: str) -> FloatArray:
    """One :class:`Mood` attribute per hour, eased at each leg change."""
    table = {m: float(getattr(mood, name)) for m, mood in MOODS.items()}
    return _ease(np.array([table[str(m)] for m in moods]))


def _ar1(rng: np.random.Generator, n: int, phi: float, scale: float) -> FloatArray:
    """Stationary AR(1) noise with persistence ``phi`` and stationary sd ``scale``."""
    shocks = rng.standard_normal(n) * scale * np.sqrt(1 - phi**2)
    out = np.empty(n)
    level = rng.standard_normal() * scale
    for i in range(n):
        level = phi * level + shocks[i]
        out[i] = level
    return out


def _prices(
    rng: np.random.Generator, drift: FloatArray, start: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Spot closes (fat-tailed shocks around the legs' drift) and the wicks."""
    n = drift.size
    sigma = _DAILY_VOL / np.sqrt(HOURS_PER_DAY)
    scale = rng.choice([0.6, 1.0, 1.8], size=n, p=[0.3, 0.5, 0.2])
    returns = drift + sigma * scale * rng.standard_normal(n)
    close = start * np.exp(np.cumsum(returns))
    wicks = np.exp(np.abs(rng.normal(0.0, sigma / 2, (2, n))))
    return close, wicks[0], wicks[1]


def _flows(
    rng: np.random.Generator, moods: NDArray[np.str_], close: FloatArray
) -> dict[str, FloatArray]:
    """Volumes and taker-buy shares of spot and perp."""
    n = moods.size
    usd = _BASE_VOLUME_USD * _param(moods, "volume") * rng.lognormal(0, 0.35, n)
    share = np.clip(_param(moods, "spot_share") + _ar1(rng, n, 0.97, 0.04), 0.05, 0.9)
    base = usd / close
    return {
        "spot_volume": base * share,
        "perp_volume": base * (1 - share),
        "spot_buy": np.clip(_param(moods, "spot_buy") + rng.normal(0, 0.02, n), 0, 1),
        "perp_buy": np.clip(_param(moods, "perp_buy") + rng.normal(0, 0.02, n), 0, 1),
    }


def _positioning(
    rng: np.random.Generator,
    moods: NDArray[np.str_],
    drift: FloatArray,
    close: FloatArray,
) -> dict[str, FloatArray]:
    """Funding, open interest, liquidations, premium and implied volatility."""
    n = moods.size
    returns = np.diff(np.log(close), prepend=np.log(close[0]))
    oi_steps = _param(moods, "oi_beta") * drift + rng.normal(0, 0.002, n)
    oi_base = _BASE_OI_USD / close[0] * np.exp(np.cumsum(oi_steps))
    move = np.abs(returns) / (_DAILY_VOL / np.sqrt(HOURS_PER_DAY))
    liq = _BASE_LIQ_USD * rng.lognormal(0, 0.8, (2, n))
    down, up = (returns < 0) * move, (returns > 0) * move
    iv = _param(moods, "iv") * np.exp(_ar1(rng, n, 0.995, 0.08))
    premium = _param(moods, "premium") + _ar1(rng, n, 0.9, 2e-4)
    return {
        "funding_8h": _param(moods, "funding_8h") + _ar1(rng, n, 0.98, 3e-5),
        "oi_base": oi_base,
        "liq_long_usd": liq[0] * _param(moods, "liq_long") * (1 + down**2),
        "liq_short_usd": liq[1] * _param(moods, "liq_short") * (1 + up**2),
        "perp_close": close * (1 + premium),
        "iv": iv,
    }


def generate_market(asset: str, *, days: int, seed: int) -> Market:
    """Generate ``days`` days of hourly data for ``asset``.

    Parameters
    ----------
    asset : str
        Base asset; ``BTC`` starts near 30,000 USD, ``ETH`` near 2,000 and any
        other near 100. It also seeds the noise, so assets differ.
    days : int
        Length of the market in days (at least 30).
    seed : int
        Seed of the noise; the same ``(asset, days, seed)`` gives the same
        arrays.

    Returns
    -------
    Market
        Hourly arrays following :data:`LEGS`.

    Raises
    ------
    ConfigError
        If ``days`` is below 30.
    """
    if days < 30:
        raise ConfigError(f"days must be at least 30 to hold every leg, got {days}")
    rng = np.random.default_rng([seed, zlib.crc32(asset.encode())])
    moods, drift = _legs(days)
    start = _START_PRICE.get(asset, _DEFAULT_PRICE) * rng.uniform(0.9, 1.1)
    close, wick_up, wick_down = _prices(rng, drift, start)
    return Market(
        mood=moods,
        close=close,
        wick_up=wick_up,
        wick_down=wick_down,
        **_flows(rng, moods, close),
        **_positioning(rng, moods, drift, close),
    )
