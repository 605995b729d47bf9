"""The test HTTP server itself: scripted answers, a callable default, waiting."""

from __future__ import annotations

import httpx
import pytest

from tests.support.http_recorder import HttpRecorder, Recorded, Reply


def test_queue_then_callable_default() -> None:
    def echo(request: Recorded) -> Reply:
        return Reply(200, json={"path": request.path}, headers={"X-Seen": "1"})

    with HttpRecorder(Reply(503, body=b"busy"), default=echo) as rec, httpx.Client() as client:
        first = client.post(rec.url + "/a", content=b"one")
        second = client.get(rec.url + "/b?q=1", headers={"X-Test": "yes"})
        requests = rec.wait_for(2)
    assert (first.status_code, first.content) == (503, b"busy")
    assert (second.status_code, second.json()) == (200, {"path": "/b?q=1"})
    assert second.headers["x-seen"] == "1"
    assert [(r.method, r.path, r.body) for r in requests] == [
        ("POST", "/a", b"one"),
        ("GET", "/b?q=1", b""),
    ]
    assert requests[1].headers["x-test"] == "yes"
    assert requests[0].at <= requests[1].at


def test_wait_for_times_out() -> None:
    with HttpRecorder() as rec, pytest.raises(AssertionError, match="got 0"):
        rec.wait_for(1, timeout=0.05)
