"""Static PNGs of report figures through kaleido and the machine's Chromium.

Rendering is offline: kaleido loads the plotly.js of the installed plotly
package from disk, MathJax is disabled (it would come from a CDN), and
Chromium gets a proxy on a closed local port, so no request can leave the
machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from rallylens.exceptions import ConfigError

__all__ = ["PNG_WIDTH", "find_chromium", "write_pngs"]

PNG_WIDTH = 1200
"""Width of every PNG in pixels (heights come from the figures)."""
_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
_CLOSED_PROXY = "http://127.0.0.1:9"
_INSTALL = (
    "install Chromium (Debian/Ubuntu: 'apt-get install chromium') or set "
    "BROWSER_PATH to a Chrome/Chromium executable"
)


def find_chromium() -> str | None:
    """The browser kaleido should drive: $BROWSER_PATH, /usr/bin/chromium, PATH."""
    override = os.environ.get("BROWSER_PATH")
    if override:
        return override if Path(override).is_file() else None
    for candidate in _CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    for name in _NAMES:
        if found := shutil.which(name):
            return found
    return None


def write_pngs(
    figures: Mapping[str, go.Figure],
    folder: Path,
    *,
    prefix: str,
    width: int = PNG_WIDTH,
) -> list[Path]:
    """Render each figure to ``folder/<prefix>-<key>.png`` in one browser session.

    Parameters
    ----------
    figures : mapping of str to go.Figure
        Figures by key.
    folder : Path
        Output folder (created).
    prefix : str
        File-name prefix, e.g. ``btc-2022-08-11``.
    width : int, default 1200
        Width in pixels; each height is the figure's own (default 400).

    Returns
    -------
    list of Path
        Files written, in the order of ``figures``.

    Raises
    ------
    ConfigError
        If kaleido is not installed, no Chromium is found, or rendering fails.
    """
    try:
        import kaleido
    except ImportError as exc:  # pragma: no cover - kaleido is a dependency
        raise ConfigError(
            "PNG export needs kaleido: pip install 'kaleido>=1.0' (and Chromium)"
        ) from exc
    browser = find_chromium()
    if browser is None:
        raise ConfigError(f"PNG export needs a Chromium browser: {_INSTALL}")
    folder.mkdir(parents=True, exist_ok=True)
    jobs: list[dict[str, Any]] = []
    paths = []
    for key, fig in figures.items():
        path = folder / f"{prefix}-{key}.png"
        height = int(fig.layout.height or 400)
        opts = {"format": "png", "width": width, "height": height, "scale": 1}
        jobs.append({"fig": fig.to_dict(), "path": str(path), "opts": opts})
        paths.append(path)
    kopts = {"mathjax": False, "path": browser, "proxy_server": _CLOSED_PROXY}
    try:
        kaleido.write_fig_from_object_sync(jobs, kopts=kopts, cancel_on_error=True)
    except Exception as exc:  # kaleido/choreographer raise many kinds
        raise ConfigError(
            f"PNG export with kaleido and {browser} failed: {type(exc).__name__}: "
            f"{exc}; check that the browser starts headless, or {_INSTALL}"
        ) from exc
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"kaleido wrote no file for {', '.join(missing)}")
    return paths
