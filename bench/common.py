"""Shared pieces of the benchmarks: a throw-away server, /proc readings, SIPp runs, tables.

Everything here targets loopback (127.0.0.1) only. Every process started is stopped by the
context managers / ``finally`` blocks that started it, also when a benchmark fails.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
AFTERBEEP = VENV_BIN / "afterbeep"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CPU_COUNT = os.cpu_count() or 1
DTMF_POUND_PCAP = Path("/usr/share/sip-tester/dtmf_2833_pound.pcap")

# Ports the benchmarks' own SIPp processes use; kept clear of the server's RTP range.
CLIENT_PORTS = (45000, 60000)


# ---- ports -----------------------------------------------------------------------------------


def _bindable(port: int, *, tcp: bool) -> bool:
    kinds = [socket.SOCK_DGRAM, socket.SOCK_STREAM] if tcp else [socket.SOCK_DGRAM]
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                return False
    return True


def free_port(*, tcp: bool = False, span: int = 1, exclude: Sequence[int] = ()) -> int:
    """A port P with P..P+span-1 free on 127.0.0.1 (UDP, and TCP when ``tcp``)."""
    low, high = CLIENT_PORTS
    start = low + (os.getpid() * 7919 + int(time.time() * 1000)) % (high - low - 1000)
    port = start - start % 4
    for _ in range((high - low) // 4):
        if all(p not in exclude and _bindable(p, tcp=tcp) for p in range(port, port + span)):
            return port
        port = low if port + 4 + span > high else port + 4
    raise OSError("no free port for the benchmark")


# ---- /proc -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcUsage:
    cpu_seconds: float  # user + system time of all threads
    rss_bytes: int  # VmRSS now
    hwm_bytes: int  # VmHWM: the peak RSS so far
    threads: int


def proc_usage(pid: int) -> ProcUsage:
    """CPU time from /proc/<pid>/stat and RSS from /proc/<pid>/status."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = hwm = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "VmRSS":
            rss = int(value.split()[0]) * 1024
        elif key == "VmHWM":
            hwm = int(value.split()[0]) * 1024
        elif key == "Threads":
            threads = int(value.split()[0])
    return ProcUsage(cpu, rss, hwm, threads)


@dataclass(frozen=True, slots=True)
class CpuSplit:
    """Where the server runs and where its load generators run."""

    server: frozenset[int]
    peers: frozenset[int]


def cpu_split() -> CpuSplit | None:
    """One CPU for the server, the others for SIPp: "the server on one core" is then a fact
    of the run, not a figure read afterwards. None with fewer than two CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return CpuSplit(frozenset(cpus[:1]), frozenset(cpus[1:]))


def pin(pid: int, cpus: frozenset[int]) -> None:
    """Restrict every thread of ``pid`` to ``cpus``; threads it starts later inherit it."""
    with contextlib.suppress(FileNotFoundError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(task), cpus)


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` has open."""
    inodes: set[int] = set()
    fd_dir = f"/proc/{pid}/fd"
    for name in os.listdir(fd_dir):
        with contextlib.suppress(OSError):
            target = os.readlink(f"{fd_dir}/{name}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def udp_drops(pid: int) -> dict[int, tuple[int, int]]:
    """{inode: (local port, datagrams dropped)} for the UDP sockets of process ``pid``
    (/proc/net/udp's drops column: datagrams the kernel threw away, e.g. a full buffer)."""
    mine = socket_inodes(pid)
    found: dict[int, tuple[int, int]] = {}
    for line in Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 13:
            continue
        inode = int(fields[9])
        if inode in mine:
            found[inode] = (int(fields[1].rsplit(":", 1)[1], 16), int(fields[12]))
    return found


def machine_idle_seconds() -> float:
    """Idle (+ iowait) time of all CPUs together, from /proc/stat.

    Only the idle column is exact (the kernel measures it when a CPU goes to sleep); user and
    system are sampled at timer ticks and miss the short timer-driven bursts of a media
    workload, so busy = 1 − idle / (elapsed × CPUs) is used, never the busy columns."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (values[3] + values[4]) / CLK_TCK


def busy_fraction(idle_before: float, idle_after: float, seconds: float) -> float:
    """Share of all CPUs that were busy (0..1) between two ``machine_idle_seconds()``."""
    if seconds <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - (idle_after - idle_before) / (seconds * CPU_COUNT)))


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.monotonic()
    cpu_seconds: float  # the server's
    rss_bytes: int  # the server's
    calls_active: float | None  # from /metrics, when the sampler polls it
    watched_cpu: float  # CPU seconds of the watched processes (SIPp), summed
    machine_idle: float  # machine_idle_seconds()


@dataclass(frozen=True, slots=True)
class Phase:
    """CPU use between two samples (a span of a run)."""

    seconds: float
    calls_active: float
    server_core_percent: float
    watched_core_percent: float
    machine_busy: float  # fraction of all CPUs, 0..1

    @property
    def other_core_percent(self) -> float:
        """What neither the server nor the watched processes used: kernel threads, the
        harness, other processes on the machine. (Interrupt time is not subtracted: with
        tick-based accounting it is also charged to the process it interrupted.)"""
        total = 100 * CPU_COUNT * self.machine_busy
        used = self.server_core_percent + self.watched_core_percent
        return max(0.0, total - used)


@dataclass(slots=True)
class Sampler:
    """Samples the server's CPU and RSS, the machine's load, the CPU of watched processes
    (SIPp) and, given ``http_port``, the server's active calls from /metrics, in a thread
    while a run goes on."""

    pid: int
    interval: float = 0.25
    http_port: int | None = None
    metrics_every: float = 1.0
    track_udp: bool = False  # also follow the server's UDP drops (each metrics_every)
    series: list[Sample] = field(default_factory=list)
    _udp: dict[int, tuple[int, int]] = field(default_factory=dict)
    _watched: dict[int, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def max_rss(self) -> int:
        return max((sample.rss_bytes for sample in self.series), default=0)

    def udp_drops(self, port: int) -> tuple[int, int]:
        """(drops on the socket bound to ``port``, drops on all the others) seen so far: a
        lower bound, as a socket closed between two samples loses its last drops."""
        on_port = sum(drops for local, drops in self._udp.values() if local == port)
        others = sum(drops for local, drops in self._udp.values() if local != port)
        return on_port, others

    def watch(self, pids: Sequence[int]) -> None:
        with self._lock:
            for pid in pids:
                self._watched.setdefault(pid, 0.0)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watched_cpu(self) -> float:
        with self._lock:
            for pid in self._watched:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    self._watched[pid] = proc_usage(pid).cpu_seconds
            return sum(self._watched.values())

    def _run(self) -> None:
        next_metrics = 0.0
        while True:
            now = time.monotonic()
            active: float | None = None
            if now >= next_metrics:
                next_metrics = now + self.metrics_every
                if self.http_port is not None:
                    with contextlib.suppress(OSError):
                        metrics = read_metrics(self.http_port, timeout=2)
                        active = metrics.get("afterbeep_calls_active")
                if self.track_udp:
                    with contextlib.suppress(OSError, ValueError):
                        self._udp.update(udp_drops(self.pid))
            with contextlib.suppress(OSError):
                usage = proc_usage(self.pid)
                sample = Sample(
                    now, usage.cpu_seconds, usage.rss_bytes, active, self._watched_cpu(),
                    machine_idle_seconds(),
                )  # fmt: skip
                self.series.append(sample)
            if self._stop.wait(self.interval):
                return

    def peak(self, fraction: float = 0.98) -> Phase | None:
        """The span from the first to the last sample with at least ``fraction`` × the most
        calls ever seen active; None when the calls were not polled or the span is empty."""
        polled = [s for s in self.series if s.calls_active is not None]
        if not polled:
            return None
        most = max(s.calls_active or 0.0 for s in polled)
        full = [s for s in polled if (s.calls_active or 0.0) >= fraction * most]
        if len(full) < 2:
            return None
        return _phase(full[0], full[-1], most)

    def active(self) -> Phase | None:
        """From the first sample until the calls were all gone again (the first poll with
        none active after the most were): the run without the tail of a lingering SIPp."""
        polled = [s for s in self.series if s.calls_active is not None]
        if len(self.series) < 2 or not polled:
            return None
        most = max(s.calls_active or 0.0 for s in polled)
        top = next(s for s in polled if s.calls_active == most)
        end = next((s for s in polled if s.at > top.at and not s.calls_active), self.series[-1])
        return _phase(self.series[0], end, most)


def _phase(first: Sample, last: Sample, calls: float) -> Phase | None:
    seconds = last.at - first.at
    if seconds <= 0:
        return None
    return Phase(
        seconds=seconds,
        calls_active=calls,
        server_core_percent=100 * (last.cpu_seconds - first.cpu_seconds) / seconds,
        watched_core_percent=100 * (last.watched_cpu - first.watched_cpu) / seconds,
        machine_busy=busy_fraction(first.machine_idle, last.machine_idle, seconds),
    )


@dataclass(slots=True)
class Window:
    """CPU of the server and of the whole machine between ``start()`` and ``stop()``."""

    pid: int
    wall: float = 0.0
    server_cpu: float = 0.0
    machine_busy: float = 0.0  # fraction of all CPUs busy, 0..1
    _t0: float = 0.0
    _cpu0: float = 0.0
    _idle0: float = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = proc_usage(self.pid).cpu_seconds
        self._idle0 = machine_idle_seconds()

    def stop(self) -> None:
        self.wall = time.monotonic() - self._t0
        self.server_cpu = proc_usage(self.pid).cpu_seconds - self._cpu0
        self.machine_busy = busy_fraction(self._idle0, machine_idle_seconds(), self.wall)

    @property
    def server_core_percent(self) -> float:
        return 100.0 * self.server_cpu / self.wall if self.wall else 0.0


# ---- the server --------------------------------------------------------------------------------


class ServerError(RuntimeError):
    pass


@dataclass(slots=True)
class Server:
    process: subprocess.Popen[bytes]
    data_dir: Path
    sip_port: int
    http_port: int
    rtp_ports: tuple[int, int]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def metrics(self) -> dict[str, float]:
        return read_metrics(self.http_port)

    def usage(self) -> ProcUsage:
        return proc_usage(self.pid)

    def cli(self, *args: str) -> str:
        return afterbeep_cli(self.data_dir, *args)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def afterbeep_cli(data_dir: Path, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [str(AFTERBEEP), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ServerError(f"afterbeep {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def read_metrics(http_port: int, timeout: float = 5.0) -> dict[str, float]:
    url = f"http://{HOST}:{http_port}/metrics"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text: str = response.read().decode()
    metrics: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            metrics[name] = float(value)
    return metrics


def _healthy(http_port: int) -> bool:
    """Ready: prompts prepared (a fresh data folder synthesizes them all at start)."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{http_port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def sip_options_answered(sip_port: int, timeout: float = 1.0) -> bool:
    """Send one OPTIONS over UDP; True when any SIP response comes back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.settimeout(timeout)
        local = sock.getsockname()[1]
        tag = uuid.uuid4().hex[:10]
        request = (
            f"OPTIONS sip:{HOST}:{sip_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{local};branch=z9hG4bK{tag};rport\r\n"
            f"From: <sip:bench@{HOST}:{local}>;tag={tag}\r\n"
            f"To: <sip:{HOST}:{sip_port}>\r\n"
            f"Call-ID: {tag}@{HOST}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), (HOST, sip_port))
        try:
            data, _ = sock.recvfrom(65535)
        except OSError:
            return False
    return data.startswith(b"SIP/2.0 ")


def stop_process(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; always reaps the process."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def running_server(
    workdir: Path,
    *,
    mailboxes: Sequence[tuple[str, str]] = (("1001", "Alice"),),
    mailbox_settings: Sequence[str] = (),
    rtp_ports: tuple[int, int] = (20000, 40000),
    log_level: str = "info",
    start_timeout: float = 120.0,
    server_args: Sequence[str] = (),
    cpus: frozenset[int] | None = None,
) -> Iterator[Server]:
    """A server on free loopback ports with its data in a new folder under ``workdir``,
    restricted to ``cpus`` when given."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=workdir))
    for number, name in mailboxes:
        afterbeep_cli(data_dir, "mailbox", "add", number, "--name", name)
        if mailbox_settings:
            afterbeep_cli(data_dir, "mailbox", "set", number, *mailbox_settings)
    sip_port = free_port(tcp=True)
    http_port = free_port(tcp=True, exclude=[sip_port])
    log_path = data_dir.parent / f"server-{sip_port}.log"
    command = [
        str(AFTERBEEP), "--data-dir", str(data_dir), "serve",
        "--sip-listen", f"{HOST}:{sip_port}",
        "--http-listen", f"{HOST}:{http_port}",
        "--rtp-ports", f"{rtp_ports[0]}-{rtp_ports[1]}",
        "--log-level", log_level,
        *server_args,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(process, data_dir, sip_port, http_port, rtp_ports, log_path)
    try:
        if cpus is not None:
            pin(process.pid, cpus)
        deadline = time.monotonic() + start_timeout
        while not (_healthy(http_port) and sip_options_answered(sip_port)):
            if process.poll() is not None:
                raise ServerError(f"server exited with {process.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"server not ready in {start_timeout} s:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        stop_process(process)


# ---- SIPp ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SippResult:
    attempted: int  # calls SIPp created
    successful: int
    failed: int
    unfinished: int  # created but neither successful nor failed when SIPp stopped
    retransmissions: int
    elapsed: float  # SIPp's own elapsed time (seconds)
    wall: float  # wall time of the process
    cpu_seconds: float  # SIPp's user + system time, all threads
    returncode: int
    response_time_ms: float | None  # mean INVITE → 200 time (rtd), when measured
    stats: dict[str, str]
    command: str

    @property
    def not_ok(self) -> int:
        return self.attempted - self.successful


@dataclass(frozen=True, slots=True)
class SippSpec:
    """One SIPp UAC process: its scenario, load and where its files go."""

    target_port: int
    calls: int
    rate: float
    limit: int
    timeout: float  # seconds; SIPp stops by itself after this
    workdir: Path
    scenario: Path | None = None  # default: the built-in 'uac'
    service: str = "1001"
    name: str = "sipp"
    extra: tuple[str, ...] = ()


def sipp_command(spec: SippSpec, sip_port: int, media_port: int) -> list[str]:
    scenario = ["-sf", str(spec.scenario)] if spec.scenario else ["-sn", "uac", "-d", "0"]
    return [
        SIPP, f"{HOST}:{spec.target_port}", *scenario,
        "-s", spec.service,
        "-i", HOST, "-p", str(sip_port), "-mi", HOST, "-mp", str(media_port),
        "-m", str(spec.calls), "-l", str(spec.limit), "-r", f"{spec.rate:g}",
        "-timeout", f"{spec.timeout:g}s",
        "-nostdin", "-trace_stat", "-fd", "1",
        "-stf", str(spec.workdir / f"{spec.name}-stat.csv"),
        "-trace_err", "-error_file", str(spec.workdir / f"{spec.name}-errors.log"),
        "-max_recv_loops", "5000", "-max_sched_loops", "5000",
        "-buff_size", str(4 * 1024 * 1024),
        *spec.extra,
    ]  # fmt: skip


def stat_count(stats: dict[str, str], key: str) -> int:
    value = stats.get(key, "").strip()
    return int(value) if value.isdigit() else 0


def _duration(value: str) -> float:
    """SIPp's 'HH:MM:SS' or 'HH:MM:SS:micro' → seconds."""
    parts = value.strip().split(":")
    if len(parts) not in (3, 4) or not all(p.isdigit() for p in parts):
        return 0.0
    hours, minutes, seconds = (int(p) for p in parts[:3])
    micro = int(parts[3]) if len(parts) == 4 else 0
    return hours * 3600 + minutes * 60 + seconds + micro / 1e6


def _elapsed(stats: dict[str, str]) -> float:
    """Seconds from SIPp's start to its last statistics dump (its epoch timestamps)."""
    try:
        start = float(stats["StartTime"].split()[-1])
        end = float(stats["CurrentTime"].split()[-1])
    except (KeyError, ValueError, IndexError):
        return _duration(stats.get("ElapsedTime(C)", ""))
    return max(0.0, end - start)


def parse_stat_csv(path: Path) -> dict[str, str]:
    """The last row of SIPp's ``-trace_stat`` CSV (cumulative counters), by column name."""
    with path.open(newline="", errors="replace") as handle:
        rows = [row for row in csv.reader(handle, delimiter=";") if row]
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


_SCREEN = {
    "OutgoingCall(C)": re.compile(r"Outgoing calls created\s*\|\s*\d+\s*\|\s*(\d+)"),
    "SuccessfulCall(C)": re.compile(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)"),
    "FailedCall(C)": re.compile(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)"),
}


def parse_screen(text: str) -> dict[str, str]:
    """Fallback: the cumulative counters of the last statistics screen SIPp printed."""
    found: dict[str, str] = {}
    for key, pattern in _SCREEN.items():
        matches = pattern.findall(text)
        if matches:
            found[key] = matches[-1]
    return found


@dataclass(slots=True)
class _Running:
    spec: SippSpec
    process: subprocess.Popen[bytes]
    command: list[str]
    started: float
    screen: Path
    cpu: float = 0.0
    wall: float = 0.0


def _reap(run: _Running, deadline: float) -> None:
    """Wait for one SIPp process (killing it past ``deadline``) and keep its CPU time."""
    pid = run.process.pid
    while True:
        waited, status, usage = os.wait4(pid, os.WNOHANG)
        if waited == pid:
            run.process.returncode = os.waitstatus_to_exitcode(status)
            run.cpu = usage.ru_utime + usage.ru_stime
            run.wall = time.monotonic() - run.started
            return
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                run.process.send_signal(
                    signal.SIGINT if time.monotonic() < deadline + 5 else signal.SIGKILL
                )
        time.sleep(0.05)


def run_sipp(
    specs: Sequence[SippSpec],
    on_start: Callable[[list[int]], None] | None = None,
    cpus: frozenset[int] | None = None,
) -> list[SippResult]:
    """Run SIPp UAC processes side by side until they all end; bounded by their -m/-timeout
    and, as a last resort, killed 30 s after their timeout. ``on_start`` gets their pids;
    ``cpus``: where they may run."""
    running: list[_Running] = []
    used: list[int] = []
    try:
        for spec in specs:
            spec.workdir.mkdir(parents=True, exist_ok=True)
            sip_port = free_port(exclude=used)
            used += [sip_port]
            media_port = free_port(span=4, exclude=used)
            used += list(range(media_port, media_port + 4))
            command = sipp_command(spec, sip_port, media_port)
            screen = spec.workdir / f"{spec.name}-screen.txt"
            with screen.open("wb") as out:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=spec.workdir,
                )  # fmt: skip
            if cpus is not None:
                pin(process.pid, cpus)
            running.append(_Running(spec, process, command, time.monotonic(), screen))
        if on_start is not None:
            on_start([run.process.pid for run in running])
        for run in running:
            _reap(run, run.started + run.spec.timeout + 30)
    finally:
        for run in running:
            if run.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    run.process.kill()
                with contextlib.suppress(ChildProcessError):
                    _reap(run, 0)
    return [_result(run) for run in running]


def _result(run: _Running) -> SippResult:
    stat_path = run.spec.workdir / f"{run.spec.name}-stat.csv"
    stats = parse_stat_csv(stat_path) if stat_path.exists() else {}
    if not stats.get("SuccessfulCall(C)"):
        stats.update(parse_screen(run.screen.read_text(errors="replace")))
    attempted = stat_count(stats, "OutgoingCall(C)")
    successful = stat_count(stats, "SuccessfulCall(C)")
    failed = stat_count(stats, "FailedCall(C)")
    rtd = stats.get("ResponseTime1(C)", "")
    return SippResult(
        attempted=attempted,
        successful=successful,
        failed=failed,
        unfinished=max(0, attempted - successful - failed),
        retransmissions=stat_count(stats, "Retransmissions(C)"),
        elapsed=_elapsed(stats),
        wall=run.wall,
        cpu_seconds=run.cpu,
        returncode=run.process.returncode if run.process.returncode is not None else -1,
        response_time_ms=_duration(rtd) * 1000 if rtd else None,
        stats=stats,
        command=shlex.join(run.command),
    )


# ---- media files -------------------------------------------------------------------------------


def wav_data(path: Path) -> bytes:
    """The bytes of the ``data`` chunk of a RIFF/WAVE file (any format, µ-law included)."""
    blob = path.read_bytes()
    if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAV file")
    offset = 12
    while offset + 8 <= len(blob):
        chunk, size = blob[offset : offset + 4], struct.unpack_from("<I", blob, offset + 4)[0]
        if chunk == b"data":
            return blob[offset + 8 : offset + 8 + size]
        offset += 8 + size + (size & 1)
    raise ValueError(f"{path} has no data chunk")


# ---- output ----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for number, row in enumerate(cells):
        lines.append("  ".join(value.rjust(widths[i]) for i, value in enumerate(row)))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.0f}"
    return "-" if value is None else str(value)


def machine_note(split: CpuSplit | None = None) -> str:
    if split is None:
        return (
            f"machine: {CPU_COUNT} CPU core(s), shared by the server (one asyncio thread + the "
            "SQLite thread) and SIPp; loopback only"
        )
    return (
        f"machine: {CPU_COUNT} CPU core(s); the server (every thread) pinned to CPU "
        f"{_cpu_list(split.server)}, SIPp to CPU {_cpu_list(split.peers)}; loopback only"
    )


def _cpu_list(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def invocation() -> str:
    module = Path(sys.argv[0]).stem
    return f"cd {REPO} && .venv/bin/python -m bench.{module} " + shlex.join(sys.argv[1:])


def make_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"afterbeep-{prefix}-"))
