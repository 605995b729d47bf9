"""Drive a headless baresip softphone over its ctrl_tcp socket, for end-to-end tests.

``Baresip`` writes a config folder (loopback SIP on a port of its own, 8 kHz mono G.711, the
microphone read from a WAV with ``aufile``, what it hears recorded with ``sndfile`` or thrown
away with ``aubridge``), starts ``baresip -f DIR``, and talks to it with netstring-framed JSON
over ``ctrl_tcp``: ``dial()``, ``send_dtmf()``, ``switch_source()``, ``hangup()``, ``quit()``,
and ``wait_event("CALL_ESTABLISHED")`` / ``wait_event("CALL_CLOSED")``. ``close()`` ends it
(quit, then SIGTERM, then SIGKILL) and ``describe()`` returns its log for assertion messages.

baresip binds SIP on PORT (UDP and TCP) and PORT+1 (TLS): both are picked free. When the source
WAV ends, baresip hangs up on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.support.server import LOOPBACK, RtpPortRange, free_port, free_port_block

MODULE_DIRS = (Path("/usr/lib/baresip/modules"), Path("/usr/local/lib/baresip/modules"))


class BaresipError(RuntimeError):
    """baresip failed to start, answer a command, or emit an awaited event (with its log)."""


@dataclass
class Event:
    """One ctrl_tcp event, e.g. ``{"event": true, "type": "CALL_CLOSED", "param": ...}``."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def param(self) -> str:
        return str(self.data.get("param", ""))


def baresip_available() -> bool:
    return shutil.which("baresip") is not None


def _module_path() -> Path:
    for folder in MODULE_DIRS:
        if (folder / "ctrl_tcp.so").exists():
            return folder
    return MODULE_DIRS[0]


def _write_silence(path: Path, seconds: float) -> None:
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))


def encode_netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class NetstringReader:
    """Splits a byte stream into netstrings (``LEN:DATA,``)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            colon = self._buffer.find(b":")
            if colon < 0:
                if len(self._buffer) > 16:
                    raise BaresipError(f"bad netstring header {bytes(self._buffer[:16])!r}")
                return out
            length_text = bytes(self._buffer[:colon])
            if not length_text.isdigit():
                raise BaresipError(f"bad netstring length {length_text!r}")
            length = int(length_text)
            end = colon + 1 + length
            if len(self._buffer) < end + 1:
                return out
            if self._buffer[end : end + 1] != b",":
                raise BaresipError("netstring without its trailing comma")
            out.append(bytes(self._buffer[colon + 1 : end]))
            del self._buffer[: end + 1]


class Baresip:
    """One baresip instance: config folder, SIP port, control connection, event log."""

    def __init__(
        self,
        workdir: Path,
        *,
        source_wav: Path | None = None,
        record: bool = False,
        answer: bool = False,
        user: str = "caller",
        display_name: str | None = None,
        codecs: Iterable[str] = ("PCMU", "PCMA"),
        extra_config: Mapping[str, str] | None = None,
        extra_account_params: str = "",
        sip_trace: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        self.config_dir = self.workdir / "config"
        self.record_dir = self.workdir / "recordings"
        self.log_path = self.workdir / "baresip.log"
        self.source_wav = Path(source_wav) if source_wav is not None else None
        self.record = record
        self.answer = answer
        self.user = user
        self.display_name = display_name
        self.codecs = list(codecs)
        self.extra_config = dict(extra_config or {})
        self.extra_account_params = extra_account_params
        self.sip_trace = sip_trace
        self.sip_port = 0
        self.ctrl_port = 0
        self.rtp: RtpPortRange | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.events: list[Event] = []
        self._responses: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._log: IO[bytes] | None = None
        self._token = 0

    # -- configuration ---------------------------------------------------------------------

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{LOOPBACK}:{self.sip_port}"

    def write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.record_dir.mkdir(parents=True, exist_ok=True)
        assert self.rtp is not None
        source_wav = self.source_wav
        if source_wav is None:  # silence (ausine only runs at 48 kHz)
            source_wav = self.workdir / "silence.wav"
            _write_silence(source_wav, seconds=300)
        source = f"aufile,{source_wav}"
        player = "aubridge,nil"
        lines = {
            "poll_method": "epoll",
            "sip_listen": f"{LOOPBACK}:{self.sip_port}",
            "net_interface": LOOPBACK,
            "audio_player": player,
            "audio_source": source,
            "audio_alert": player,
            "audio_srate": "8000",
            "audio_channels": "1",
            "audio_buffer": "20-160",
            "rtp_ports": f"{self.rtp.low}-{self.rtp.high}",
            "rtcp_mux": "no",
            "jitter_buffer_delay": "1-20",
            "module_path": str(_module_path()),
            "ctrl_tcp_listen": f"{LOOPBACK}:{self.ctrl_port}",
            "snd_path": str(self.record_dir),
            "sip_trans_def": "udp",
            "dns_fallback": "",
        }
        lines.update(self.extra_config)
        modules = ["g711.so", "aufile.so", "aubridge.so"]
        if self.record:
            modules.append("sndfile.so")
        app_modules = ["account.so", "menu.so", "ctrl_tcp.so"]
        text = [f"{key} {value}".rstrip() for key, value in lines.items() if value != ""]
        text += [f"module {name}" for name in modules]
        text += [f"module_app {name}" for name in app_modules]
        (self.config_dir / "config").write_text("\n".join(text) + "\n")
        name = f'"{self.display_name}" ' if self.display_name else ""
        params = [
            "regint=0",
            f"audio_codecs={','.join(self.codecs)}",
            "answermode=auto" if self.answer else "answermode=manual",
            "ptime=20",
            "mwi=no",
        ]
        account = f"{name}<{self.aor};transport=udp>;{';'.join(params)}"
        if self.extra_account_params:
            account += ";" + self.extra_account_params.lstrip(";")
        (self.config_dir / "accounts").write_text(account + "\n")
        (self.config_dir / "contacts").write_text("")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> Baresip:
        if not baresip_available():
            raise BaresipError("baresip is not installed (apt-get install -y baresip)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_port_block(2, "both")  # PORT for UDP/TCP, PORT+1 for TLS
        self.ctrl_port = free_port("tcp")
        self.rtp = RtpPortRange.acquire(20)
        self.write_config()
        self._log = self.log_path.open("ab")
        env = dict(os.environ, HOME=str(self.workdir))
        self.process = subprocess.Popen(
            ["baresip", "-f", str(self.config_dir), *(["-s"] if self.sip_trace else [])],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise BaresipError(
                    f"baresip exited with {self.process.returncode}\n{self.describe()}"
                )
            try:
                self._sock = socket.create_connection((LOOPBACK, self.ctrl_port), timeout=0.5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BaresipError(f"ctrl_tcp never listened\n{self.describe()}") from None
                time.sleep(0.1)
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        # The UA is up once its SIP socket is bound.
        while self._sip_port_free():
            if time.monotonic() > deadline:
                raise BaresipError(f"baresip never bound {self.sip_port}\n{self.describe()}")
            time.sleep(0.05)
        return self

    def _sip_port_free(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((LOOPBACK, self.sip_port))
            except OSError:
                return False
            return True

    def _read_loop(self) -> None:
        reader = NetstringReader()
        sock = self._sock
        assert sock is not None
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self._cond:
                    self.events.append(Event("CTRL_CLOSED"))
                    self._cond.notify_all()
                return
            for item in reader.feed(data):
                try:
                    message = json.loads(item.decode("utf-8", "replace"))
                except json.JSONDecodeError:
                    continue
                with self._cond:
                    if message.get("response"):
                        self._responses[str(message.get("token", ""))] = message
                    elif message.get("event"):
                        self.events.append(Event(str(message.get("type", "")), message))
                    self._cond.notify_all()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self, timeout: float = 5.0) -> int | None:
        """Quit politely, then SIGTERM, then SIGKILL; release the ports."""
        code: int | None = None
        if self.process is not None:
            if self.process.poll() is None:
                with contextlib.suppress(BaresipError, OSError):
                    self.command("quit", timeout=1.0)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
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
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.rtp is not None:
            self.rtp.release()
            self.rtp = None
        return code

    def __enter__(self) -> Baresip:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- control -----------------------------------------------------------------------------

    def command(self, name: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Send a ctrl_tcp command; its response (``ok``, ``data``). BaresipError if none."""
        if self._sock is None:
            raise BaresipError("baresip is not running")
        self._token += 1
        token = str(self._token)
        payload = json.dumps({"command": name, "params": params, "token": token}).encode()
        with self._cond:
            self._sock.sendall(encode_netstring(payload))
            ok = self._cond.wait_for(lambda: token in self._responses, timeout)
            if not ok:
                raise BaresipError(f"no response to {name} {params!r}\n{self.describe()}")
            return self._responses.pop(token)

    def dial(self, uri: str) -> dict[str, Any]:
        """Call ``uri`` (e.g. ``server.sip_uri("1001")``)."""
        return self.command("dial", uri)

    def hangup(self) -> dict[str, Any]:
        return self.command("hangup")

    def quit(self) -> dict[str, Any]:
        return self.command("quit")

    def send_dtmf(self, digits: str, gap: float = 0.25) -> None:
        """Send DTMF digits (RFC 4733) one by one with ``sndcode``."""
        for digit in digits:
            self.command("sndcode", digit)
            time.sleep(gap)

    def switch_source(self, wav: Path) -> dict[str, Any]:
        """Change the microphone mid-call to another 8 kHz mono WAV."""
        return self.command("ausrc", f"aufile,{wav}")

    def wait_event(self, kind: str, timeout: float = 15.0, *, after: int = 0) -> Event:
        """The first event of type ``kind`` (at index >= ``after`` in ``events``)."""

        def find() -> Event | None:
            for event in self.events[after:]:
                if event.type == kind:
                    return event
            return None

        with self._cond:
            self._cond.wait_for(lambda: find() is not None, timeout)
            event = find()
        if event is None:
            seen = ", ".join(e.type for e in self.events) or "none"
            raise BaresipError(
                f"no {kind} event within {timeout:.0f} s (events: {seen})\n{self.describe()}"
            )
        return event

    def event_types(self) -> list[str]:
        with self._cond:
            return [event.type for event in self.events]

    # -- results -----------------------------------------------------------------------------

    def recordings(self, kind: str = "dec") -> list[Path]:
        """WAVs written by sndfile: "dec" is what baresip heard, "enc" what it sent."""
        return sorted(self.record_dir.glob(f"dump-*-{kind}.wav"))

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text("utf-8", "replace")

    def describe(self, chars: int = 4000) -> str:
        text = self.log_text()
        if len(text) > chars:
            text = "...\n" + text[-chars:]
        events = ", ".join(event.type for event in self.events) or "none"
        state = "running" if self.running() else "stopped"
        return (
            f"baresip {self.aor} ctrl={self.ctrl_port} ({state})\nevents: {events}\n"
            f"--- baresip log ({self.log_path}) ---\n{text}"
        )
