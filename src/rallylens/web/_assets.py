"""Parameters and per-asset data of the dashboard: parsing, ranges, errors.

A bare date means after that day's close (the next midnight UTC), as in
``rallylens analyze --at``; an as-of time is accepted from the close of the
asset's first bar to the end of the day of its last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from rallylens.exceptions import ConfigError, InsufficientDataError, StoreError
from rallylens.schemas import TS

__all__ = [
    "AssetData",
    "BadParameterError",
    "OutOfRangeError",
    "StudyUnavailableError",
    "UnknownAssetError",
    "ceil_day",
    "parse_at",
    "parse_since",
]

_DAY = timedelta(days=1)
_AT_FORMAT = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)"


class UnknownAssetError(StoreError):
    """The store holds no price bars of the asset asked for."""

    def __init__(self, message: str, assets: Sequence[str]) -> None:
        super().__init__(message)
        self.assets = list(assets)


class BadParameterError(ConfigError):
    """A query parameter is malformed (a date that does not parse, ...)."""


class OutOfRangeError(InsufficientDataError):
    """The as-of time lies outside the asset's data."""

    def __init__(self, message: str, data: AssetData) -> None:
        super().__init__(message)
        self.data = data


class StudyUnavailableError(InsufficientDataError):
    """The event study cannot be computed (too little data, or not installed)."""

    def __init__(self, message: str, *, installed: bool = True) -> None:
        super().__init__(message)
        self.installed = installed


def _parse_instant(value: str, name: str) -> tuple[datetime, bool]:
    """A date or time parameter as a UTC instant, and whether it was a bare date."""
    text = value.strip()
    try:
        if len(text) <= 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(), tzinfo=UTC), True
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC), False
        return parsed.astimezone(UTC), False
    except OverflowError as exc:
        raise BadParameterError(
            f"{name}={value!r} lies outside the dates that can be represented"
        ) from exc
    except ValueError as exc:
        raise BadParameterError(
            f"{name}={value!r} is not a date or time; use {_AT_FORMAT}"
        ) from exc


def parse_at(value: str) -> datetime:
    """An ``at`` parameter as an as-of time (UTC).

    Parameters
    ----------
    value : str
        ``YYYY-MM-DD`` means after that day's close (the next midnight UTC,
        as in ``rallylens analyze --at``); ``YYYY-MM-DDTHH:MM[:SS]`` with an
        optional offset or ``Z`` is that instant (UTC when naive).

    Raises
    ------
    BadParameterError
        Naming the value and the accepted formats.
    """
    moment, bare = _parse_instant(value, "at")
    if bare and moment.date() == date.max:
        raise BadParameterError(f"at={value!r} is beyond the last date there can be")
    return moment + _DAY if bare else moment


def parse_since(value: str) -> datetime:
    """A ``since`` parameter: the start of that day, or that instant (UTC).

    Raises
    ------
    BadParameterError
        Naming the value and the accepted formats.
    """
    return _parse_instant(value, "since")[0]


def ceil_day(moment: datetime) -> datetime:
    """Midnight UTC at or after ``moment``."""
    day = datetime.combine(moment.date(), time(), tzinfo=UTC)
    return day if day == moment else day + _DAY


@dataclass(frozen=True)
class AssetData:
    """One asset's bars as the dashboard holds them.

    Attributes
    ----------
    asset, timeframe : str
        What was loaded.
    bars : pl.DataFrame
        Schema BARS of the whole history, option positioning attached.
    chains : pl.DataFrame
        Every stored option-chain snapshot (empty when none).
    snapshots : pl.DataFrame
        Per chain snapshot, ``ts`` and the option bar columns
        (:func:`rallylens.features.option_snapshots`); empty without chains.
    missing : dict[str, str]
        Column groups without data, and why (``Panel.missing`` + options).
    step : timedelta
        Bar length.
    """

    asset: str
    timeframe: str
    bars: pl.DataFrame
    chains: pl.DataFrame
    snapshots: pl.DataFrame
    missing: dict[str, str]
    step: timedelta

    @property
    def first(self) -> datetime:
        """Close of the first bar: the earliest as-of time with data."""
        return _as_datetime(self.bars[TS][0]) + self.step

    @property
    def last(self) -> datetime:
        """Close of the last bar."""
        return _as_datetime(self.bars[TS][-1]) + self.step

    @property
    def first_date(self) -> date:
        """Earliest bare date whose as-of time (next midnight) has data."""
        return (ceil_day(self.first) - _DAY).date()

    @property
    def last_date(self) -> date:
        """Latest bare date accepted: the day in which the last bar closes."""
        return (ceil_day(self.last) - _DAY).date()

    def describe_range(self) -> str:
        """The range in words, for error messages."""
        return (
            f"{self.asset} {self.timeframe} bars close from "
            f"{self.first:%Y-%m-%d %H:%M} to {self.last:%Y-%m-%d %H:%M} UTC "
            f"(dates {self.first_date} to {self.last_date})"
        )

    def known_at(self, as_of: datetime) -> pl.DataFrame:
        """The bars closed by ``as_of`` (point in time)."""
        return self.bars.filter(pl.col(TS) + self.step <= as_of)


def _as_datetime(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value
