"""``rallylens serve``: the dashboard over the store, on this machine by default."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from rallylens.cli._render import err_console
from rallylens.exceptions import ConfigError, RallylensError

if TYPE_CHECKING:
    from rallylens.cli.app import _Context

__all__ = ["serve_cmd"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WEB_EXTRA = "pip install 'rallylens[web]'"


def _web() -> tuple[Any, Any]:
    """``uvicorn.run`` and ``rallylens.web.create_app``, or a clear error."""
    try:
        import uvicorn

        from rallylens.web import create_app
    except ImportError as exc:
        missing = exc.name or "fastapi/uvicorn"
        raise ConfigError(
            f"the dashboard needs the web extra ({missing} is not installed); "
            f"install it with: {_WEB_EXTRA}"
        ) from exc
    return uvicorn.run, create_app


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (anything but loopback exposes the store).",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--timeframe",
    default="1d",
    show_default=True,
    type=click.Choice(["1h", "4h", "1d"]),
    help="Bar length of the analysis.",
)
@click.pass_obj
def serve_cmd(obj: _Context, host: str, port: int, timeframe: str) -> None:
    """Serve the dashboard: pick an asset and an as-of date, see the verdict.

    Read-only on the store (imports and fetches may run alongside; the
    dashboard reloads when the store changes). The page and its JSON API
    (/api/analyze, /api/rallies, /api/figures, /api/study; schema at
    /openapi.json) work without internet access. Needs the web extra.
    """
    try:
        run, create_app = _web()
        app = create_app(obj.settings.store_path, timeframe=timeframe)
    except RallylensError as exc:
        err_console.print(
            f"[bold red]{type(exc).__name__}[/]: {escape(str(exc))}", soft_wrap=True
        )
        sys.exit(1)
    if host not in _LOOPBACK:
        err_console.print(
            f"[yellow]listening on {host}: anyone who can reach this address "
            "can read the store[/]"
        )
    err_console.print(
        escape(
            f"rallylens dashboard on http://{host}:{port}/ "
            f"(store {obj.settings.store_path}; Ctrl-C to stop)"
        )
    )
    run(app, host=host, port=port, log_level="warning")
