"""The ASGI application: the JSON API, the search pages, static files, and
the errors of each as JSON or as a page.  No user input gives a 500."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import IndexLockedError, IndexMissingError, IndexUnreadableError, QuerySyntaxError, SearchkitError
from . import api, pages
from .live import LiveIndex


def _status(e: SearchkitError) -> int:
    if isinstance(e, (IndexMissingError, IndexUnreadableError, IndexLockedError)):
        return 503
    return 400


def _error(request: Request, status: int, message: str, parameter: str | None) -> Response:
    if request.scope.get("endpoint") in pages.PAGES:
        return pages.render(request, "error.html", status, message=message)
    body = {"error": message} | ({"parameter": parameter} if parameter else {})
    return JSONResponse(body, status_code=status)


def create_app(index_dir: str | None = None, check_every: float = 1.0) -> FastAPI:
    """The searchkit web app over the index at ``index_dir`` (default
    ``$SEARCHKIT_INDEX`` or ``index/``), which it opens on the first request
    and re-opens when ``searchkit index`` commits (checked at most every
    ``check_every`` seconds)."""
    live = LiveIndex(index_dir, check_every)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        live.close()

    app = FastAPI(title="searchkit", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Full-text search for Chinese health articles: the JSON API of `searchkit serve`.")
    app.state.live = live
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=os.path.join(pages.HERE, "static")), name="static")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        name = str(first["loc"][-1]) if first.get("loc") else "request"
        return _error(request, 422, f"{name}: {first.get('msg', 'invalid value')}", name)

    @app.exception_handler(api.ApiError)
    async def refused(request: Request, exc: api.ApiError) -> Response:
        return _error(request, exc.status, str(exc), exc.parameter)

    @app.exception_handler(SearchkitError)
    async def library_error(request: Request, exc: SearchkitError) -> Response:
        return _error(request, _status(exc), str(exc), "q" if isinstance(exc, QuerySyntaxError) else None)

    return app
