"""Synthetic stores for docs, tests and demos: generated series, real ingest path.

:func:`make_synthetic_series` turns a generated market
(:mod:`rallylens.datasets._market`) into canonical series frames (spot and
perp candles with taker volumes, funding settlements, open interest,
liquidations, DVOL and weekly option-chain snapshots);
:func:`build_synthetic_store` writes them with
:func:`rallylens.store.write_series`, exactly as an import would, and
:func:`make_synthetic_panel` reads them back through
:func:`rallylens.store.load_panel` from a throw-away in-memory store.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from rallylens._typing import SeriesKind
from rallylens.datasets._market import HOURS_PER_DAY, Market, generate_market
from rallylens.schemas import (
    CANDLES,
    CLOSE,
    EXPIRY,
    FUNDING,
    HIGH,
    INDEX_PRICE,
    INSTRUMENT,
    INTERVAL_HOURS,
    LIQUIDATIONS,
    LONG_USD,
    LOW,
    MARK_IV,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD,
    OI_USD_DERIVED,
    OPEN,
    OPEN_INTEREST,
    OPTION_OI,
    OPTION_TYPE,
    OPTIONS_CHAIN,
    QUOTE_VOLUME,
    RATE,
    SHORT_USD,
    STRIKE,
    TAKER_BUY_BASE,
    TAKER_BUY_QUOTE,
    TRADES,
    TS,
    TS_DTYPE,
    UNDERLYING_PRICE,
    VOL_INDEX,
    VOLUME,
    FrameSchema,
    SeriesFrame,
    SeriesKey,
    validate,
)
from rallylens.store import ImportRecord, Panel, Store, load_panel, write_series

__all__ = [
    "SYNTHETIC_ASSETS",
    "SYNTHETIC_START",
    "build_synthetic_store",
    "make_synthetic_panel",
    "make_synthetic_series",
]

SYNTHETIC_START: Final = datetime(2023, 1, 1, tzinfo=UTC)
"""Open of the first generated hour."""
SYNTHETIC_ASSETS: Final = ("BTC", "ETH")
"""Assets :func:`build_synthetic_store` generates by default."""

_HOUR: Final = timedelta(hours=1)
_FUNDING_HOURS: Final = 8
_CHAIN_HOUR: Final = 8
_EXPIRY_DAYS: Final = (3, 10, 31, 66, 122)
_STRIKE_MONEYNESS: Final = np.linspace(-0.42, 0.42, 15)
_PRESET: Final = "synthetic"


def _frame(schema: FrameSchema, data: Mapping[str, object]) -> pl.DataFrame:
    """A frame of ``schema`` from the given columns (the others null)."""
    n = len(next(iter(data.values())))  # type: ignore[arg-type]
    columns = {c: data.get(c, [None] * n) for c in schema.columns}
    return validate(pl.DataFrame(columns, schema=dict(schema.columns)), schema)


def _hours(start: datetime, n: int) -> pl.Series:
    return pl.datetime_range(
        start, start + (n - 1) * _HOUR, "1h", time_zone="UTC", eager=True
    ).cast(TS_DTYPE)


def _candles(
    ts: pl.Series, close: np.ndarray, volume: np.ndarray, buy: np.ndarray, m: Market
) -> pl.DataFrame:
    """Hourly candles: open = previous close, wicks from the market."""
    opens = np.concatenate([[close[0]], close[:-1]])
    taker_base = volume * buy
    return _frame(
        CANDLES,
        {
            TS: ts,
            OPEN: opens,
            HIGH: np.maximum(opens, close) * m.wick_up,
            LOW: np.minimum(opens, close) / m.wick_down,
            CLOSE: close,
            VOLUME: volume,
            QUOTE_VOLUME: volume * close,
            TRADES: np.maximum(1, (volume * close / 5_000).astype(np.int64)),
            TAKER_BUY_BASE: taker_base,
            TAKER_BUY_QUOTE: taker_base * close,
        },
    )


def _funding(ts: pl.Series, m: Market) -> pl.DataFrame:
    """A settlement every 8 hours (00, 08, 16 UTC) of the rate accrued then."""
    hours = ts.dt.hour().to_numpy()
    keep = hours % _FUNDING_HOURS == 0
    return _frame(
        FUNDING,
        {
            TS: ts.filter(pl.Series(keep)),
            RATE: m.funding_8h[keep],
            INTERVAL_HOURS: pl.Series(
                [_FUNDING_HOURS] * int(keep.sum()), dtype=pl.Int32
            ),
        },
    )


def _open_interest(ts: pl.Series, m: Market) -> pl.DataFrame:
    n = ts.len()
    return _frame(
        OPEN_INTEREST,
        {
            TS: ts,
            OI_BASE: m.oi_base,
            OI_USD: m.oi_base * m.perp_close,
            OI_BASE_DERIVED: [False] * n,
            OI_USD_DERIVED: [True] * n,
        },
    )


def _dvol(ts: pl.Series, m: Market) -> pl.DataFrame:
    """Daily OHLC of the hourly implied volatility (Deribit's DVOL, decimal)."""
    hourly = pl.DataFrame({TS: ts, CLOSE: m.iv})
    daily = (
        hourly.group_by(pl.col(TS).dt.truncate("1d"), maintain_order=True)
        .agg(
            pl.col(CLOSE).first().alias(OPEN),
            pl.col(CLOSE).max().alias(HIGH),
            pl.col(CLOSE).min().alias(LOW),
            pl.col(CLOSE).last(),
        )
        .sort(TS)
    )
    return validate(daily, VOL_INDEX)


def _chain_snapshot(
    asset: str, at: datetime, spot: float, iv: float, trend: float
) -> dict[str, list[object]]:
    """One chain: five expiries x 15 strikes x call/put, with a skewed smile.

    Call open interest is centred above spot, put open interest below; the
    25-delta skew leans to calls after a rise (``trend`` > 0) and to puts
    after a fall.
    """
    step = 10 ** math.floor(math.log10(spot * 0.05))
    rows: dict[str, list[object]] = {c: [] for c in _CHAIN_COLUMNS}
    for days in _EXPIRY_DAYS:
        expiry = at + timedelta(days=days)
        forward = spot * (1 + 0.05 * days / 365)
        for k in _STRIKE_MONEYNESS:
            strike = round(spot * math.exp(k) / step) * step
            smile = iv * (1 + 0.8 * k * k - 0.15 * math.copysign(1, trend) * k)
            for kind, centre in (("call", 0.12), ("put", -0.12)):
                rows[INSTRUMENT].append(
                    f"{asset}-{expiry:%d%b%y}-{strike:.0f}-{kind[0]}".upper()
                )
                rows[EXPIRY].append(expiry)
                rows[STRIKE].append(float(strike))
                rows[OPTION_TYPE].append(kind)
                rows[OPTION_OI].append(
                    5_000 * math.exp(-((k - centre) ** 2) / 0.02) * 30 / days
                )
                rows[MARK_IV].append(smile)
                rows[UNDERLYING_PRICE].append(forward)
                rows[INDEX_PRICE].append(spot)
                rows[TS].append(at)
    return rows


_CHAIN_COLUMNS: Final = (
    TS,
    INSTRUMENT,
    EXPIRY,
    STRIKE,
    OPTION_TYPE,
    OPTION_OI,
    MARK_IV,
    UNDERLYING_PRICE,
    INDEX_PRICE,
)


def _chains(asset: str, ts: pl.Series, m: Market, days: int) -> pl.DataFrame | None:
    """A chain snapshot at 08:00 UTC on each of the last ``days`` days (or None)."""
    times = ts.to_list()
    week = 7 * HOURS_PER_DAY
    first = max(week, len(times) - days * HOURS_PER_DAY)
    if days <= 0 or first >= len(times):
        return None
    first += (_CHAIN_HOUR - times[first].hour) % HOURS_PER_DAY
    rows: dict[str, list[object]] = {c: [] for c in _CHAIN_COLUMNS}
    for i in range(first, len(times), HOURS_PER_DAY):
        trend = float(m.close[i] / m.close[i - week] - 1)
        snap = _chain_snapshot(
            asset, times[i], float(m.close[i]), float(m.iv[i]), trend
        )
        for c in _CHAIN_COLUMNS:
            rows[c].extend(snap[c])
    return _frame(OPTIONS_CHAIN, rows) if rows[TS] else None


def make_synthetic_series(
    asset: str = "BTC",
    *,
    days: int = 900,
    seed: int = 0,
    start: datetime = SYNTHETIC_START,
    options_days: int = 90,
) -> tuple[SeriesFrame, ...]:
    """Generated canonical series of one asset, as a source would return them.

    Parameters
    ----------
    asset : str, default "BTC"
        Base asset (upper case).
    days : int, default 900
        Days of hourly data from ``start`` (at least 30).
    seed : int, default 0
        Noise seed: the same arguments always give the same frames.
    start : datetime, default :data:`SYNTHETIC_START`
        Open of the first hour (timezone-aware).
    options_days : int, default 90
        Days at the end with a daily option-chain snapshot (08:00 UTC); 0 for
        none. Stored chains are recent in real stores too: venues serve only
        the chain as it is now.

    Returns
    -------
    tuple of SeriesFrame
        ``binance`` spot ``{asset}/USDT`` and perp ``{asset}/USDT:USDT`` 1h
        candles (with taker-buy volumes), the perp's funding settlements
        (8 h), its 1h open interest (base and USD), ``all`` ``{asset}/*:*``
        1h liquidations (USD), ``deribit`` DVOL (1d, decimal) and, unless
        disabled, ``deribit`` ``{asset}/USD:{asset}`` daily chain snapshots.

    Notes
    -----
    The price path follows :data:`rallylens.datasets._market.LEGS`: a rise,
    froth, a decline with a short squeeze inside it, a base, a spot-led
    rally, a pullback, a leveraged rally, a long-liquidation flush and a
    squeeze in progress at the end. Every series carries the note
    ``synthetic``.
    """
    asset = asset.upper()
    m = generate_market(asset, days=days, seed=seed)
    ts = _hours(start.astimezone(UTC), m.close.size)
    spot, perp = f"{asset}/USDT", f"{asset}/USDT:USDT"
    note = {"synthetic": f"generated by rallylens.datasets (seed={seed})"}

    def key(venue: str, market: str, kind: SeriesKind, tf: str) -> SeriesKey:
        return SeriesKey(venue, market, kind, tf)

    out = [
        (
            key("binance", spot, SeriesKind.OHLCV, "1h"),
            _candles(ts, m.close, m.spot_volume, m.spot_buy, m),
        ),
        (
            key("binance", perp, SeriesKind.OHLCV, "1h"),
            _candles(ts, m.perp_close, m.perp_volume, m.perp_buy, m),
        ),
        (key("binance", perp, SeriesKind.FUNDING, "settle"), _funding(ts, m)),
        (key("binance", perp, SeriesKind.OPEN_INTEREST, "1h"), _open_interest(ts, m)),
        (
            key("all", f"{asset}/*:*", SeriesKind.LIQUIDATIONS, "1h"),
            _frame(
                LIQUIDATIONS,
                {TS: ts, LONG_USD: m.liq_long_usd, SHORT_USD: m.liq_short_usd},
            ),
        ),
        (key("deribit", asset, SeriesKind.VOL_INDEX, "1d"), _dvol(ts, m)),
    ]
    chains = _chains(asset, ts, m, options_days)
    if chains is not None:
        chain_key = key(
            "deribit", f"{asset}/USD:{asset}", SeriesKind.OPTIONS_CHAIN, "snapshot"
        )
        out.append((chain_key, chains))
    return tuple(SeriesFrame(k, f, note) for k, f in out)


def build_synthetic_store(
    path: str | Path,
    *,
    assets: Sequence[str] = SYNTHETIC_ASSETS,
    days: int = 900,
    seed: int = 0,
    start: datetime = SYNTHETIC_START,
    options_days: int = 90,
) -> Path:
    """Write a store of generated data for ``assets`` (through the real write path).

    Parameters
    ----------
    path : str or Path
        Store file to create or extend (its folder is created).
    assets : sequence of str, default ("BTC", "ETH")
        Assets to generate, each with its own noise.
    days, seed, start, options_days
        As in :func:`make_synthetic_series`.

    Returns
    -------
    Path
        ``path``. Building twice with the same arguments stores nothing new
        (writes are idempotent upserts).

    Examples
    --------
    >>> import tempfile
    >>> from rallylens.store import Store, load_panel
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = build_synthetic_store(f"{tmp}/demo.duckdb", assets=["BTC"], days=60)
    ...     with Store(path, read_only=True) as store:
    ...         load_panel(store, "BTC", "1d").frame.height
    60
    """
    target = Path(path)
    with Store(target) as store:
        for asset in assets:
            frames = make_synthetic_series(
                asset,
                days=days,
                seed=seed,
                start=start,
                options_days=options_days,
            )
            write_series(store, frames, record=_record(asset, days, seed, start))
    return target


def _record(asset: str, days: int, seed: int, start: datetime) -> ImportRecord:
    """Provenance of one generated asset (the hash names the arguments)."""
    what = f"{asset}:{days}:{seed}:{start.isoformat()}"
    return ImportRecord(
        path=f"synthetic://{asset}?days={days}&seed={seed}",
        sha256=hashlib.sha256(what.encode()).hexdigest(),
        size_bytes=0,
        preset=_PRESET,
        options={"asset": asset, "days": days, "seed": seed, "start": start},
    )


def make_synthetic_panel(
    asset: str = "BTC",
    *,
    timeframe: str = "1h",
    days: int = 900,
    seed: int = 0,
    start: datetime = SYNTHETIC_START,
    as_of: datetime | None = None,
) -> Panel:
    """The :func:`rallylens.store.load_panel` panel of a generated asset.

    The series of :func:`make_synthetic_series` (without option chains) are
    written to an in-memory store and read back, so the panel is exactly what
    a store built by :func:`build_synthetic_store` gives.

    Parameters
    ----------
    asset : str, default "BTC"
        Base asset.
    timeframe : str, default "1h"
        Panel bar length (``1h``, ``4h``, ``1d``).
    days, seed, start
        As in :func:`make_synthetic_series`.
    as_of : datetime, optional
        Passed to :func:`rallylens.store.load_panel`.

    Returns
    -------
    Panel
        ``frame`` in schema :data:`rallylens.schemas.PANEL`; feed it to
        :func:`rallylens.features.prepare_bars` for BARS.
    """
    frames = make_synthetic_series(
        asset, days=days, seed=seed, start=start, options_days=0
    )
    with Store(":memory:") as store:
        write_series(store, frames)
        return load_panel(store, asset, timeframe, as_of=as_of)
