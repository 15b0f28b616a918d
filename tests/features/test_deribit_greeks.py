"""Our Black-76 greeks against Deribit's own, on two full real BTC chains (May 2020).

Data: ../shared/data/raw/deribit_chain_schepal (PROVENANCE.md section 10): one
``public/get_order_book`` response per live BTC option, polled one after the
other over ~2.5 minutes, with Deribit's ``greeks``. Inputs as Deribit publishes
them: forward = ``underlying_price`` (USD, 2 decimals), vol = ``mark_iv`` (% with
2 decimals), r = 0, time from the instrument's response ``timestamp``
(``quote_ts``) to the 08:00 UTC expiry in 365-day years.

What the comparison shows (run with ``-s`` for the figures):

* gamma agrees on every instrument within the published rounding (5 decimals,
  +-5e-6) once the rounding of the inputs is propagated (mark_iv +-0.005 vol
  points, underlying +-0.005 USD);
* delta and vega agree the same way on ~75-92% of the instruments; the rest are
  options within a few days of expiry (and the at-the-money vegas, which scale
  with sqrt(T)), and each of them agrees once the time of Deribit's computation
  is allowed to differ from the reported ``timestamp`` by up to 30 s: for all
  but 2 of the 636 instruments a single clock offset of at most 30 s (median 0 s)
  brings delta, gamma and vega within rounding together. The 2 others are the
  14MAY20-9375 call and put, at the money 2.3 hours before expiry, where gamma
  (0.0028 per USD) turns a 10-cent move of the synthetic forward between
  Deribit's computation and its published ``underlying_price`` into 2.8e-4 of
  delta; they agree within the 30 s clock allowance taken greek by greek;
* Deribit's ``theta`` (USD per day) is our calendar theta / 365 for options with
  more than a day left; inside the last day it is that rate times the time left,
  and never more than the option's whole published price:
  ``-min(|theta| / 365 * min(T_days, 1), mark_price * underlying_price)`` (USD;
  the cap matches Deribit's coin mark price converted at the underlying, which
  confirms that conversion of the inverse quote).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rallylens.features.black76 import (
    YEAR_DAYS,
    black76_greeks,
    coin_to_usd,
    year_fraction,
)
from rallylens.schemas import (
    DELTA,
    EXPIRY,
    GAMMA,
    INSTRUMENT,
    MARK_IV,
    MARK_PRICE,
    OPTION_TYPE,
    QUOTE_TS,
    STRIKE,
    THETA,
    TS,
    UNDERLYING_PRICE,
    VEGA,
)
from rallylens.sources import FileOptions, load_mapping, parse_file
from tests.conftest import MAPPINGS, NOW, SHARED_RAW

CHAINS = {
    "2020-05-14": "deribit_chain_schepal/btc_option_chain_2020-05-14T0541Z.csv",
    "2020-05-21": "deribit_chain_schepal/btc_option_chain_2020-05-21T2319Z.csv",
}
GREEK_HALF_UNIT = 5e-6  # greeks published with 5 decimals
IV_HALF_UNIT = 5e-5  # mark_iv published in % with 2 decimals
UNDERLYING_HALF_UNIT = 0.005  # USD, 2 decimals
CLOCK_S = 30.0  # Deribit's computation instant vs the response timestamp
TINY = 1e-12
US_PER_S = 1_000_000
# ATM 2.3 h before expiry: the forward itself moved between computation and print
FORWARD_DESYNC = {"BTC-14MAY20-9375-C", "BTC-14MAY20-9375-P"}


@dataclass(frozen=True)
class Chain:
    snapshot: str
    instrument: list[str]
    ts_us: np.ndarray
    expiry_us: np.ndarray
    forward: np.ndarray
    strike: np.ndarray
    vol: np.ndarray
    is_call: np.ndarray
    mark_usd: np.ndarray
    published: dict[str, np.ndarray]

    def ours(
        self, *, shift_s: float = 0.0, d_vol: float = 0.0, d_fwd: float = 0.0
    ) -> dict[str, np.ndarray]:
        ts = self.ts_us + np.int64(round(shift_s * US_PER_S))
        g = black76_greeks(
            self.forward + d_fwd,
            self.strike,
            year_fraction(ts, self.expiry_us),
            self.vol + d_vol,
            self.is_call,
        )
        return {DELTA: g.delta, GAMMA: g.gamma, VEGA: g.vega / 100.0}

    def days(self) -> np.ndarray:
        return year_fraction(self.ts_us, self.expiry_us) * YEAR_DAYS


def _load(shared_raw: Path, mappings_dir: Path, snapshot: str) -> Chain:
    rules = load_mapping(mappings_dir / "deribit.toml")
    _, _, parsed = parse_file(
        shared_raw / CHAINS[snapshot], options=FileOptions(now=NOW), rules=rules
    )
    (series,) = parsed.series
    frame = series.frame.with_columns(pl.coalesce(QUOTE_TS, TS).alias(QUOTE_TS))
    return Chain(
        snapshot=snapshot,
        instrument=frame[INSTRUMENT].to_list(),
        ts_us=frame[QUOTE_TS].dt.epoch("us").to_numpy(),
        expiry_us=frame[EXPIRY].dt.epoch("us").to_numpy(),
        forward=frame[UNDERLYING_PRICE].to_numpy(),
        strike=frame[STRIKE].to_numpy(),
        vol=frame[MARK_IV].to_numpy(),
        is_call=(frame[OPTION_TYPE] == "call").to_numpy(),
        mark_usd=coin_to_usd(frame[MARK_PRICE].to_numpy(), frame[UNDERLYING_PRICE]),
        published={g: frame[g].to_numpy() for g in (DELTA, GAMMA, VEGA, THETA)},
    )


@pytest.fixture(params=sorted(CHAINS), scope="module")
def chain(request: pytest.FixtureRequest) -> Chain:
    if not SHARED_RAW.is_dir():
        pytest.skip("../shared/data/raw is not present on this machine")
    return _load(SHARED_RAW, MAPPINGS, request.param)


def _spread(
    base: dict[str, np.ndarray], moved: list[dict[str, np.ndarray]], name: str
) -> np.ndarray:
    """Largest change of a greek over a set of perturbed inputs."""
    return np.max([np.abs(m[name] - base[name]) for m in moved], axis=0)


def _rounding_tol(
    ours: Callable[..., dict[str, np.ndarray]], name: str, **at: float
) -> np.ndarray:
    """Published half unit plus the effect of the inputs' own rounding."""
    base = ours(**at)
    vol = [ours(**at, d_vol=s * IV_HALF_UNIT) for s in (-1, 1)]
    fwd = [ours(**at, d_fwd=s * UNDERLYING_HALF_UNIT) for s in (-1, 1)]
    return GREEK_HALF_UNIT + TINY + _spread(base, vol, name) + _spread(base, fwd, name)


def _clock_tol(chain: Chain, name: str) -> np.ndarray:
    base = chain.ours()
    moved = [chain.ours(shift_s=s * CLOCK_S) for s in (-1, 1)]
    return _spread(base, moved, name)


def _report(chain: Chain, name: str, diff: np.ndarray, tol: np.ndarray) -> None:
    i = int(np.argmax(diff))
    later = chain.days() > 2.0
    print(
        f"\n{chain.snapshot} {name:5s} max |ours - deribit| {diff[i]:.3e} "
        f"({chain.instrument[i]}, {chain.days()[i]:.2f} d); beyond 2 days "
        f"{np.max(diff[later]):.3e}; within rounding alone {np.mean(diff <= tol):.1%}"
        f", max diff/tol {np.max(diff / tol):.2f}"
    )


def test_gamma_within_published_rounding(chain: Chain) -> None:
    ours = chain.ours()
    diff = np.abs(ours[GAMMA] - chain.published[GAMMA])
    tol = _rounding_tol(chain.ours, GAMMA)
    _report(chain, GAMMA, diff, tol)
    bad = [chain.instrument[i] for i in np.nonzero(diff > tol)[0]]
    assert not bad, bad


@pytest.mark.parametrize("name", [DELTA, VEGA])
def test_delta_and_vega_within_rounding_and_30s_clock(chain: Chain, name: str) -> None:
    ours = chain.ours()
    diff = np.abs(ours[name] - chain.published[name])
    tol = _rounding_tol(chain.ours, name)
    _report(chain, name, diff, tol)
    full = tol + _clock_tol(chain, name)
    bad = [chain.instrument[i] for i in np.nonzero(diff > full)[0]]
    assert not bad, bad
    # the clock allowance is needed only close to expiry or at the money
    assert np.mean(diff <= tol) > 0.7


def test_one_clock_offset_explains_each_instrument(chain: Chain) -> None:
    """Per instrument, one offset |dt| <= 30 s fits delta, gamma and vega at once."""
    explained = np.zeros(len(chain.instrument), dtype=bool)
    needed_s = np.full(len(chain.instrument), np.inf)
    for shift in np.arange(-CLOCK_S, CLOCK_S + 1.0, 1.0):
        ours = chain.ours(shift_s=shift)
        fits = np.ones_like(explained)
        for name in (DELTA, GAMMA, VEGA):
            tol = _rounding_tol(chain.ours, name, shift_s=shift)
            fits &= np.abs(ours[name] - chain.published[name]) <= tol
        explained |= fits
        needed_s = np.where(fits, np.minimum(needed_s, abs(shift)), needed_s)
    odd = {chain.instrument[i] for i in np.nonzero(~explained)[0]}
    assert odd <= FORWARD_DESYNC, odd
    needed = needed_s[explained]
    print(
        f"\n{chain.snapshot} clock offset needed (s): median {np.median(needed):.0f},"
        f" max {np.max(needed):.0f}; not explained: {sorted(odd)}"
    )
    for name in odd:
        i = chain.instrument.index(name)
        assert chain.days()[i] < 0.1
        assert abs(np.log(chain.forward[i] / chain.strike[i])) < 0.005


def test_theta_follows_deribits_one_day_convention(chain: Chain) -> None:
    """Deribit's theta: our rate / 365, scaled inside the last day, capped at price.

    A convention check rather than a rounding-exact one: inside the last days the
    venue's theta moves with the instantaneous state (and the cap is its own
    instantaneous price), so the bound is relative there.
    """
    years = year_fraction(chain.ts_us, chain.expiry_us)
    theta = black76_greeks(
        chain.forward, chain.strike, years, chain.vol, chain.is_call
    ).theta
    decay = -theta / YEAR_DAYS * np.minimum(years * YEAR_DAYS, 1.0)
    ours = -np.minimum(decay, chain.mark_usd)
    published = chain.published[THETA]
    diff = np.abs(ours - published)
    _report(chain, THETA, diff, GREEK_HALF_UNIT + 1e-3 * np.abs(published))
    later = chain.days() > 2.0
    assert np.all(diff[later] <= GREEK_HALF_UNIT + 1e-3 * np.abs(published[later]))
    assert np.all(diff <= 2e-5 + 0.03 * np.abs(published))
    # the convention, not the analytic rate, is what Deribit prints near expiry
    last_day = chain.days() < 1.0
    analytic = np.abs(theta / YEAR_DAYS - published)[last_day]
    assert np.median(analytic) > 10 * np.median(diff[last_day])
