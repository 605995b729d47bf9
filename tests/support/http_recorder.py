"""A real HTTP server on 127.0.0.1 that records requests and answers as scripted.

It stands in for an SMS provider's API or a webhook receiver, which cannot run here; the
client under test still talks HTTP over a real socket. Answers come from a queue of
``Reply`` values, then from ``default`` (a ``Reply`` or a function of the request)::

    with HttpRecorder(Reply(503), Reply(503), default=Reply(201, json={"sid": "SM1"})) as rec:
        ...  # the first two requests get 503, every later one 201
        request = rec.wait_for(3)[-1]
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    json: Any = None  # sent as the body (application/json) when not None
    body: bytes = b""  # sent when json is None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lower-cased; repeated headers joined with ", "
    body: bytes
    at: float  # time.monotonic() when the request was read

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True, strict_parsing=True))

    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user, password


Answerer = Callable[[Recorded], Reply]


class HttpRecorder:
    def __init__(self, *replies: Reply, default: Reply | Answerer = Reply()) -> None:
        self._lock = threading.Condition()
        self._replies: deque[Reply] = deque(replies)
        self._default = default
        self._requests: list[Recorded] = []
        self._busy = 0  # handlers between reading a request and finishing their answer
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A short poll interval: shutdown() waits for the loop to look, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="http-recorder", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, before the default."""
        with self._lock:
            self._replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """The requests, once at least ``count`` have arrived; AssertionError on timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(
                    f"expected {count} requests within {timeout}s, got {len(self._requests)}"
                )
            return list(self._requests)

    def close(self) -> None:
        self._server.shutdown()
        # Let handlers still answering (a delayed reply) finish, so none writes to a socket
        # the test has already forgotten.
        with self._lock:
            self._lock.wait_for(lambda: self._busy == 0, timeout=5.0)
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> HttpRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _record(self, request: Recorded) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._busy += 1
            self._lock.notify_all()
            if self._replies:
                return self._replies.popleft()
            default = self._default
        return default(request) if callable(default) else default

    def _done(self) -> None:
        with self._lock:
            self._busy -= 1
            self._lock.notify_all()

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so no idle keep-alive thread outlives us.
            protocol_version = "HTTP/1.0"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    key = name.lower()
                    headers[key] = f"{headers[key]}, {value}" if key in headers else value
                request = Recorded(
                    method=self.command,
                    path=self.path,
                    headers=headers,
                    body=self.rfile.read(length) if length else b"",
                    at=time.monotonic(),
                )
                reply = recorder._record(request)
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    body = reply.body if reply.json is None else json.dumps(reply.json).encode()
                    self.send_response(reply.status)
                    if reply.json is not None:
                        self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timed out): what a real server sees too
                finally:
                    recorder._done()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows the assertion, not an access log

        return Handler
