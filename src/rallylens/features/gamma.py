"""Dealer gamma exposure, walls, max pain and the implied-vol smile of a chain.

Everything here is an *estimate* built on an assumption about who holds the
options: a chain shows open interest, not who is long. The assumption is the
:data:`Positioning` parameter of :class:`ChainSpec` and every output states it.

Pure and vectorised: rows of :data:`rallylens.schemas.OPTIONS_CHAIN` in, frames
and numbers out; the pricing is :mod:`rallylens.features.black76`. The work
is split over private modules: ``_chain_rows`` (per-option rows, gamma and
GEX), ``_gex`` (GEX profile, gamma flip, walls, max pain) and ``_smile``
(per-expiry smile, 25-delta skew, constant maturities).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

import numpy as np
import polars as pl
from numpy.typing import NDArray

from rallylens._typing import POSITIONINGS, Positioning
from rallylens.exceptions import ConfigError, InsufficientDataError
from rallylens.features._chain_columns import (
    BACKED,
    C25,
    CALL,
    CALL_GEX,
    CALL_OI,
    CALL_VOL,
    GEX,
    LEFT_OUT,
    MAX_PAIN,
    NET_GEX,
    OI,
    P25,
    PUT_GEX,
    PUT_OI,
    PUT_VOL,
    SOURCE,
    SPOT,
    SPOT_OUT,
    VOL,
    YEARS,
)
from rallylens.features._chain_rows import check_columns, prepare_rows
from rallylens.features._gex import gamma_flips, gex_profile, max_pain, wall_strike
from rallylens.features._smile import constant_maturity, expiry_metrics, smile_notes
from rallylens.schemas import EXPIRY, STRIKE, TS

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

WallBasis = Literal["gex", "oi"]
_WALL_BASES: Final[tuple[str, ...]] = get_args(WallBasis)
# each positioning in words, quoted in every note
_DESCRIPTIONS: Final[dict[str, str]] = {
    "dealer_long_calls_short_puts": "dealers long the calls and short the puts",
    "dealer_short_all": "dealers short every option (customers long all open interest)",
    "dealer_long_all": "dealers long every option",
}


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
    check_columns(chain)
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
        spot=row[SPOT_OUT],
        positioning=spec.positioning,
        by_strike=result.by_strike.drop(TS),
        by_expiry=result.by_expiry.drop(TS),
        total_gex_usd=row["total_gex_usd"],
        gamma_flip=row["gamma_flip"],
        call_wall=row["call_wall"],
        put_wall=row["put_wall"],
        max_pain=row[MAX_PAIN],
        put_call_oi_ratio=row["put_call_oi_ratio"],
        cm_atm_iv={d: row[f"atm_iv_{d}d"] for d in days},
        cm_rr25={d: row[f"rr25_{d}d"] for d in days},
        cm_bf25={d: row[f"bf25_{d}d"] for d in days},
        note=row["note"],
        gex_profile=pl.DataFrame(
            {SPOT_OUT: result.grid[0], NET_GEX: result.profile[0]}
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
    check_columns(chains)
    if chains.height == 0:
        raise InsufficientDataError("the option chains hold no rows; load snapshots")
    return _analyse(chains, spec, None).scalars


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
    rows = prepare_rows(chain, spec.positioning, spot)
    call = pl.col(CALL)
    cells = (
        rows.group_by(TS, EXPIRY, STRIKE)
        .agg(
            pl.col(GEX).filter(call).sum().alias(CALL_GEX),
            pl.col(GEX).filter(~call).sum().alias(PUT_GEX),
            pl.col(OI).filter(call).sum().alias(CALL_OI),
            pl.col(OI).filter(~call).sum().alias(PUT_OI),
            pl.col(VOL).filter(call & (pl.col(YEARS) > 0)).mean().alias(CALL_VOL),
            pl.col(VOL).filter(~call & (pl.col(YEARS) > 0)).mean().alias(PUT_VOL),
        )
        .sort(TS, EXPIRY, STRIKE)
    )
    by_strike = (
        cells.group_by(TS, STRIKE)
        .agg(pl.col(CALL_GEX, PUT_GEX, CALL_OI, PUT_OI).sum())
        .sort(TS, STRIKE)
        .select(
            TS,
            STRIKE,
            CALL_GEX,
            PUT_GEX,
            (pl.col(CALL_GEX) + pl.col(PUT_GEX)).alias(NET_GEX),
            CALL_OI,
            PUT_OI,
        )
    )
    by_expiry = expiry_metrics(rows, cells)
    grid, profile = gex_profile(
        rows,
        spec.positioning,
        grid_span=spec.grid_span,
        grid_points=spec.grid_points,
    )
    scalars = _scalars(rows, by_strike, by_expiry, spec, grid, profile)
    return _Analysis(scalars, by_strike, by_expiry.drop(C25, P25, YEARS), grid, profile)


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
            pl.col(SPOT).first().alias(SPOT_OUT),
            pl.col(GEX).sum().alias("total_gex_usd"),
            pl.col(OI).filter(pl.col(CALL)).sum().alias("_c_oi"),
            pl.col(OI).filter(~pl.col(CALL)).sum().alias("_p_oi"),
            pl.col(SOURCE).first(),
            pl.col(BACKED).sum().alias("_n_backed"),
            pl.col(LEFT_OUT).sum().alias("_n_left"),
        )
        .sort(TS)
    )
    flip = gamma_flips(grid, profile, per_ts[SPOT_OUT].to_numpy())
    out = per_ts.with_columns(
        pl.lit(spec.positioning).alias("positioning"),
        pl.Series("gamma_flip", flip, nan_to_null=True),
        pl.when(pl.col("_c_oi") > 0)
        .then(pl.col("_p_oi") / pl.col("_c_oi"))
        .alias("put_call_oi_ratio"),
    )
    walls = by_strike.group_by(TS).agg(
        wall_strike(CALL_GEX, CALL_OI, "call_wall", spec.wall_basis),
        wall_strike(PUT_GEX, PUT_OI, "put_wall", spec.wall_basis),
    )
    for part in (
        walls,
        max_pain(by_strike, [TS]),
        constant_maturity(by_expiry, spec.cm_days),
    ):
        out = out.join(part, on=TS, how="left", maintain_order="left")
    notes = [
        _note(row, spec, prof)
        for row, prof in zip(out.iter_rows(named=True), profile, strict=True)
    ]
    scalars = [TS, SPOT_OUT, "positioning", "total_gex_usd", "gamma_flip",
               "call_wall", "put_wall", MAX_PAIN, "put_call_oi_ratio"]  # fmt: skip
    cm_cols = [f"{m}_{d}d" for m in ("atm_iv", "rr25", "bf25") for d in spec.cm_days]
    notes_col = pl.Series("note", notes, dtype=pl.String)
    return out.with_columns(notes_col).select(*scalars, *cm_cols, "note")


def _note(row: dict[str, Any], spec: ChainSpec, profile: FloatArray) -> str:
    """Plain-language caveats of one snapshot's metrics."""
    parts = [
        "GEX (USD per 1% move) is an estimate assuming "
        f"{_DESCRIPTIONS[spec.positioning]} (positioning={spec.positioning!r}); "
        f"spot = {row[SOURCE]}."
    ]
    if row["_n_left"]:
        parts.append(
            f"{row['_n_left']} option(s) with open interest but no usable vol, "
            "forward or time to expiry carry no gamma."
        )
    if row["_n_backed"]:
        parts.append(f"{row['_n_backed']} vol(s) backed out of mark_price.")
    if row["gamma_flip"] is None:
        lo, hi = (row[SPOT_OUT] * (1 + s * spec.grid_span) for s in (-1, 1))
        if not np.any(profile):
            why = "the chain carries no dealer gamma"
        else:
            sign = "positive" if profile[np.flatnonzero(profile)[0]] > 0 else "negative"
            why = f"total GEX stays {sign}"
        parts.append(f"No gamma flip between {lo:,.0f} and {hi:,.0f} USD: {why}.")
    return " ".join([*parts, *smile_notes(row, spec.cm_days)])
