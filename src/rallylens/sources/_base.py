"""Protocols and options shared by every source adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, Protocol

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, ParseError
from rallylens.schemas import SeriesKey, parse_market, timeframe_duration
from rallylens.sources._convert import EpochUnit, Parsed
from rallylens.sources._reader import RawFile

__all__ = [
    "FileOptions",
    "FileParser",
    "Preset",
    "RateUnit",
    "Source",
]

RateUnit = Literal["decimal", "percent"]
OiUnit = Literal["base", "usd"]


class Source(Protocol):
    """A live venue adapter returning canonical frames.

    The network client (a ccxt exchange) is a constructor argument, so tests
    pass one pointed at the local venue emulator.
    """

    venue: str
    """Venue id written into every series key (``binance``, ``bybit``...)."""

    def series(self, asset: str) -> list[SeriesKey]:
        """The series this venue offers for ``asset`` by default."""
        ...

    def earliest(self, key: SeriesKey, now: datetime) -> datetime | None:
        """Oldest time the venue serves for ``key`` (None: no known limit)."""
        ...

    def fetch(
        self, key: SeriesKey, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        """Rows of ``key`` with ``start <= ts < end``, oldest first, in chunks.

        Each chunk (a page or a few) is in the canonical schema of the key's
        kind, so callers can store progress as it arrives.

        Raises
        ------
        UnsupportedSymbolError
            The venue does not list the market.
        SourceError
            The venue failed after retries (the message says what to do).
        """
        ...


@dataclass(frozen=True)
class FileOptions:
    """What the user (or a mapping rule) says about a file.

    Every field is optional: presets detect what they can from the file's
    name and content, and raise :class:`ParseError` naming the option to pass
    for what they cannot.

    Attributes
    ----------
    venue, market, kind, timeframe
        Series identity overrides (see :class:`~rallylens.schemas.SeriesKey`).
    epoch_unit : {"auto", "s", "ms", "us"}
        Unit of numeric timestamps.
    rate_unit : {"decimal", "percent"}, optional
        Unit of funding rates in the file.
    oi_unit : {"base", "usd"}, optional
        Unit of open-interest values in the file.
    interval_hours : int, optional
        Funding settlement interval the rates refer to.
    snapshot_ts : datetime, optional
        Snapshot time of an option chain whose file does not record it.
    derive_oi : bool
        Derive the missing OI unit from the price in the same file.
    extra : Mapping[str, object]
        Preset-specific settings from a mapping file.
    now : datetime
        Reference clock for the "timestamp in the future" check.
    """

    venue: str | None = None
    market: str | None = None
    kind: SeriesKind | None = None
    timeframe: str | None = None
    epoch_unit: EpochUnit = "auto"
    rate_unit: RateUnit | None = None
    oi_unit: OiUnit | None = None
    interval_hours: int | None = None
    snapshot_ts: datetime | None = None
    derive_oi: bool = False
    extra: Mapping[str, object] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.market is not None:
            parse_market(self.market)
        if self.kind is not None:
            object.__setattr__(self, "kind", SeriesKind(self.kind))
        if self.timeframe is not None:
            timeframe_duration(self.timeframe)
        if self.interval_hours is not None and self.interval_hours not in (1, 2, 4, 8):
            raise ConfigError(
                f"interval_hours {self.interval_hours} is not a funding interval; "
                "use 1, 2, 4 or 8"
            )
        if self.snapshot_ts is not None and self.snapshot_ts.tzinfo is None:
            raise ConfigError("snapshot_ts must carry a time zone (e.g. ...Z)")

    def merged(self, **overrides: object) -> FileOptions:
        """Copy with the given fields replaced where they are still unset."""
        unset = {
            k: v for k, v in overrides.items() if getattr(self, k) in (None, "auto")
        }
        return replace(self, **unset)  # type: ignore[arg-type]

    def key(self, raw: RawFile, *, kind: SeriesKind, what: str = "") -> SeriesKey:
        """Build the series key, naming the missing option if any is unset."""
        missing = [
            name
            for name, value in (
                ("venue", self.venue),
                ("market", self.market),
                ("timeframe", self.timeframe),
            )
            if value is None
        ]
        if missing:
            flags = " ".join(f"--{m} ..." for m in missing)
            raise ParseError(
                f"{raw.path}: cannot tell the {', '.join(missing)} of this "
                f"{what or kind.value} "
                f"file from its name or content; pass {flags} or add a mapping rule"
            )
        assert self.venue and self.market and self.timeframe
        return SeriesKey(self.venue, self.market, self.kind or kind, self.timeframe)


FileParser = Callable[[RawFile, FileOptions], Parsed]
"""A preset's parse function: raw file and options in, canonical series out."""


@dataclass(frozen=True)
class Preset:
    """A named file format.

    Attributes
    ----------
    name : str
        What users pass as ``--preset``.
    description : str
        One line for ``rallylens import --help``.
    detect : Callable[[RawFile], bool]
        Whether a file looks like this format (header and name only).
    parse : FileParser
        The parser.
    """

    name: str
    description: str
    detect: Callable[[RawFile], bool]
    parse: FileParser


def unit_scale(
    raw: RawFile, unit: str | None, *, what: str, values: pl.Series
) -> float:
    """Scale factor to decimals for a rate column, refusing implausible units.

    Raises
    ------
    ParseError
        If ``unit`` is unset, or the values contradict it (a decimal funding
        rate above 1 % per interval on the median is almost surely percent).
    """
    if unit not in ("decimal", "percent"):
        raise ParseError(
            f"{raw.path}: the unit of {what} is not stated; pass --rate-unit percent "
            "or --rate-unit decimal (0.01 % is 0.0001 as a decimal)"
        )
    median = values.abs().median()
    if unit == "decimal" and isinstance(median, float) and median > 0.005:
        raise ParseError(
            f"{raw.path}: {what} median {median:.4g} is implausible as a decimal "
            "rate per interval (that is over 0.5 %); the file is probably in percent: "
            "pass --rate-unit percent"
        )
    return 0.01 if unit == "percent" else 1.0
