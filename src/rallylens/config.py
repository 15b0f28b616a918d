"""Settings: frozen dataclasses filled from a TOML file and environment variables.

Only the CLI and the web app call :func:`load_settings`; library code receives
settings as arguments.

The config file is ``$RALLYLENS_CONFIG`` or
``<user config dir>/rallylens/config.toml``::

    store = "~/data/rallylens.duckdb"     # the DuckDB file
    mappings = ["~/rallylens/mappings"]   # mapping files/folders used by import

    [fetch]
    venues = ["binance", "bybit", "okx", "deribit"]   # where fetch/analyze look
    history_days = 1095                   # first fetch of an asset goes back this far
    base_url = "http://127.0.0.1:8080"    # send every venue request here (a proxy
                                          # or the test emulator); unset = real hosts
    timeout_seconds = 15
    archive_url = "https://data.binance.vision"   # fetch --archive
    archive_dir = "~/.cache/rallylens/binance-archive"

    [fetch.series]                        # replace a venue's default series
    BTC = ["binance:BTC/USDT:ohlcv:1d", "binance:BTC/USDT:USDT:funding:settle"]

``RALLYLENS_STORE`` overrides ``store``; ``--store`` on the command line
overrides both.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rallylens.exceptions import ConfigError

__all__ = [
    "DEFAULT_FETCH",
    "DEFAULT_STORE_NAME",
    "FetchSettings",
    "Settings",
    "default_config_path",
    "default_store_path",
    "load_settings",
]

DEFAULT_STORE_NAME = "rallylens.duckdb"
_KEYS = {"store", "mappings", "fetch"}
_FETCH_KEYS = {
    "venues",
    "history_days",
    "base_url",
    "timeout_seconds",
    "series",
    "archive_url",
    "archive_dir",
}
ARCHIVE_URL = "https://data.binance.vision"
VENUES = ("binance", "bybit", "okx", "deribit")


def default_store_path() -> Path:
    """The store in the user's data directory (e.g. ``~/.local/share/rallylens``)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("rallylens", appauthor=False)) / DEFAULT_STORE_NAME


def default_config_path() -> Path:
    """``$RALLYLENS_CONFIG`` or the user's config directory."""
    env = os.environ.get("RALLYLENS_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("rallylens", appauthor=False)) / "config.toml"


@dataclass(frozen=True)
class FetchSettings:
    """What ``rallylens fetch`` and ``analyze`` download.

    Attributes
    ----------
    venues : tuple[str, ...]
        Venues asked, in order (``binance``, ``bybit``, ``okx``, ``deribit``).
    history_days : int
        How far back the first fetch of a series goes.
    base_url : str or None
        Send every venue request to this host instead of the venue's own.
    timeout_seconds : float
        Per-request timeout.
    series : dict[str, tuple[str, ...]]
        Per asset, the series to fetch as ``venue:market:kind:timeframe``
        (replacing the venues' defaults for that asset).
    archive_url : str
        Base URL of Binance's public bulk archive (``fetch --archive``).
    archive_dir : Path
        Where archive files are kept (verified files are not downloaded again).
    """

    venues: tuple[str, ...] = VENUES
    history_days: int = 1095
    base_url: str | None = None
    timeout_seconds: float = 15.0
    series: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    archive_url: str = ARCHIVE_URL
    archive_dir: Path = field(default_factory=lambda: default_archive_dir())


def default_archive_dir() -> Path:
    """The user's cache directory for archive files."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rallylens", appauthor=False)) / "binance-archive"


DEFAULT_FETCH = FetchSettings()


@dataclass(frozen=True)
class Settings:
    """Resolved settings.

    Attributes
    ----------
    store_path : Path
        The DuckDB store file.
    mappings : tuple[Path, ...]
        Mapping files or folders applied by ``rallylens import``.
    fetch : FetchSettings
        What ``fetch`` and ``analyze`` download.
    """

    store_path: Path = field(default_factory=default_store_path)
    mappings: tuple[Path, ...] = ()
    fetch: FetchSettings = DEFAULT_FETCH


def load_settings(
    *, store: str | Path | None = None, config_path: Path | None = None
) -> Settings:
    """Resolve settings: ``store`` argument > environment > config file > defaults.

    Raises
    ------
    ConfigError
        If the config file is not valid TOML or has a key rallylens does not know.
    """
    path = config_path or default_config_path()
    document = _read_config(path) if path.exists() else {}
    store_value = store or os.environ.get("RALLYLENS_STORE") or document.get("store")
    store_path = (
        Path(str(store_value)).expanduser() if store_value else default_store_path()
    )
    mappings = document.get("mappings", [])
    if not isinstance(mappings, list):
        raise ConfigError(
            f"{path}: 'mappings' must be a list of paths, got {mappings!r}"
        )
    return Settings(
        store_path,
        tuple(Path(str(m)).expanduser() for m in mappings),
        _fetch_settings(path, document.get("fetch", {})),
    )


def _fetch_settings(path: Path, table: object) -> FetchSettings:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: [fetch] must be a table, got {table!r}")
    unknown = set(table) - _FETCH_KEYS
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown keys in [fetch] {sorted(unknown)}; "
            f"known: {sorted(_FETCH_KEYS)}"
        )
    venues = table.get("venues", list(VENUES))
    if not isinstance(venues, list) or not set(venues) <= set(VENUES):
        raise ConfigError(
            f"{path}: fetch.venues must be a list drawn from {list(VENUES)}, "
            f"got {venues!r}"
        )
    days = table.get("history_days", DEFAULT_FETCH.history_days)
    timeout = table.get("timeout_seconds", DEFAULT_FETCH.timeout_seconds)
    if not isinstance(days, int) or days <= 0:
        raise ConfigError(f"{path}: fetch.history_days must be a positive integer")
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{path}: fetch.timeout_seconds must be a positive number")
    base_url = table.get("base_url")
    if base_url is not None and not str(base_url).startswith(("http://", "https://")):
        raise ConfigError(
            f"{path}: fetch.base_url must be an http(s) URL: {base_url!r}"
        )
    series = table.get("series", {})
    if not isinstance(series, Mapping) or not all(
        isinstance(v, list) and all(str(x).count(":") >= 3 for x in v)
        for v in series.values()
    ):
        raise ConfigError(
            f"{path}: fetch.series maps an asset to a list of "
            "'venue:market:kind:timeframe' strings"
        )
    archive_url = str(table.get("archive_url", ARCHIVE_URL))
    if not archive_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{path}: fetch.archive_url must be an http(s) URL, got {archive_url!r}"
        )
    archive_dir = table.get("archive_dir")
    return FetchSettings(
        tuple(venues),
        days,
        str(base_url) if base_url else None,
        float(timeout),
        {str(k).upper(): tuple(str(x) for x in v) for k, v in series.items()},
        archive_url,
        Path(str(archive_dir)).expanduser() if archive_dir else default_archive_dir(),
    )


def _read_config(path: Path) -> Mapping[str, object]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    unknown = set(document) - _KEYS
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown keys {sorted(unknown)}; "
            f"known: {sorted(_KEYS)}"
        )
    return document
