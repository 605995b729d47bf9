"""Serve an ASGI app inside the running event loop (the SIP and media loop).

uvicorn's ``serve()`` installs its own signal handlers; the service has its own, so the
server is driven through its startup / main loop / shutdown steps instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


class WebServer:
    def __init__(self, app: ASGIApp, trusted_proxies: str = "") -> None:
        self._app = app
        self._trusted = trusted_proxies
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        config = uvicorn.Config(
            self._app,
            host=host,
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            # Forwarded headers only from the proxies named (--http-trust-proxy).
            proxy_headers=bool(self._trusted),
            forwarded_allow_ips=self._trusted or None,
            timeout_graceful_shutdown=2,
            server_header=False,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup()
        if not server.started:
            raise OSError(f"cannot listen for HTTP on {host}:{port}")
        self._server = server
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._loop = asyncio.create_task(server.main_loop(), name="http")

    async def close(self) -> None:
        server = self._server
        if server is None:
            return
        server.should_exit = True
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        await server.shutdown()
