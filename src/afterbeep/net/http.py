"""A minimal HTTP endpoint for health checks and metrics until the web app arrives.

``GET /healthz`` answers 200 when the service runs; ``GET /metrics`` gives Prometheus text
(calls, media clock lateness) for dashboards and the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Mapping
from typing import Protocol

from afterbeep.net.media import MediaEngine


class Observed(Protocol):
    calls_total: int
    started_at: float
    media: MediaEngine

    @property
    def calls(self) -> Mapping[int, object]: ...

    @property
    def notifications(self) -> tuple[int, int]:
        """Deliveries done and failed for good since start."""
        ...


class HttpServer:
    def __init__(self, app: Observed) -> None:
        self._app = app
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def metrics(self) -> str:
        app = self._app
        stats = app.media.clock.stats
        usage = resource.getrusage(resource.RUSAGE_SELF)
        delivered, failed = app.notifications
        lines = {
            "afterbeep_notifications_delivered_total": delivered,
            "afterbeep_notifications_failed_total": failed,
            "afterbeep_calls_active": len(app.calls),
            "afterbeep_calls_total": app.calls_total,
            "afterbeep_uptime_seconds": round(time.time() - app.started_at, 3),
            "afterbeep_media_ticks_total": stats.ticks,
            "afterbeep_media_packets_sent_total": stats.packets,
            "afterbeep_media_tick_lateness_p50_seconds": stats.percentile(0.50),
            "afterbeep_media_tick_lateness_p99_seconds": stats.percentile(0.99),
            "afterbeep_process_cpu_seconds_total": round(usage.ru_utime + usage.ru_stime, 3),
            "afterbeep_process_max_rss_bytes": usage.ru_maxrss * 1024,
        }
        return "".join(f"{name} {value}\n" for name, value in lines.items())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if path == "/healthz":
                status, body = "200 OK", "ok\n"
            elif path == "/metrics":
                status, body = "200 OK", self.metrics()
            else:
                status, body = "404 Not Found", "not found\n"
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
