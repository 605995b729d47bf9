"""Run the real afterbeep server as a subprocess for end-to-end tests, and pick free ports.

``Server`` starts ``python -m afterbeep --data-dir DIR serve ...`` on loopback ports of its own,
waits until its SIP port answers an OPTIONS, and wraps the admin CLI (``mailbox add``,
``messages list --json``, ``messages export``). Its stderr goes to a file; ``describe()`` and
``stderr_tail()`` give it back for assertion messages, and ``stop()`` ends the process
(SIGTERM, then SIGKILL).

Port helpers: ``free_port()`` asks the kernel for an unused port (free on both UDP and TCP when
asked), ``free_port_block()`` finds consecutive free ports (baresip uses PORT and PORT+1, SIPp's
media PORT and PORT+2), and ``RtpPortRange.acquire()`` leases an even range of ~200 RTP ports
below the kernel's ephemeral range, locked with a file lock so that parallel tests (pytest-xdist
workers, other sessions on the machine) never share one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

LOOPBACK = "127.0.0.1"
RTP_BLOCK = 200
RTP_FIRST = 20000  # RTP leases live in 20000..32599, below Linux's ephemeral 32768..60999
RTP_LAST = 32600
LOCK_DIR = Path(tempfile.gettempdir()) / "afterbeep-test-ports"

_handed_out: set[int] = set()  # ports given to someone in this process (never reused)


# -- ports -----------------------------------------------------------------------------------


def port_is_free(port: int, kind: Literal["udp", "tcp", "both"] = "both") -> bool:
    """True if ``port`` can be bound on 127.0.0.1 (without SO_REUSEADDR) for ``kind``."""
    kinds = ("udp", "tcp") if kind == "both" else (kind,)
    for proto in kinds:
        sock_type = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, sock_type) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


def _kernel_port(kind: Literal["udp", "tcp", "both"]) -> int:
    sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, sock_type) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def free_port(kind: Literal["udp", "tcp", "both"] = "both") -> int:
    """An unused loopback port from the kernel, free on UDP and/or TCP, never handed out twice."""
    return free_port_block(1, kind)


def free_port_block(
    count: int, kind: Literal["udp", "tcp", "both"] = "both", *, even: bool = False
) -> int:
    """The first of ``count`` consecutive free ports (e.g. baresip's PORT and PORT+1)."""
    for _ in range(500):
        first = _kernel_port(kind)
        if even:
            first += first % 2
        ports = range(first, first + count)
        if ports[-1] > 65534 or any(port in _handed_out for port in ports):
            continue
        if all(port_is_free(port, kind) for port in ports):
            _handed_out.update(ports)
            return first
    raise RuntimeError(f"no block of {count} free loopback ports found")


@dataclass
class RtpPortRange:
    """An even range of RTP ports ``low..high`` leased with a file lock; ``release()`` it."""

    low: int
    high: int
    _lock: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def acquire(cls, size: int = RTP_BLOCK) -> RtpPortRange:
        """Lease a free block: its lock file is held (flock) until ``release()``.

        Blocks are always RTP_BLOCK ports apart (one lock file each), whatever ``size`` is
        asked for, so that leases of different sizes never overlap.
        """
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        size = min(RTP_BLOCK, max(4, size + size % 2))
        bases = list(range(RTP_FIRST, RTP_LAST - RTP_BLOCK + 1, RTP_BLOCK))
        start = secrets.randbelow(len(bases))  # spread parallel runs over the blocks
        for base in bases[start:] + bases[:start]:
            lock = (LOCK_DIR / f"rtp-{base}.lock").open("ab")
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                lock.close()
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    continue
                raise
            probes = (base, base + 1, base + size // 2, base + size - 2, base + size - 1)
            if all(port_is_free(port, "udp") for port in probes):
                return cls(base, base + size - 1, lock)
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()
        raise RuntimeError("no free RTP port block: too many servers running?")

    def release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


# -- SIP probing ------------------------------------------------------------------------------


def options_request(port: int, local_port: int, user: str = "ping") -> bytes:
    """A minimal OPTIONS to sip:user@127.0.0.1:port, sent from 127.0.0.1:local_port."""
    token = secrets.token_hex(6)
    lines = [
        f"OPTIONS sip:{user}@{LOOPBACK}:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP {LOOPBACK}:{local_port};branch=z9hG4bK-{token};rport",
        "Max-Forwards: 70",
        f"From: <sip:probe@{LOOPBACK}:{local_port}>;tag={token}",
        f"To: <sip:{user}@{LOOPBACK}:{port}>",
        f"Call-ID: probe-{token}@{LOOPBACK}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:probe@{LOOPBACK}:{local_port}>",
        "Accept: application/sdp",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def udp_exchange(
    data: bytes, port: int, timeout: float = 1.0, host: str = LOOPBACK
) -> bytes | None:
    """Send one datagram to host:port and return the first datagram back (None on timeout)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(timeout)
        sock.sendto(data, (host, port))
        try:
            reply, _ = sock.recvfrom(65535)
        except (TimeoutError, ConnectionRefusedError):
            return None
        return reply


def sip_ping(port: int, timeout: float = 1.0, host: str = LOOPBACK) -> bytes | None:
    """Send an OPTIONS over UDP; return the first response if it is one ("SIP/2.0 ...")."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(timeout)
        local_port = int(sock.getsockname()[1])
        sock.sendto(options_request(port, local_port), (host, port))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                reply, _ = sock.recvfrom(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            if reply.startswith(b"SIP/2.0 "):
                return reply
    return None


# -- the server -----------------------------------------------------------------------------


class ServerError(RuntimeError):
    """The server or one of its CLI commands failed; the message includes its stderr."""


def afterbeep_command() -> list[str]:
    """How to run the CLI: ``python -m afterbeep``, or the ``afterbeep`` script beside python."""
    script = Path(sys.executable).with_name("afterbeep")
    if os.environ.get("AFTERBEEP_TEST_USE_SCRIPT") and script.exists():
        return [str(script)]
    return [sys.executable, "-m", "afterbeep"]


class Server:
    """One afterbeep server process with a data folder and loopback ports of its own."""

    def __init__(
        self,
        workdir: Path,
        *,
        log_level: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        rtp_ports: int = RTP_BLOCK,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.stderr_path = self.workdir / "server.stderr.log"
        self.stdout_path = self.workdir / "server.stdout.log"
        # INFO by default (DEBUG floods the tail with SQL); AFTERBEEP_TEST_LOG_LEVEL=DEBUG to dig.
        self.log_level = log_level or os.environ.get("AFTERBEEP_TEST_LOG_LEVEL", "INFO")
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.rtp_size = rtp_ports
        self.sip_port = 0
        self.http_port = 0
        self.rtp: RtpPortRange | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._stdout: IO[bytes] | None = None

    # addresses
    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def sip_address(self) -> str:
        """ "127.0.0.1:PORT", what SIPp takes as its target."""
        return f"{LOOPBACK}:{self.sip_port}"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def sip_uri(self, user: str) -> str:
        return f"sip:{user}@{LOOPBACK}:{self.sip_port}"

    # lifecycle
    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The server reads AFTERBEEP_* too: ours must not be overridden by the caller's shell.
        for name in [key for key in env if key.startswith("AFTERBEEP_")]:
            del env[name]
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        assert self.rtp is not None
        return [
            *afterbeep_command(), "--data-dir", str(self.data_dir), "serve",
            "--sip-listen", f"{LOOPBACK}:{self.sip_port}",
            "--http-listen", f"{LOOPBACK}:{self.http_port}",
            "--rtp-ports", str(self.rtp),
            "--log-level", self.log_level,
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 30.0) -> Server:
        """Start the process and wait until its SIP port answers an OPTIONS."""
        if self.process is not None:
            raise ServerError("already started")
        attempts = 3  # a port picked free can be taken by someone else before we bind it
        for attempt in range(attempts):
            self.sip_port = free_port("both")
            self.http_port = free_port("tcp")
            self.rtp = RtpPortRange.acquire(self.rtp_size)
            self._stderr = self.stderr_path.open("ab")
            self._stdout = self.stdout_path.open("ab")
            banner = f"\n=== afterbeep start {time.strftime('%H:%M:%S')}: {self.command()}\n"
            self._stderr.write(banner.encode())
            self._stderr.flush()
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=self._stdout,
                stderr=self._stderr,
                env=self.environment(),
                cwd=self.workdir,
                start_new_session=True,
            )
            try:
                self.wait_ready(timeout)
                return self
            except ServerError:
                address_in_use = "in use" in self.stderr_tail(4000).lower()
                self.stop()
                if not address_in_use or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise ServerError(
                    f"afterbeep exited with status {code} while starting\n{self.describe()}"
                )
            if sip_ping(self.sip_port, timeout=0.3) is not None:
                return
            time.sleep(0.05)
        raise ServerError(
            f"afterbeep did not answer OPTIONS on {self.sip_address} within {timeout:.0f} s\n"
            f"{self.describe()}"
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait ``timeout`` s, then SIGKILL; the exit status (None if never started)."""
        code: int | None = None
        if self.process is not None:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(5)
            code = self.process.returncode
            self.process = None
        for stream in (self._stderr, self._stdout):
            if stream is not None:
                stream.close()
        self._stderr = self._stdout = None
        if self.rtp is not None:
            self.rtp.release()
            self.rtp = None
        return code

    def restart(self, timeout: float = 30.0) -> Server:
        """Stop and start again on the same data folder (new ports)."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> Server:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # diagnostics
    def stderr_text(self) -> str:
        if not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stderr_tail(self, chars: int = 6000) -> str:
        text = self.stderr_text()
        return text if len(text) <= chars else "...\n" + text[-chars:]

    def describe(self, chars: int = 6000) -> str:
        """Ports, data folder and the end of stderr: for assertion messages."""
        state = "running" if self.running() else "stopped"
        return (
            f"afterbeep ({state}) sip={self.sip_address} http={self.http_port} rtp={self.rtp} "
            f"data={self.data_dir}\n--- server stderr ({self.stderr_path}) ---\n"
            f"{self.stderr_tail(chars)}"
        )

    # admin CLI
    def cli(
        self, *args: str, check: bool = True, timeout: float = 60.0, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``afterbeep --data-dir DIR ARGS...``; ServerError with its output if it fails."""
        command = [*afterbeep_command(), "--data-dir", str(self.data_dir), *args]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            input=input_text,
            env=self.environment(),
            cwd=self.workdir,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ServerError(
                f"{' '.join(command)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def add_mailbox(
        self, number: str, name: str = "Alice", pin: str | None = None, **options: Any
    ) -> None:
        """``mailbox add NUMBER --name NAME [--pin PIN]``; options become flags.

        ``max_seconds=30`` -> ``--max-seconds 30``; ``True`` -> a bare flag.
        """
        args = ["mailbox", "add", number, "--name", name]
        if pin is not None:
            args += ["--pin", pin]
        args += _flags(options)
        self.cli(*args)

    def set_mailbox(self, number: str, **options: Any) -> None:
        self.cli("mailbox", "set", number, *_flags(options))

    def messages(
        self, mailbox: str | None = None, folder: str | None = None
    ) -> list[dict[str, Any]]:
        """``messages list [MAILBOX] --json``: id, mailbox, caller_number, caller_name, ..."""
        args = ["messages", "list"]
        if mailbox is not None:
            args.append(mailbox)
        if folder is not None:
            args += ["--folder", folder]
        result = self.cli(*args, "--json")
        data = json.loads(result.stdout or "[]")
        if not isinstance(data, list):
            raise ServerError(
                f"messages list --json printed {type(data).__name__}: {result.stdout}"
            )
        return data

    def wait_for_messages(
        self, mailbox: str | None = None, count: int = 1, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Poll ``messages()`` until ``count`` are there (the call may still be closing)."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = self.messages(mailbox)
            if len(found) >= count:
                return found
            time.sleep(0.25)
        raise ServerError(
            f"expected {count} message(s) in {mailbox or 'any mailbox'}, found {len(found)} "
            f"after {timeout:.0f} s\n{self.describe()}"
        )

    def export(self, message_id: str | int, path: Path) -> Path:
        """``messages export ID -o PATH``: the stored audio as a G.711 WAV."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.cli("messages", "export", str(message_id), "-o", str(path))
        return path

    # raw SIP
    def send_udp(self, data: bytes, timeout: float = 1.0) -> bytes | None:
        """Send one datagram to the SIP port; the first datagram back, or None."""
        return udp_exchange(data, self.sip_port, timeout)

    def ping(self, timeout: float = 1.0) -> bytes | None:
        return sip_ping(self.sip_port, timeout)


def _flags(options: Mapping[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        else:
            args += [flag, str(value)]
    return args


class ServerFactory:
    """Starts servers in numbered folders under ``root`` and stops them all in ``close()``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.servers: list[Server] = []

    def __call__(self, *, start: bool = True, **kwargs: Any) -> Server:
        server = Server(self.root / f"server{len(self.servers)}", **kwargs)
        self.servers.append(server)
        if start:
            server.start()
        return server

    def close(self) -> str:
        """Stop every server; returns their stderr tails (for the teardown report)."""
        reports = []
        for server in self.servers:
            server.stop()
            reports.append(server.describe())
        return "\n\n".join(reports)


@contextlib.contextmanager
def running_server(workdir: Path, **kwargs: Any) -> Iterator[Server]:
    """``with running_server(tmp_path) as server:`` — started, and stopped afterwards."""
    server = Server(workdir, **kwargs)
    try:
        yield server.start()
    finally:
        server.stop()
