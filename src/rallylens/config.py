"""Settings: frozen dataclasses filled from a TOML file and environment variables.

Only the CLI and the web app call :func:`load_settings`; library code receives
settings as arguments.

The config file is ``$RALLYLENS_CONFIG`` or
``<user config dir>/rallylens/config.toml``::

    store = "~/data/rallylens.duckdb"     # the DuckDB file
    mappings = ["~/rallylens/mappings"]   # mapping files/folders used by import

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
    "DEFAULT_STORE_NAME",
    "Settings",
    "default_config_path",
    "default_store_path",
    "load_settings",
]

DEFAULT_STORE_NAME = "rallylens.duckdb"
_KEYS = {"store", "mappings"}


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
class Settings:
    """Resolved settings.

    Attributes
    ----------
    store_path : Path
        The DuckDB store file.
    mappings : tuple[Path, ...]
        Mapping files or folders applied by ``rallylens import``.
    """

    store_path: Path = field(default_factory=default_store_path)
    mappings: tuple[Path, ...] = ()


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
    return Settings(store_path, tuple(Path(str(m)).expanduser() for m in mappings))


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
