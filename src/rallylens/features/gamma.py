"""Dealer gamma exposure, walls, max pain and the implied-vol smile of a chain.

Everything here is an *estimate* built on an assumption about who holds the
options: a chain shows open interest, not who is long. The assumption is the
:data:`Positioning` parameter of :class:`ChainSpec` and every output states it.

Pure and vectorised: rows of :data:`rallylens.schemas.OPTIONS_CHAIN` in, frames
and numbers out; the pricing is :mod:`rallylens.features.black76`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

import numpy as np
import polars as pl
from numpy.typing import NDArray

from rallylens.exceptions import ConfigError, InsufficientDataError, SchemaError
from rallylens.features.black76 import (
    YEAR_DAYS,
    black76_greeks,
    coin_to_usd,
    implied_vol,
    year_fraction,
)
from rallylens.schemas import (
    EXPIRY,
    INDEX_PRICE,
    MARK_IV,
    MARK_PRICE,
    OPTION_OI,
    OPTION_TYPE,
    STRIKE,
    TS,
    UNDERLYING_PRICE,
)

__all__ = [
    "POSITIONINGS",
    "ChainMetrics",
    "ChainSpec",
    "Positioning",
    "WallBasis",
    "chain_metrics",
    "chain_series",
]

FloatArray = NDArray[np.float64]

Positioning = Literal[
    "dealer_long_calls_short_puts", "dealer_short_all", "dealer_long_all"
]
WallBasis = Literal["gex", "oi"]
POSITIONINGS: Final[tuple[str, ...]] = get_args(Positioning)
_WALL_BASES: Final[tuple[str, ...]] = get_args(WallBasis)
# sign of the dealers' gamma per (call, put) contract of open interest
_SIGNS: Final[dict[str, tuple[float, float]]] = {
    "dealer_long_calls_short_puts": (1.0, -1.0),
    "dealer_short_all": (-1.0, -1.0),
    "dealer_long_all": (1.0, 1.0),
}
_DESCRIPTIONS: Final[dict[str, str]] = {
    "dealer_long_calls_short_puts": "dealers long the calls and short the puts",
    "dealer_short_all": "dealers short every option (customers long all open interest)",
    "dealer_long_all": "dealers long every option",
}
_PCT_MOVE: Final = 0.01
_DELTA_25: Final = 0.25

# output columns (of frames made here only; candidates for schemas.py)
_CALL_GEX, _PUT_GEX, _NET_GEX = "call_gex_usd", "put_gex_usd", "net_gex_usd"
_CALL_OI, _PUT_OI, _MAX_PAIN, _SPOT_OUT = "call_oi", "put_oi", "max_pain", "spot"
_DAYS, _FORWARD, _ATM_IV, _RR25, _BF25 = "days", "forward", "atm_iv", "rr25", "bf25"
# private working columns
_YEARS, _VOL, _CALL, _OI, _GEX = "_years", "_vol", "_is_call", "_oi", "_gex_usd"
_SPOT, _SOURCE, _BACKED, _LEFT_OUT = "_spot", "_spot_source", "_backed", "_left_out"
_CALL_VOL, _PUT_VOL, _IV, _K, _DC, _DP = "_cv", "_pv", "_iv", "_k", "_dc", "_dp"
_C25, _P25, _W = "_c25", "_p25", "_w"
_ROW_CHUNK: Final = 4096
_NOISE: Final = 1e-10


@dataclass(frozen=True)
class ChainSpec:
    """How to read a chain: positioning, flip grid, constant maturities, walls.

    Attributes
    ----------
    positioning : {"dealer_long_calls_short_puts", "dealer_short_all", \
"dealer_long_all"}
        Who holds the open interest. The default (dealers long calls, short
        puts: call gamma +, put gamma -) is the convention of the common GEX
        tools; ``dealer_short_all`` means customers are long every contract.
    grid_span : float, default 0.3
        The gamma flip is searched over ``spot * (1 +- grid_span)``.
    grid_points : int, default 241
        Points of that grid (odd keeps the spot itself on the grid).
    cm_days : tuple of int, default (7, 30, 90)
        Constant maturities, in days, for ATM IV and the 25-delta skew.
    wall_basis : {"gex", "oi"}, default "gex"
        Call/put walls are the strikes with the largest absolute call/put GEX
        (``"gex"``, as most tools) or the largest call/put open interest.
    """

    positioning: Positioning = "dealer_long_calls_short_puts"
    grid_span: float = 0.3
    grid_points: int = 241
    cm_days: tuple[int, ...] = (7, 30, 90)
    wall_basis: WallBasis = "gex"

    def __post_init__(self) -> None:
        if self.positioning not in POSITIONINGS:
            raise ConfigError(
                f"positioning must be one of {', '.join(POSITIONINGS)}; "
                f"got {self.positioning!r}"
            )
        if not 0.0 < self.grid_span < 1.0:
            raise ConfigError(
                f"grid_span must lie in (0, 1), got {self.grid_span}; 0.3 searches "
                "the gamma flip within +-30% of spot"
            )
        if self.grid_points < 3:
            raise ConfigError(f"grid_points must be >= 3, got {self.grid_points}")
        if any(d <= 0 for d in self.cm_days) or len(set(self.cm_days)) != len(
            self.cm_days
        ):
            raise ConfigError(
                f"cm_days must be distinct positive days, got {self.cm_days}"
            )
        if self.wall_basis not in _WALL_BASES:
            raise ConfigError(
                f"wall_basis must be 'gex' or 'oi', got {self.wall_basis!r}"
            )


@dataclass(frozen=True)
class ChainMetrics:
    """Positioning metrics of one chain snapshot (GEX figures are estimates).

    Attributes
    ----------
    ts : datetime
        Snapshot time (UTC).
    spot : float
        Spot used, USD (see :func:`chain_metrics`).
    positioning : str
        The dealer-positioning assumption behind every GEX figure.
    by_strike : pl.DataFrame
        ``strike`` (USD), ``call_gex_usd``, ``put_gex_usd``, ``net_gex_usd``
        (USD per 1% move, all expiries), ``call_oi``, ``put_oi`` (coins).
    by_expiry : pl.DataFrame
        ``expiry``, ``days`` to expiry, ``forward`` (USD, median
        ``underlying_price``), ``atm_iv``, ``rr25``, ``bf25`` (decimals, null
        where the smile does not reach), ``net_gex_usd``, ``call_oi``,
        ``put_oi``, ``max_pain`` (USD, that expiry alone).
    total_gex_usd : float
        Sum of ``net_gex_usd``: USD the dealers buy (+) or sell (-) per 1% rise.
    gamma_flip : float or None
        Spot (USD) where total dealer gamma changes sign, nearest the spot;
        None when it keeps one sign over the grid (reason in ``note``).
    call_wall, put_wall, max_pain : float or None
        Strikes (USD), all expiries pooled.
    put_call_oi_ratio : float or None
        Put open interest over call open interest.
    cm_atm_iv, cm_rr25, cm_bf25 : dict[int, float | None]
        Constant-maturity values by days; None outside the listed expiries.
    note : str
        States the estimate, the positioning and what could not be computed.
    gex_profile : pl.DataFrame
        ``spot`` grid (USD) and ``net_gex_usd`` re-priced at each grid spot.
    """

    ts: datetime
    spot: float
    positioning: str
    by_strike: pl.DataFrame
    by_expiry: pl.DataFrame
    total_gex_usd: float
    gamma_flip: float | None
    call_wall: float | None
    put_wall: float | None
    max_pain: float | None
    put_call_oi_ratio: float | None
    cm_atm_iv: dict[int, float | None]
    cm_rr25: dict[int, float | None]
    cm_bf25: dict[int, float | None]
    note: str
    gex_profile: pl.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: scalars, dicts, frames as lists of records (ISO times)."""
        scalars = (
            "spot", "positioning", "total_gex_usd", "gamma_flip", "call_wall",
            "put_wall", "max_pain", "put_call_oi_ratio", "cm_atm_iv", "cm_rr25",
            "cm_bf25", "note",
        )  # fmt: skip
        out: dict[str, Any] = {"ts": self.ts.isoformat()}
        out.update({name: getattr(self, name) for name in scalars})
        for name in ("by_strike", "by_expiry", "gex_profile"):
            frame: pl.DataFrame = getattr(self, name)
            out[name] = frame.with_columns(
                pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z")
            ).to_dicts()
        return out


def chain_metrics(
    chain: pl.DataFrame, *, spec: ChainSpec | None = None, spot: float | None = None
) -> ChainMetrics:
    """Gamma exposure, gamma flip, walls, max pain, PCR and smile of one snapshot.

    Parameters
    ----------
    chain : pl.DataFrame
        Rows of :data:`rallylens.schemas.OPTIONS_CHAIN` sharing one ``ts``. Used:
        ``ts``, ``expiry`` (08:00 UTC), ``strike`` (USD), ``option_type``
        ("call"/"put"), ``open_interest`` (coins; null = 0), ``mark_iv``
        (decimal; where null the vol is backed out of ``mark_price``, coin per
        option, if present), ``underlying_price`` (USD forward of the expiry)
        and, if present, ``index_price`` (USD).
    spec : ChainSpec, optional
        Positioning, flip grid, constant maturities, wall basis.
    spot : float, optional
        Spot in USD; default the median ``index_price`` of the rows, else the
        median ``underlying_price`` of the nearest live expiry.

    Returns
    -------
    ChainMetrics

    Raises
    ------
    SchemaError
        If a needed column is missing or ``option_type`` holds other values.
    InsufficientDataError
        If the chain is empty, holds several snapshots or gives no spot.
    ConfigError
        If ``spot`` is not a positive number.

    Notes
    -----
    Per option, with ``g`` the Black-76 gamma per USD (forward = the row's
    ``underlying_price``, vol = ``mark_iv``, ``T = (expiry - ts)/365 d``)::

        gex_usd = sign(positioning, type) * g * open_interest * spot**2 * 0.01

    the USD of underlying the dealers must buy (+) or sell (-) to stay hedged
    when spot rises 1%. The gamma flip re-prices the chain at ``s`` on the
    grid with every forward scaled ``F_i s / spot`` (vols held per strike)
    and interpolates linearly where the total changes sign, taking the
    crossing nearest ``spot``. Call/put walls: strike with the largest
    ``|call_gex_usd|`` / ``|put_gex_usd|`` (or OI, see ``wall_basis``).
    Max pain: the listed strike ``K`` minimising the USD paid to holders if
    every option settled at ``K``, ``sum OI_c max(K - K_c, 0) + sum OI_p
    max(K_p - K, 0)``, over all expiries (per expiry in ``by_expiry``; ties
    go to the lower strike). ATM IV: the smile (the out-of-the-money side's
    vol at each strike) interpolated linearly in ``ln(K/F)`` at 0. 25-delta:
    vol interpolated linearly over Black-76 call delta at 0.25 and put delta
    at -0.25 (the crossings nearest the money);
    ``rr25 = iv_c25 - iv_p25``, ``bf25 = (iv_c25 + iv_p25)/2 - atm_iv``.
    Constant maturity ``T``: total variance ``sigma^2 t`` interpolated
    linearly in ``t`` between the bracketing expiries, ``sigma_T =
    sqrt(w(T)/T)``, applied to ATM, 25-delta call and put vols; no
    extrapolation.
    """
    spec = spec or ChainSpec()
    _check_columns(chain)
    if chain.height == 0:
        raise InsufficientDataError("the option chain holds no rows; load a snapshot")
    if chain[TS].n_unique() != 1:
        raise InsufficientDataError(
            f"chain_metrics takes one snapshot, got {chain[TS].n_unique()} values "
            "of ts; filter one ts or use chain_series"
        )
    if spot is not None and not (np.isfinite(spot) and spot > 0):
        raise ConfigError(f"spot must be a positive USD price, got {spot!r}")
    result = _analyse(chain, spec, spot)
    row = result.scalars.row(0, named=True)
    days = spec.cm_days
    return ChainMetrics(
        ts=row[TS],
        spot=row[_SPOT_OUT],
        positioning=spec.positioning,
        by_strike=result.by_strike.drop(TS),
        by_expiry=result.by_expiry.drop(TS),
        total_gex_usd=row["total_gex_usd"],
        gamma_flip=row["gamma_flip"],
        call_wall=row["call_wall"],
        put_wall=row["put_wall"],
        max_pain=row[_MAX_PAIN],
        put_call_oi_ratio=row["put_call_oi_ratio"],
        cm_atm_iv={d: row[f"atm_iv_{d}d"] for d in days},
        cm_rr25={d: row[f"rr25_{d}d"] for d in days},
        cm_bf25={d: row[f"bf25_{d}d"] for d in days},
        note=row["note"],
        gex_profile=pl.DataFrame(
            {_SPOT_OUT: result.grid[0], _NET_GEX: result.profile[0]}
        ),
    )


def chain_series(
    chains: pl.DataFrame, *, spec: ChainSpec | None = None
) -> pl.DataFrame:
    """The scalar metrics of :func:`chain_metrics` for every snapshot.

    Parameters
    ----------
    chains : pl.DataFrame
        Rows of :data:`rallylens.schemas.OPTIONS_CHAIN`, any number of ``ts``
        (columns as in :func:`chain_metrics`).
    spec : ChainSpec, optional
        As in :func:`chain_metrics`; spot is always taken from the rows.

    Returns
    -------
    pl.DataFrame
        One row per ``ts`` (ascending): ``ts``, ``spot``, ``positioning``,
        ``total_gex_usd``, ``gamma_flip``, ``call_wall``, ``put_wall``,
        ``max_pain``, ``put_call_oi_ratio``, then ``atm_iv_{d}d``,
        ``rr25_{d}d``, ``bf25_{d}d`` per constant maturity and ``note``.

    Raises
    ------
    SchemaError, InsufficientDataError
        As :func:`chain_metrics` (empty frame, missing columns, no spot).

    Notes
    -----
    Computed in one pass over all rows (greeks, group-bys, the flip grid in
    row chunks); formulas as in :func:`chain_metrics`.
    """
    spec = spec or ChainSpec()
    _check_columns(chains)
    if chains.height == 0:
        raise InsufficientDataError("the option chains hold no rows; load snapshots")
    return _analyse(chains, spec, None).scalars


# ---------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------


def _check_columns(chain: pl.DataFrame) -> None:
    """Raise SchemaError naming missing columns or unknown option types."""
    needed = [TS, EXPIRY, STRIKE, OPTION_TYPE, OPTION_OI, UNDERLYING_PRICE]
    missing = [c for c in needed if c not in chain.columns]
    if MARK_IV not in chain.columns and MARK_PRICE not in chain.columns:
        missing.append(f"{MARK_IV} (or {MARK_PRICE})")
    if missing:
        raise SchemaError(
            f"option chain frame: missing columns {missing}; pass rows of "
            "schema OPTIONS_CHAIN"
        )
    odd = set(chain[OPTION_TYPE].unique().to_list()) - {"call", "put"}
    if odd:
        raise SchemaError(
            f"option chain frame: option_type must be 'call' or 'put', got "
            f"{sorted(map(str, odd))}"
        )


def _optional(chain: pl.DataFrame, name: str) -> pl.Expr:
    """The column as Float64, or nulls when the frame lacks it."""
    if name in chain.columns:
        return pl.col(name).cast(pl.Float64)
    return pl.lit(None, dtype=pl.Float64).alias(name)


def _prepare_rows(
    chain: pl.DataFrame, spec: ChainSpec, spot: float | None
) -> pl.DataFrame:
    """Rows sorted by ts with years, vol, spot, gamma-derived GEX per option."""
    rows = chain.select(
        TS,
        EXPIRY,
        pl.col(STRIKE).cast(pl.Float64),
        (pl.col(OPTION_TYPE) == "call").alias(_CALL),
        pl.col(OPTION_OI).cast(pl.Float64).fill_null(0.0).fill_nan(0.0).alias(_OI),
        *(_optional(chain, c) for c in (MARK_IV, MARK_PRICE, UNDERLYING_PRICE)),
        _optional(chain, INDEX_PRICE),
    ).sort(TS, EXPIRY, STRIKE, _CALL)
    years = year_fraction(
        rows[TS].dt.epoch("us").to_numpy(), rows[EXPIRY].dt.epoch("us").to_numpy()
    )
    vol, backed = _row_vols(rows, years)
    rows = rows.with_columns(
        pl.Series(_YEARS, years),
        pl.Series(_VOL, vol, nan_to_null=True),
        pl.Series(_BACKED, backed),
    )
    rows = rows.join(_spot_by_ts(rows, spot), on=TS, how="left", maintain_order="left")
    forward = rows[UNDERLYING_PRICE].fill_null(np.nan).to_numpy()
    gamma, ok = _gamma(rows, forward, 1.0)
    gex = _weight(rows, spec) * gamma * rows[_SPOT].to_numpy() ** 2 * _PCT_MOVE
    left_out = (rows[_OI].to_numpy() > 0) & ~ok
    return rows.with_columns(pl.Series(_GEX, gex), pl.Series(_LEFT_OUT, left_out))


def _weight(rows: pl.DataFrame, spec: ChainSpec) -> FloatArray:
    """Signed dealer open interest: sign(positioning, type) * open_interest."""
    call_sign, put_sign = _SIGNS[spec.positioning]
    sign = np.where(rows[_CALL].to_numpy(), call_sign, put_sign)
    out: FloatArray = sign * rows[_OI].to_numpy()
    return out


def _row_vols(
    rows: pl.DataFrame, years: FloatArray
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """mark_iv where usable, else Black-76 IV of mark_price (coin) * forward."""
    mark = rows[MARK_IV].fill_null(np.nan).to_numpy()
    vol = np.where(np.isfinite(mark) & (mark > 0), mark, np.nan)
    price = rows[MARK_PRICE].fill_null(np.nan).to_numpy()
    fwd = rows[UNDERLYING_PRICE].fill_null(np.nan).to_numpy()
    todo = np.isnan(vol) & np.isfinite(price) & (years > 0)
    if todo.any():
        iv, _ = implied_vol(
            coin_to_usd(price[todo], fwd[todo]),
            fwd[todo],
            rows[STRIKE].to_numpy()[todo],
            years[todo],
            rows[_CALL].to_numpy()[todo],
        )
        vol[todo] = iv
    return vol, todo & np.isfinite(vol)


def _spot_by_ts(rows: pl.DataFrame, spot: float | None) -> pl.DataFrame:
    """Spot and where it came from, per ts; raise when a snapshot has none."""
    if spot is not None:
        return rows.select(pl.col(TS).unique()).with_columns(
            pl.lit(float(spot)).alias(_SPOT), pl.lit("given").alias(_SOURCE)
        )
    live = rows.filter((pl.col(_YEARS) > 0) & (pl.col(UNDERLYING_PRICE) > 0))
    nearest = live.filter(pl.col(EXPIRY) == pl.col(EXPIRY).min().over(TS))
    index = pl.col(INDEX_PRICE).filter(pl.col(INDEX_PRICE) > 0).median()
    out = (
        rows.group_by(TS)
        .agg(index.alias("_index"))
        .join(
            nearest.group_by(TS).agg(pl.col(UNDERLYING_PRICE).median().alias("_near")),
            on=TS,
            how="left",
        )
        .select(
            TS,
            pl.coalesce("_index", "_near").alias(_SPOT),
            pl.when(pl.col("_index").is_not_null())
            .then(pl.lit("median index_price"))
            .otherwise(pl.lit("median underlying_price of the nearest expiry"))
            .alias(_SOURCE),
        )
    )
    lacking = out.filter(pl.col(_SPOT).is_null())[TS].to_list()
    if lacking:
        raise InsufficientDataError(
            f"no spot for snapshot(s) {lacking[:3]}: no index_price and no live "
            "underlying_price; pass spot= to chain_metrics"
        )
    return out


def _gamma(
    rows: pl.DataFrame, forward: FloatArray, scale: Any
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Black-76 gamma per USD (0 where expired or without vol or forward), usable.

    ``forward`` is (n,) and ``scale`` broadcasts against ``forward[:, None]``
    (a grid of spot multipliers) or is 1.0.
    """
    vol = rows[_VOL].fill_null(np.nan).to_numpy()
    strike = rows[STRIKE].to_numpy()
    years = rows[_YEARS].to_numpy()
    fwd = np.nan_to_num(forward, nan=-1.0)
    ok = np.isfinite(vol) & (vol > 0) & (years > 0) & (fwd > 0) & (strike > 0)
    if np.ndim(scale) > 0:
        fwd, ok = fwd[:, None] * scale, ok[:, None]
        strike, years, vol = strike[:, None], years[:, None], vol[:, None]
    g = black76_greeks(
        np.where(ok, fwd, 1.0),
        np.where(ok, strike, 1.0),
        np.where(ok, years, 1.0),
        np.where(ok, vol, 0.5),
        True,
    ).gamma
    out: FloatArray = np.where(ok, g, 0.0)
    return out, ok


# ---------------------------------------------------------------------------
# aggregation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    """Everything computed for a set of snapshots (sorted by ts)."""

    scalars: pl.DataFrame
    by_strike: pl.DataFrame
    by_expiry: pl.DataFrame
    grid: FloatArray  # (n_ts, points) spot grid, USD
    profile: FloatArray  # (n_ts, points) total GEX at each grid spot


def _analyse(chain: pl.DataFrame, spec: ChainSpec, spot: float | None) -> _Analysis:
    """Run every metric over all snapshots in ``chain``."""
    rows = _prepare_rows(chain, spec, spot)
    call = pl.col(_CALL)
    cells = (
        rows.group_by(TS, EXPIRY, STRIKE)
        .agg(
            pl.col(_GEX).filter(call).sum().alias(_CALL_GEX),
            pl.col(_GEX).filter(~call).sum().alias(_PUT_GEX),
            pl.col(_OI).filter(call).sum().alias(_CALL_OI),
            pl.col(_OI).filter(~call).sum().alias(_PUT_OI),
            pl.col(_VOL).filter(call & (pl.col(_YEARS) > 0)).mean().alias(_CALL_VOL),
            pl.col(_VOL).filter(~call & (pl.col(_YEARS) > 0)).mean().alias(_PUT_VOL),
        )
        .sort(TS, EXPIRY, STRIKE)
    )
    by_strike = (
        cells.group_by(TS, STRIKE)
        .agg(pl.col(_CALL_GEX, _PUT_GEX, _CALL_OI, _PUT_OI).sum())
        .sort(TS, STRIKE)
        .select(
            TS,
            STRIKE,
            _CALL_GEX,
            _PUT_GEX,
            (pl.col(_CALL_GEX) + pl.col(_PUT_GEX)).alias(_NET_GEX),
            _CALL_OI,
            _PUT_OI,
        )
    )
    by_expiry = _by_expiry(rows, cells)
    grid, profile = _gex_profile(rows, spec)
    scalars = _scalars(rows, by_strike, by_expiry, spec, grid, profile)
    return _Analysis(
        scalars, by_strike, by_expiry.drop(_C25, _P25, _YEARS), grid, profile
    )


def _by_expiry(rows: pl.DataFrame, cells: pl.DataFrame) -> pl.DataFrame:
    """Per (ts, expiry): days, forward, ATM IV, 25-delta skew, GEX, OI, max pain."""
    call = pl.col(_CALL)
    base = (
        rows.group_by(TS, EXPIRY)
        .agg(
            pl.col(_YEARS).max(),
            pl.col(UNDERLYING_PRICE)
            .filter(pl.col(UNDERLYING_PRICE) > 0)
            .median()
            .alias(_FORWARD),
            pl.col(_GEX).sum().alias(_NET_GEX),
            pl.col(_OI).filter(call).sum().alias(_CALL_OI),
            pl.col(_OI).filter(~call).sum().alias(_PUT_OI),
        )
        .sort(TS, EXPIRY)
    )
    keys = [TS, EXPIRY]
    smile = _smile(cells, base)
    atm = _interp_at(smile, keys, STRIKE, _K, _IV, 0.0).rename({_IV: _ATM_IV})
    c25 = _interp_at(smile, keys, STRIKE, _DC, _IV, _DELTA_25).rename({_IV: _C25})
    p25 = _interp_at(smile, keys, STRIKE, _DP, _IV, -_DELTA_25, last=True)
    out = base
    for part in (atm, c25, p25.rename({_IV: _P25}), _max_pain(cells, keys)):
        out = out.join(part, on=keys, how="left", maintain_order="left")
    return out.select(
        TS,
        EXPIRY,
        (pl.col(_YEARS) * YEAR_DAYS).alias(_DAYS),
        _FORWARD,
        _ATM_IV,
        (pl.col(_C25) - pl.col(_P25)).alias(_RR25),
        ((pl.col(_C25) + pl.col(_P25)) / 2 - pl.col(_ATM_IV)).alias(_BF25),
        _NET_GEX,
        _CALL_OI,
        _PUT_OI,
        _MAX_PAIN,
        _C25,
        _P25,
        _YEARS,
    )


def _smile(cells: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """Per (ts, expiry, strike): OTM-side vol, log-moneyness, call and put delta."""
    k = pl.col(STRIKE)
    smile = (
        cells.join(base.select(TS, EXPIRY, _YEARS, _FORWARD), on=[TS, EXPIRY])
        .with_columns(
            pl.when(k >= pl.col(_FORWARD))
            .then(pl.coalesce(_CALL_VOL, _PUT_VOL))
            .otherwise(pl.coalesce(_PUT_VOL, _CALL_VOL))
            .alias(_IV),
            (k / pl.col(_FORWARD)).log().alias(_K),
        )
        .filter(pl.col(_IV).is_not_null() & (pl.col(_YEARS) > 0) & (k > 0))
        .filter(pl.col(_FORWARD) > 0)
    )
    fwd, strike = smile[_FORWARD].to_numpy(), smile[STRIKE].to_numpy()
    years, vol = smile[_YEARS].to_numpy(), smile[_IV].to_numpy()
    return smile.with_columns(
        pl.Series(_DC, black76_greeks(fwd, strike, years, vol, True).delta),
        pl.Series(_DP, black76_greeks(fwd, strike, years, vol, False).delta),
    )


def _interp_at(
    points: pl.DataFrame,
    keys: list[str],
    order: str,
    x: str,
    y: str,
    target: float,
    *,
    last: bool = False,
) -> pl.DataFrame:
    """Per group, ``y`` interpolated linearly at ``x == target``; no extrapolation.

    Neighbours in ``order`` whose ``x`` bracket ``target`` are interpolated;
    where several pairs do, the first in ``order`` is used (the last when
    ``last``). Groups without a bracketing pair are absent from the result.
    """
    xc, yc = pl.col(x), pl.col(y)
    xn, yn = pl.col("_xn"), pl.col("_yn")
    pairs = points.sort([*keys, order]).with_columns(
        xc.shift(-1).over(keys).alias("_xn"), yc.shift(-1).over(keys).alias("_yn")
    )
    exact = xc == target
    crosses = ((xc - target) * (xn - target) <= 0).fill_null(False) | exact
    value = (
        pl.when(exact).then(yc).otherwise(yc + (yn - yc) * (target - xc) / (xn - xc))
    )
    pick = pl.col(y).sort_by(order)
    found = pairs.filter(crosses).with_columns(value.alias(y))
    return found.group_by(keys).agg(pick.last() if last else pick.first())


def _max_pain(table: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per group, the strike minimising the USD intrinsic paid to holders.

    ``pain(K) = K C<(K) - CK<(K) + PK>(K) - K P>(K)`` with cumulative call OI
    ``C<`` and call OI times strike ``CK<`` up to ``K`` and put sums ``P>``,
    ``PK>`` from ``K`` up (the terms at ``K`` itself are zero).
    """
    k, c, p = pl.col(STRIKE), pl.col(_CALL_OI), pl.col(_PUT_OI)
    pain = (
        k * c.cum_sum().over(keys)
        - (c * k).cum_sum().over(keys)
        + (p * k).cum_sum(reverse=True).over(keys)
        - k * p.cum_sum(reverse=True).over(keys)
    )
    return (
        table.group_by([*keys, STRIKE])
        .agg(c.sum(), p.sum())
        .sort([*keys, STRIKE])
        .with_columns(pain.alias("_pain"))
        .group_by(keys)
        .agg(
            pl.when((c + p).sum() > 0)
            .then(k.get(pl.col("_pain").arg_min()))
            .alias(_MAX_PAIN)
        )
    )


def _gex_profile(rows: pl.DataFrame, spec: ChainSpec) -> tuple[FloatArray, FloatArray]:
    """Total signed GEX re-priced at each grid spot, per snapshot (row chunks).

    Returns the spot grid and the profile, both (n_ts, grid_points). Totals
    within 1e-10 of the gross (unsigned) GEX are rounding noise and set to 0,
    so that exactly offsetting calls and puts show no flip.
    """
    mult = np.linspace(1.0 - spec.grid_span, 1.0 + spec.grid_span, spec.grid_points)
    group = (rows[TS].rank("dense").to_numpy() - 1).astype(np.intp)
    n_ts = int(group.max()) + 1
    spot_ts = rows.group_by(TS).agg(pl.col(_SPOT).first()).sort(TS)[_SPOT].to_numpy()
    grid = spot_ts[:, None] * mult[None, :]
    weight = _weight(rows, spec)
    forward = rows[UNDERLYING_PRICE].fill_null(np.nan).to_numpy()
    profile = np.zeros((n_ts, spec.grid_points))
    gross = np.zeros_like(profile)
    for start in range(0, rows.height, _ROW_CHUNK):
        part = slice(start, start + _ROW_CHUNK)
        gamma, _ = _gamma(rows[part], forward[part], mult)
        gex = weight[part, None] * gamma * grid[group[part]] ** 2 * _PCT_MOVE
        ids, first = np.unique(group[part], return_index=True)
        profile[ids] += np.add.reduceat(gex, first, axis=0)
        gross[ids] += np.add.reduceat(np.abs(gex), first, axis=0)
    profile[np.abs(profile) <= _NOISE * gross] = 0.0
    return grid, profile


def _flip(grid: FloatArray, profile: FloatArray, spot: FloatArray) -> FloatArray:
    """Sign change of each profile nearest spot, interpolated; NaN where none."""
    lo, hi = profile[:, :-1], profile[:, 1:]
    cross = ((lo <= 0) & (hi > 0)) | ((lo >= 0) & (hi < 0))
    s_lo, s_hi = grid[:, :-1], grid[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        at = np.where(cross, s_lo - lo * (s_hi - s_lo) / (hi - lo), np.nan)
    dist = np.where(cross, np.abs(at - spot[:, None]), np.inf)
    best = np.argmin(dist, axis=1)
    out: FloatArray = np.where(cross.any(axis=1), at[np.arange(len(at)), best], np.nan)
    return out


def _wall(gex: str, oi: str, name: str, spec: ChainSpec) -> pl.Expr:
    """Strike with the largest |GEX| (or OI) of one option type, null if none."""
    size = pl.col(gex).abs() if spec.wall_basis == "gex" else pl.col(oi)
    return pl.when(size.max() > 0).then(pl.col(STRIKE).get(size.arg_max())).alias(name)


def _scalars(
    rows: pl.DataFrame,
    by_strike: pl.DataFrame,
    by_expiry: pl.DataFrame,
    spec: ChainSpec,
    grid: FloatArray,
    profile: FloatArray,
) -> pl.DataFrame:
    """One row per ts with every scalar metric and the note."""
    per_ts = (
        rows.group_by(TS)
        .agg(
            pl.col(_SPOT).first().alias(_SPOT_OUT),
            pl.col(_GEX).sum().alias("total_gex_usd"),
            pl.col(_OI).filter(pl.col(_CALL)).sum().alias("_c_oi"),
            pl.col(_OI).filter(~pl.col(_CALL)).sum().alias("_p_oi"),
            pl.col(_SOURCE).first(),
            pl.col(_BACKED).sum().alias("_n_backed"),
            pl.col(_LEFT_OUT).sum().alias("_n_left"),
        )
        .sort(TS)
    )
    flip = _flip(grid, profile, per_ts[_SPOT_OUT].to_numpy())
    out = per_ts.with_columns(
        pl.lit(spec.positioning).alias("positioning"),
        pl.Series("gamma_flip", flip, nan_to_null=True),
        pl.when(pl.col("_c_oi") > 0)
        .then(pl.col("_p_oi") / pl.col("_c_oi"))
        .alias("put_call_oi_ratio"),
    )
    walls = by_strike.group_by(TS).agg(
        _wall(_CALL_GEX, _CALL_OI, "call_wall", spec),
        _wall(_PUT_GEX, _PUT_OI, "put_wall", spec),
    )
    for part in (
        walls,
        _max_pain(by_strike, [TS]),
        _constant_maturity(by_expiry, spec),
    ):
        out = out.join(part, on=TS, how="left", maintain_order="left")
    notes = [
        _note(row, spec, prof)
        for row, prof in zip(out.iter_rows(named=True), profile, strict=True)
    ]
    scalars = [TS, _SPOT_OUT, "positioning", "total_gex_usd", "gamma_flip",
               "call_wall", "put_wall", _MAX_PAIN, "put_call_oi_ratio"]  # fmt: skip
    cm_cols = [f"{m}_{d}d" for m in ("atm_iv", "rr25", "bf25") for d in spec.cm_days]
    notes_col = pl.Series("note", notes, dtype=pl.String)
    return out.with_columns(notes_col).select(*scalars, *cm_cols, "note")


def _constant_maturity(by_expiry: pl.DataFrame, spec: ChainSpec) -> pl.DataFrame:
    """Per ts: ATM IV, rr25, bf25 at each constant maturity, plus expiry range."""
    vols = (_ATM_IV, _C25, _P25)
    has_atm = pl.col(_ATM_IV).is_not_null()
    out = by_expiry.group_by(TS).agg(
        pl.col(_DAYS).filter(has_atm).min().alias("_d_min"),
        pl.col(_DAYS).filter(has_atm).max().alias("_d_max"),
        (pl.col(_DAYS) > 0).and_(pl.col(_RR25).is_null()).sum().alias("_n_no_skew"),
    )
    for days in spec.cm_days:
        years = days / YEAR_DAYS
        for vol in vols:
            points = by_expiry.filter(pl.col(vol).is_not_null()).with_columns(
                (pl.col(vol) ** 2 * pl.col(_YEARS)).alias(_W)
            )
            part = _interp_at(points, [TS], EXPIRY, _YEARS, _W, years).select(
                TS, (pl.col(_W) / years).sqrt().alias(f"_{vol}@{days}")
            )
            out = out.join(part, on=TS, how="left")
        atm, c25, p25 = (pl.col(f"_{vol}@{days}") for vol in vols)
        out = out.with_columns(
            atm.alias(f"atm_iv_{days}d"),
            (c25 - p25).alias(f"rr25_{days}d"),
            ((c25 + p25) / 2 - atm).alias(f"bf25_{days}d"),
        )
    return out


def _note(row: dict[str, Any], spec: ChainSpec, profile: FloatArray) -> str:
    """Plain-language caveats of one snapshot's metrics."""
    parts = [
        "GEX (USD per 1% move) is an estimate assuming "
        f"{_DESCRIPTIONS[spec.positioning]} (positioning={spec.positioning!r}); "
        f"spot = {row[_SOURCE]}."
    ]
    if row["_n_left"]:
        parts.append(
            f"{row['_n_left']} option(s) with open interest but no usable vol, "
            "forward or time to expiry carry no gamma."
        )
    if row["_n_backed"]:
        parts.append(f"{row['_n_backed']} vol(s) backed out of mark_price.")
    if row["gamma_flip"] is None:
        lo, hi = (row[_SPOT_OUT] * (1 + s * spec.grid_span) for s in (-1, 1))
        if not np.any(profile):
            why = "the chain carries no dealer gamma"
        else:
            sign = "positive" if profile[np.flatnonzero(profile)[0]] > 0 else "negative"
            why = f"total GEX stays {sign}"
        parts.append(f"No gamma flip between {lo:,.0f} and {hi:,.0f} USD: {why}.")
    return " ".join([*parts, *_smile_notes(row, spec)])


def _smile_notes(row: dict[str, Any], spec: ChainSpec) -> list[str]:
    """Caveats on per-expiry skew and constant-maturity values left null."""
    parts = []
    if row["_n_no_skew"]:
        parts.append(
            f"{row['_n_no_skew']} expiry(ies) without 25-delta skew: their strikes "
            "do not reach 25 delta."
        )
    atm = {d: row[f"atm_iv_{d}d"] for d in spec.cm_days}
    no_skew = [d for d in spec.cm_days if row[f"rr25_{d}d"] is None and atm[d]]
    if no_skew:
        parts.append(f"No constant-maturity 25-delta skew at {no_skew} days.")
    missing = [d for d, iv in atm.items() if iv is None]
    if missing:
        span = (
            f"expiries span {row['_d_min']:.1f}-{row['_d_max']:.1f} days"
            if row["_d_min"] is not None
            else "no expiry has an ATM IV"
        )
        parts.append(
            f"No constant-maturity ATM IV at {missing} days ({span}; no extrapolation)."
        )
    return parts
