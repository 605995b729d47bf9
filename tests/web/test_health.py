"""Liveness and readiness as a load balancer or SIP dispatcher probes them."""

from __future__ import annotations

import httpx

from afterbeep.store import Store
from afterbeep.web.app import create_app
from afterbeep.web.context import WebContext
from afterbeep.web.live import Hub

from .conftest import BASE


async def test_ready_only_once_start_up_work_is_done(store: Store) -> None:
    ready = False
    app = create_app(WebContext(store, Hub(), ready=lambda: ready))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        assert (await client.get("/healthz")).status_code == 200  # alive while starting
        starting = await client.get("/readyz")
        assert (starting.status_code, starting.text) == (503, "starting\n")
        ready = True
        assert (await client.get("/readyz")).status_code == 200
