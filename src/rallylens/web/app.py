"""The dashboard's routes: one page and a read-only JSON API over the store.

``create_app(store_path)`` returns a FastAPI application; ``rallylens serve``
runs it with uvicorn on 127.0.0.1. Routes parse parameters, call the
dashboard service (:mod:`rallylens.web._service`, the same library functions
as the CLI) and convert results (:mod:`rallylens.web._views`); they hold no
SQL and no feature logic. Every error is a 4xx answer whose body names what
failed (schema :class:`rallylens.web._models.ErrorOut`).
"""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from rallylens import __version__
from rallylens.exceptions import RallylensError
from rallylens.web._assets import (
    BadParameterError,
    OutOfRangeError,
    StudyUnavailableError,
    UnknownAssetError,
)
from rallylens.web._figures import figures_json
from rallylens.web._models import (
    AnalysisOut,
    AssetsOut,
    ErrorOut,
    FiguresOut,
    RalliesOut,
    StudyOut,
)
from rallylens.web._service import Dashboard
from rallylens.web._views import (
    analysis_out,
    asset_out,
    rallies_out,
    range_out,
    study_out,
)

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_STATIC = files("rallylens.web") / "static"
_ASSET = Query(description="Asset, e.g. BTC (see /api/assets).", examples=["BTC"])
_AT = Query(
    description="As-of time: YYYY-MM-DD means after that day's close (UTC); "
    "YYYY-MM-DDTHH:MM[:SS] is that instant (UTC unless an offset is given). "
    "Default: the last close in the store.",
    examples=["2022-08-10"],
)
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown asset."},
    422: {
        "model": ErrorOut,
        "description": "Malformed parameter, date outside the data, or too "
        "little data for the analysis.",
    },
}


def _error(status: int, exc: Exception, **extra: Any) -> JSONResponse:
    body = ErrorOut(error=type(exc).__name__, detail=str(exc), **extra)
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    """Map library errors to 4xx answers; anything unexpected is logged."""

    @app.exception_handler(UnknownAssetError)
    def unknown_asset(_: Request, exc: UnknownAssetError) -> JSONResponse:
        return _error(404, exc, assets=exc.assets)

    @app.exception_handler(OutOfRangeError)
    def out_of_range(_: Request, exc: OutOfRangeError) -> JSONResponse:
        return _error(422, exc, range=range_out(exc.data))

    @app.exception_handler(StudyUnavailableError)
    def study_unavailable(_: Request, exc: StudyUnavailableError) -> JSONResponse:
        return _error(409 if exc.installed else 503, exc)

    @app.exception_handler(RallylensError)
    def library_error(_: Request, exc: RallylensError) -> JSONResponse:
        return _error(422, exc)

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'}: "
            f"{err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
        return _error(422, BadParameterError("; ".join(parts)))

    @app.exception_handler(Exception)
    def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in the dashboard")
        return _error(500, exc)


def _add_pages(app: FastAPI) -> None:
    """The dashboard page, its script and style, and plotly.js from the package."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((_STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        script = files("plotly") / "package_data" / "plotly.min.js"
        return Response(
            script.read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")


def _add_api(app: FastAPI, dashboard: Dashboard) -> None:
    @app.get("/api/assets", response_model=AssetsOut, tags=["data"])
    def assets() -> AssetsOut:
        """Every asset with price bars, its as-of range and missing data."""
        return AssetsOut(
            store=str(dashboard.store_path),
            assets=[asset_out(dashboard.asset_data(a)) for a in dashboard.assets()],
        )

    @app.get(
        "/api/analyze", response_model=AnalysisOut, responses=_ERRORS, tags=["rally"]
    )
    def analyze(
        asset: Annotated[str, _ASSET], at: Annotated[str | None, _AT] = None
    ) -> AnalysisOut:
        """The rally in progress at `at` (else the latest): verdict, reasons, levels."""
        data, result = dashboard.analyze(asset, at)
        return analysis_out(data, result)

    @app.get(
        "/api/rallies", response_model=RalliesOut, responses=_ERRORS, tags=["rally"]
    )
    def rallies(
        asset: Annotated[str, _ASSET], at: Annotated[str | None, _AT] = None
    ) -> RalliesOut:
        """Every rally known at `at`, each judged at its peak (or at `at`)."""
        data, as_of, table = dashboard.rallies(asset, at)
        return rallies_out(data.asset, as_of, table)

    @app.get(
        "/api/figures",
        response_model=FiguresOut,
        responses=_ERRORS,
        tags=["rally"],
    )
    def figures(
        asset: Annotated[str, _ASSET], at: Annotated[str | None, _AT] = None
    ) -> Response:
        """The report's figures at `at` as plotly JSON, in report order."""
        return Response(
            figures_json(dashboard, asset, at), media_type="application/json"
        )

    study_errors: dict[int | str, dict[str, Any]] = {
        **_ERRORS,
        409: {"model": ErrorOut, "description": "The study cannot be computed."},
        503: {"model": ErrorOut, "description": "The study is not installed."},
    }

    @app.get(
        "/api/study", response_model=StudyOut, responses=study_errors, tags=["study"]
    )
    def study(
        assets: Annotated[
            str | None,
            Query(
                description="Comma-separated assets (default: every asset).",
                examples=["BTC,ETH"],
            ),
        ] = None,
        since: Annotated[
            str | None,
            Query(
                description="Only rallies from this date (YYYY-MM-DD, UTC).",
                examples=["2020-01-01"],
            ),
        ] = None,
    ) -> StudyOut:
        """Event study over past rallies: failure rates, reliability, scores."""
        wanted = [a for a in (assets or "").split(",") if a.strip()]
        names, start, result = dashboard.study(wanted, since)
        return study_out(names, start, result)


def create_app(
    store_path: str | Path,
    *,
    timeframe: str = "1d",
    dashboard: Dashboard | None = None,
) -> FastAPI:
    """The dashboard application over a store (opened read-only).

    Parameters
    ----------
    store_path : str or Path
        The DuckDB store; it must exist and is never written.
    timeframe : str, default "1d"
        Bar length of the analysis (``1h``, ``4h`` or ``1d``).
    dashboard : Dashboard, optional
        A prepared service (tests, benchmarks); default: a new one.

    Returns
    -------
    FastAPI
        Routes ``/`` (the page) and ``/api/assets``, ``/api/analyze``,
        ``/api/rallies``, ``/api/figures``, ``/api/study`` and the OpenAPI
        schema at ``/openapi.json`` (no ``/docs``: Swagger UI would load its
        scripts from a CDN, and the dashboard never reaches other hosts).

    Raises
    ------
    StoreError
        If there is no store at ``store_path``.
    """
    service = dashboard or Dashboard(store_path, timeframe=timeframe)
    app = FastAPI(
        title="rallylens dashboard",
        version=__version__,
        description="Is this rally real? Read-only views of a rallylens store.",
        # the interactive docs load their scripts from a CDN: only the schema
        docs_url=None,
        redoc_url=None,
    )
    app.state.dashboard = service
    _add_error_handlers(app)
    _add_pages(app)
    _add_api(app, service)
    return app
