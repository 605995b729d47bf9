"""What ``GET /metrics`` shows (Prometheus text): calls, media clock lateness, notifications,
CPU and memory, for dashboards and the benchmarks. The web app serves it."""

from __future__ import annotations

import resource
import time
from collections.abc import Mapping
from typing import Protocol

from afterbeep.net.media import MediaEngine
from afterbeep.net.sip_transport import SipTransport


class Observed(Protocol):
    calls_total: int
    started_at: float
    ready: bool
    media: MediaEngine
    sip: SipTransport

    @property
    def calls(self) -> Mapping[int, object]: ...

    @property
    def notifications(self) -> tuple[int, int]:
        """Deliveries done and failed for good since start."""
        ...


def metrics_text(app: Observed) -> str:
    """Prometheus text: calls, media clock lateness, notifications, process usage."""
    stats = app.media.clock.stats
    usage = resource.getrusage(resource.RUSAGE_SELF)
    delivered, failed = app.notifications
    lines = {
        "afterbeep_notifications_delivered_total": delivered,
        "afterbeep_notifications_failed_total": failed,
        "afterbeep_ready": int(app.ready),
        "afterbeep_calls_active": len(app.calls),
        "afterbeep_calls_total": app.calls_total,
        "afterbeep_sip_invites_shed_total": app.sip.ua.calls_shed,
        "afterbeep_uptime_seconds": round(time.time() - app.started_at, 3),
        "afterbeep_media_ticks_total": stats.ticks,
        "afterbeep_media_packets_sent_total": stats.packets,
        "afterbeep_media_tick_lateness_p50_seconds": stats.percentile(0.50),
        "afterbeep_media_tick_lateness_p99_seconds": stats.percentile(0.99),
        "afterbeep_process_cpu_seconds_total": round(usage.ru_utime + usage.ru_stime, 3),
        "afterbeep_process_max_rss_bytes": usage.ru_maxrss * 1024,
    }
    return "".join(f"{name} {value}\n" for name, value in lines.items())
