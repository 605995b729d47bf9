"""Run SIPp scenarios (tests/e2e/scenarios/*.xml) against a server and read the outcome.

``run_sipp()`` runs ``sipp`` in the foreground with ``-nostdin``, a bounded ``-m`` and
``-timeout``, loopback addresses only, free signalling and media ports, every trace it has
(errors, statistics, screens, messages) in a folder of its own, and the scenario keywords
(``-key``) filled with defaults so that every ``[keyword]`` a scenario uses has a value.
It returns a ``SippResult`` with the exit status (0 means every call succeeded), the
successful/failed call counts and the logs, ready for assertion messages::

    result = run_sipp("deposit", server.sip_address, service="1001", workdir=tmp_path,
                      keys={"audio_pcap": str(pcap), "audio_ms": str(packets * 20)})
    result.assert_ok(server)
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.support.audio import make_dtmf_pcap, make_silence_pcap
from tests.support.server import LOOPBACK, free_port, free_port_block

SCENARIOS = Path(__file__).resolve().parents[1] / "e2e" / "scenarios"
SIP_TESTER_MEDIA = Path("/usr/share/sip-tester")
POUND_PCAP = SIP_TESTER_MEDIA / "dtmf_2833_pound.pcap"
FILLER_HEADER = "X-Afterbeep-Test: 1"  # what an unused header keyword becomes

# SDP offers (the a= lines of the scenarios' SDP).
SDP_PCMU_PCMA: dict[str, str] = {
    "sdp_payloads": "0 8 101",
    "sdp_line1": "a=rtpmap:0 PCMU/8000",
    "sdp_line2": "a=rtpmap:8 PCMA/8000",
    "sdp_line3": "a=rtpmap:101 telephone-event/8000",
    "sdp_line4": "a=fmtp:101 0-16",
    "sdp_direction": "a=sendrecv",
}
SDP_PCMA_ONLY: dict[str, str] = {
    "sdp_payloads": "8 101",
    "sdp_line1": "a=rtpmap:8 PCMA/8000",
    "sdp_line2": "a=rtpmap:101 telephone-event/8000",
    "sdp_line3": "a=fmtp:101 0-16",
    "sdp_line4": "a=maxptime:40",
    "sdp_direction": "a=sendrecv",
}
SDP_PCMU_ONLY: dict[str, str] = {
    "sdp_payloads": "0 101",
    "sdp_line1": "a=rtpmap:0 PCMU/8000",
    "sdp_line2": "a=rtpmap:101 telephone-event/8000",
    "sdp_line3": "a=fmtp:101 0-16",
    "sdp_line4": "a=maxptime:40",
    "sdp_direction": "a=sendrecv",
}

DEFAULT_KEYS: dict[str, str] = {
    "caller_user": "5551234",
    "caller_name": "Test Caller",
    "pai_header": FILLER_HEADER,
    "diversion_header": FILLER_HEADER,
    "extra_header": FILLER_HEADER,
    **SDP_PCMU_PCMA,
    "dtmf_pcap": str(POUND_PCAP),
    "skip_ms": "800",
    "audio_ms": "1000",
    "tail_ms": "500",
    "final_hash": "no",
    "answer_delay_ms": "2000",
    "hold_ms": "1000",
    "ack_delay_ms": "2000",
}


_STEP = re.compile(r"^\s*(?P<message>\S+)\s+(?P<arrow><-+|-+>)\s+(?P<numbers>\d+(?:\s+\d+)*)\s*$")


@dataclass(frozen=True)
class MessageCount:
    """One line of SIPp's message table: a scenario step and what happened to it."""

    message: str  # "INVITE", "200", ...
    direction: str  # "send" or "recv"
    messages: int
    retrans: int
    timeouts: int
    unexpected: int


class _Described(Protocol):
    def describe(self) -> str: ...


@dataclass
class SippResult:
    """What one SIPp run did. ``returncode`` 0: all calls succeeded; 1: some failed."""

    command: list[str]
    returncode: int
    successful: int
    failed: int
    workdir: Path
    stdout: str
    stderr: str
    errors: str  # the -trace_err log: unexpected messages, failed checks
    screen: str  # the last statistics screen
    messages: str  # the -trace_msg log (every message sent and received)
    logs: str = ""  # the scenarios' <log> actions (-trace_logs)
    stats: dict[str, str] = field(default_factory=dict)  # last row of the -trace_stat CSV
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0 and self.successful > 0

    def describe(self, chars: int = 4000) -> str:
        """A summary for assertion messages: command, counts, errors, the end of the trace."""

        def tail(text: str) -> str:
            return text if len(text) <= chars else "...\n" + text[-chars:]

        return (
            f"sipp exited {self.returncode} after {self.elapsed:.1f} s: "
            f"{self.successful} successful, {self.failed} failed call(s)\n"
            f"command: {' '.join(self.command)}\nworkdir: {self.workdir}\n"
            f"--- sipp errors ---\n{tail(self.errors) or '(none)'}\n"
            f"--- scenario log ---\n{tail(self.logs) or '(none)'}\n"
            f"--- sipp stderr ---\n{tail(self.stderr) or '(none)'}\n"
            f"--- sip messages (tail) ---\n{tail(self.messages) or '(not traced)'}"
        )

    def assert_ok(self, server: _Described | None = None) -> None:
        """Fail with SIPp's errors (and the server's stderr, when given) unless all calls passed."""
        if not self.ok:
            detail = self.describe()
            if server is not None:
                detail += "\n\n" + server.describe()
            raise AssertionError(detail)

    def message_counts(self) -> list[MessageCount]:
        """Per scenario step, from SIPp's last screen: messages, retransmissions, timeouts...

        ``lost_ack.xml`` relies on it: SIPp absorbs a retransmitted 200 (it never matches a
        second ``<recv>``) but counts it in the "Retrans" column of that 200's line.
        """
        blocks = self.screen.split("Messages  Retrans")
        if len(blocks) < 2:
            return []
        counts: list[MessageCount] = []
        for line in blocks[-1].splitlines()[1:]:
            match = _STEP.match(line)
            if match is None:
                if counts and not line.strip():
                    break
                continue
            numbers = [int(n) for n in match.group("numbers").split()]
            numbers += [0] * (4 - len(numbers))
            counts.append(
                MessageCount(
                    message=match.group("message"),
                    direction="recv" if match.group("arrow").startswith("<") else "send",
                    messages=numbers[0],
                    retrans=numbers[1],
                    timeouts=numbers[2],
                    unexpected=numbers[3],
                )
            )
        return counts

    def received(self, pattern: str) -> list[str]:
        """Received messages (from the message trace) whose text matches ``pattern``."""
        blocks = re.split(r"\n-{10,}[^\n]*\n", self.messages)
        found = []
        for block in blocks:
            if "message received" in block and re.search(pattern, block, re.MULTILINE):
                found.append(block)
        return found


def sipp_available() -> bool:
    return shutil.which("sipp") is not None


def scenario_path(scenario: str | Path) -> Path:
    """``"deposit"``, ``"deposit.xml"`` (from tests/e2e/scenarios) or a path."""
    path = Path(scenario)
    if path.is_absolute() or path.exists():
        return path
    name = path.name if path.suffix == ".xml" else f"{path.name}.xml"
    return SCENARIOS / name


_generated: dict[str, Path] = {}


def _generated_media(name: str) -> Path:
    """Captures made once per process: a second '#' with fresh timestamps, 1 s of silence."""
    if name not in _generated:
        folder = Path(tempfile.mkdtemp(prefix="afterbeep-sipp-media-"))
        path = folder / f"{name}.pcap"
        if name == "final_pound":
            make_dtmf_pcap(path, "#", ssrc=0x5EED0B0B, first_seq=40000, first_timestamp=8_000_000)
        else:
            make_silence_pcap(path, 1.0, "PCMU")
        _generated[name] = path
    return _generated[name]


def default_keys(service: str) -> dict[str, str]:
    keys = dict(DEFAULT_KEYS)
    keys["to_user"] = service
    keys["final_dtmf_pcap"] = str(_generated_media("final_pound"))
    keys["audio_pcap"] = str(_generated_media("silence"))
    return keys


def run_sipp(
    scenario: str | Path,
    target: str,
    *,
    service: str = "1001",
    keys: Mapping[str, Any] | None = None,
    workdir: Path | None = None,
    calls: int = 1,
    rate: float | None = None,
    limit: int | None = None,
    timeout: float = 60.0,
    transport: str = "u1",
    local_port: int | None = None,
    media_port: int | None = None,
    trace_messages: bool = True,
    builtin: str | None = None,
    extra_args: Sequence[str] = (),
) -> SippResult:
    """Run ``scenario`` (or SIPp's built-in ``builtin`` one, e.g. "uac") against ``target``.

    ``target`` is "127.0.0.1:PORT". ``service`` is the Request-URI user (``-s``). ``keys``
    override ``DEFAULT_KEYS`` (values are turned into strings). ``calls`` bounds ``-m``;
    ``rate`` and ``limit`` set ``-r`` and ``-l``. SIPp stops after ``timeout`` seconds
    (``-timeout``, counted as a failure with ``-timeout_error``). ``transport`` is SIPp's
    ``-t`` (u1: UDP, one socket; t1: TCP).
    """
    if not sipp_available():
        raise RuntimeError("sipp is not installed (apt-get install -y sip-tester)")
    host = target.rsplit(":", 1)[0]
    if host not in (LOOPBACK, "localhost"):
        raise ValueError(f"SIPp targets loopback only, not {target!r}")
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sipp-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = f"{int(time.time() * 1000) % 10_000_000}"
    folder = workdir / f"sipp-{Path(str(builtin or scenario)).stem}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    local_port = local_port or free_port("both")
    media_port = media_port or free_port_block(4, "udp", even=True)
    values = default_keys(service)
    values.update({name: str(value) for name, value in (keys or {}).items()})

    command = ["sipp"]
    if builtin:
        command += ["-sn", builtin]
    else:
        path = scenario_path(scenario)
        if not path.exists():
            raise FileNotFoundError(path)
        command += ["-sf", str(path)]
    command += [
        target,
        "-s", service,
        "-t", transport,
        "-i", LOOPBACK,
        "-p", str(local_port),
        "-mi", LOOPBACK,
        "-mp", str(media_port),
        "-m", str(calls),
        "-timeout", f"{max(1, round(timeout))}s",
        "-timeout_error",
        "-nostdin",
        "-trace_err", "-error_file", str(folder / "errors.log"),
        "-trace_stat", "-stf", str(folder / "stat.csv"), "-fd", "1",
        "-trace_screen", "-screen_file", str(folder / "screen.log"),
        "-trace_logs", "-log_file", str(folder / "logs.log"),
    ]  # fmt: skip
    if trace_messages:
        command += ["-trace_msg", "-message_file", str(folder / "messages.log")]
    if rate is not None:
        command += ["-r", f"{rate:g}"]
    if limit is not None:
        command += ["-l", str(limit)]
    if not builtin:
        for name, value in values.items():
            command += ["-key", name, value]
    command += list(extra_args)

    started = time.monotonic()
    try:
        process = subprocess.run(
            command,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout + 30,
            check=False,
        )
        returncode = process.returncode
        stdout = process.stdout.decode("utf-8", "replace")
        stderr = process.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        returncode = -9
        stdout = (exc.stdout or b"").decode("utf-8", "replace")
        stderr = (exc.stderr or b"").decode("utf-8", "replace") + "\n(sipp killed: hung)"
    elapsed = time.monotonic() - started

    def read(name: str) -> str:
        path = folder / name
        return path.read_text("utf-8", "replace") if path.exists() else ""

    screen = read("screen.log") or stdout
    stats = _last_stat_row(read("stat.csv"))
    successful, failed = _counts(stats, screen)
    (folder / "command.txt").write_text(" ".join(command) + "\n")
    return SippResult(
        command=command,
        returncode=returncode,
        successful=successful,
        failed=failed,
        workdir=folder,
        stdout=stdout,
        stderr=stderr,
        errors=read("errors.log"),
        screen=screen,
        messages=read("messages.log"),
        logs=read("logs.log"),
        stats=stats,
        elapsed=elapsed,
    )


def _last_stat_row(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    rows = list(csv.reader(io.StringIO("\n".join([lines[0], lines[-1]])), delimiter=";"))
    header, last = rows[0], rows[-1]
    return dict(zip(header, last, strict=False))


def _counts(stats: Mapping[str, str], screen: str) -> tuple[int, int]:
    try:
        return int(stats["SuccessfulCall(C)"]), int(stats["FailedCall(C)"])
    except (KeyError, ValueError):
        pass

    def cumulative(label: str) -> int:
        found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
        return int(found[-1]) if found else 0

    return cumulative("Successful call"), cumulative("Failed call")
