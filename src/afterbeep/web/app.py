"""The ASGI app: REST API, pages, static files, health and metrics, one error format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from afterbeep.store.accounts import TooManyAttempts
from afterbeep.store.errors import AlreadyExists, InvalidValue, NotFound, StoreError
from afterbeep.web import api, pages
from afterbeep.web.auth import CsrfRejected, Unauthenticated
from afterbeep.web.context import WebContext

STATIC = Path(str(files("afterbeep.web") / "static"))
# Our pages load only our own script and style; nobody may frame them (clickjacking).
CSP = (
    "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def create_app(ctx: WebContext) -> FastAPI:
    app = FastAPI(
        title="afterbeep",
        summary="Voicemail: mailboxes, messages, greetings, users",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path != "/api/v1/docs":  # Swagger UI loads its script from a CDN
            headers.setdefault("Content-Security-Policy", CSP)
        return response

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> PlainTextResponse:
        # For a load balancer or dispatcher: a node still synthesizing its prompts would
        # make its first callers wait (and stall the calls it already has).
        if not ctx.ready():
            return PlainTextResponse("starting\n", status_code=503)
        return PlainTextResponse("ready\n")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        if ctx.metrics is None:
            return PlainTextResponse("", status_code=404)
        return PlainTextResponse(ctx.metrics())

    def problem(request: Request, status: int, code: str, message: str) -> Response:
        if not request.url.path.startswith("/api/"):
            if status == 401:
                return RedirectResponse("/login", status_code=303)
            return pages.error_page(request, status, message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body = {"error": {"code": code, "message": message}}
        return JSONResponse(body, status_code=status, headers=headers)

    errors: list[tuple[type[Exception], int, str]] = [
        (NotFound, 404, "not_found"),
        (InvalidValue, 422, "invalid"),
        (AlreadyExists, 409, "conflict"),
        (Unauthenticated, 401, "unauthenticated"),
        (CsrfRejected, 403, "csrf"),
        (api.Forbidden, 403, "forbidden"),
        (TooManyAttempts, 429, "too_many"),
    ]
    for kind, status, code in errors:

        async def handle(
            request: Request, exc: Exception, status: int = status, code: str = code
        ) -> Response:
            message = {
                Unauthenticated: "log in, or send an API token (Authorization: Bearer …)",
                CsrfRejected: "missing or wrong CSRF token: reload the page",
            }.get(type(exc), str(exc))
            return problem(request, status, code, message)

        app.add_exception_handler(kind, handle)

    async def store_error(request: Request, exc: Exception) -> Response:
        return problem(request, 503, "unavailable", str(exc))

    app.add_exception_handler(StoreError, store_error)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        return problem(request, 422, "invalid", "; ".join(parts) or "invalid request")

    app.add_exception_handler(RequestValidationError, invalid_request)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return problem(request, exc.status_code, code, str(exc.detail))

    app.add_exception_handler(HTTPException, http_error)
    return app
