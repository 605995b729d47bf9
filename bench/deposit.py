"""Concurrent message deposits: N SIPp callers each leave a message of S seconds at once.

Each caller: INVITE → 200 → ACK, '#' (RFC 4733) during the greeting to skip to the beep, then
S seconds of G.711 µ-law speech (espeak-ng, repeated to S seconds, with low-level noise mixed
in so that no 20 ms frame is silent and every frame is unique), then BYE. The callers ramp up
in a few seconds; all N record at the same time. Afterwards the stored messages are read back
(``afterbeep messages list --json`` for the durations, the WAV files for the content) and
compared with what SIPp sent.

    python -m bench.deposit [--calls 100,300,1000] [--seconds 30] [--media rtpstream|pcap]

``--media rtpstream`` (the default) sends the message with SIPp's ``rtp_stream`` (a few
threads, each pacing many calls). ``--media pcap`` plays it with ``play_pcap_audio``: one
thread per call, each pacing its own packets, which costs SIPp far more CPU — at 1,000 callers
more than the CPU SIPp is given here, and its late threads then send bursts. The '#' is a pcap
in both.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.support.pcap import write_rtp_pcap

from bench.common import (
    CPU_COUNT,
    DTMF_POUND_PCAP,
    CpuSplit,
    Phase,
    Sampler,
    Server,
    SippResult,
    SippSpec,
    Window,
    cpu_split,
    invocation,
    machine_note,
    make_workdir,
    run_sipp,
    running_server,
    table,
    wav_data,
)

FRAME = 160  # bytes of µ-law per 20 ms RTP packet
SPEECH_TEXT = (
    "Hi Alice, this is Bob from the garage. Your car is ready: we replaced the front brake "
    "pads and the left headlight, and the total comes to three hundred and twelve euros. "
    "We are open until six tonight and from eight tomorrow morning. Call me back on "
    "five five five, zero one zero zero if you have any questions. Thanks, bye."
)
AFTER_ACK_MS = 500  # before '#'
AFTER_POUND_MS = 1500  # '#' → beep (0.5 s) → recording starts; then the speech
TAIL_MS = 1500  # slack after the speech's last packet before BYE

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="deposit">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Bench Caller" <sip:5550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:5550100@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=bench 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [{media_port}] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Bench Caller" <sip:5550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:5550100@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="{after_ack}"/>
  <nop><action><exec play_pcap_audio="{pound}"/></action></nop>
  <pause milliseconds="{after_pound}"/>
  <nop><action><exec {speech_action}/></action></nop>
  <pause milliseconds="{speech_ms}"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Bench Caller" <sip:5550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:5550100@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


def make_message(workdir: Path, seconds: int) -> tuple[Path, Path, bytes]:
    """``seconds`` of non-silent speech as a pcap (PCMU, PT 0) and as a raw µ-law file (for
    SIPp's rtp_stream), and the µ-law bytes themselves."""
    speech = workdir / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "155", "-w", str(speech), SPEECH_TEXT],
        check=True,
        capture_output=True,
        timeout=60,
    )
    narrow = workdir / "speech-8k.wav"
    subprocess.run(
        ["sox", str(speech), "-r", "8000", "-c", "1", "-b", "16", str(narrow)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    noise = workdir / "noise.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(noise),
         "synth", str(seconds + 1), "whitenoise", "vol", "0.02"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    length = float(
        subprocess.run(
            ["soxi", "-D", str(narrow)], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    )
    repeats = max(0, math.ceil(seconds / max(length, 0.1)) - 1)
    mulaw = workdir / "message.ul"
    # Speech repeated to the length wanted, plus white noise at about -39 dBFS: above the
    # server's -42 dBFS silence threshold, so the pauses between sentences are not silence.
    subprocess.run(
        ["sox", "-m", "-v", "0.9", "|sox " + str(narrow) + " -p repeat " + str(repeats),
         "-v", "1", str(noise),
         "-t", "raw", "-r", "8000", "-c", "1", "-e", "mu-law", "-b", "8", str(mulaw),
         "trim", "0", str(seconds)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    payload = mulaw.read_bytes()[: seconds * 8000]
    if len(payload) < seconds * 8000:
        raise RuntimeError(f"sox made {len(payload) / 8000:.1f} s of audio, not {seconds} s")
    mulaw.write_bytes(payload)  # rtp_stream sends the whole file: exactly the frames wanted
    pcap = workdir / f"message-{seconds}s.pcap"
    write_rtp_pcap(pcap, payload, 0)
    return pcap, mulaw, payload


@dataclass(frozen=True, slots=True)
class DepositResult:
    calls: int
    seconds: int
    media: str
    sipp: list[SippResult]
    messages: int
    stored_seconds: float
    frames_found: int
    frames_sent: int  # calls × packets per message: what each caller's stream holds
    server_cpu: float
    sipp_cpu: float
    wall: float
    machine_busy: float
    active: Phase | None  # the run until the calls were gone (without a lingering SIPp's tail)
    peak: Phase | None
    rss_before: int
    rss_peak: int
    lateness_p50: float
    lateness_p99: float
    ramp_seconds: float
    sip_drops: int
    rtp_drops: int
    drain_seconds: float  # after SIPp's last BYE was answered, until the server had no call

    @property
    def successful(self) -> int:
        return sum(r.successful for r in self.sipp)

    @property
    def failed(self) -> int:
        return self.calls - self.successful

    @property
    def response_ms(self) -> float | None:
        """Mean INVITE → 200 time over the SIPp processes, weighted by their calls."""
        pairs = [(r.response_time_ms, r.successful) for r in self.sipp]
        weight = sum(n for ms, n in pairs if ms is not None)
        if not weight:
            return None
        return sum((ms or 0.0) * n for ms, n in pairs if ms is not None) / weight

    @property
    def duration_percent(self) -> float:
        return 100 * self.stored_seconds / (self.calls * self.seconds)

    @property
    def frames_percent(self) -> float:
        return 100 * self.frames_found / self.frames_sent if self.frames_sent else 0.0

    @property
    def server_core_percent(self) -> float:
        return 100 * self.server_cpu / self.wall if self.wall else 0.0

    @property
    def sipp_core_percent(self) -> float:
        return 100 * self.sipp_cpu / self.wall if self.wall else 0.0

    @property
    def rss_per_call(self) -> float:
        return (self.rss_peak - self.rss_before) / self.calls


def stored_messages(server: Server) -> list[dict[str, object]]:
    data = json.loads(server.cli("messages", "list", "1001", "--json"))
    if not isinstance(data, list):
        raise RuntimeError("messages list --json did not give a list")
    return [item for item in data if isinstance(item, dict)]


def frames_found(server: Server, messages: list[dict[str, object]], sent: bytes) -> int:
    """How many of the sent 20 ms frames are in the stored audio, message by message (each
    sent frame counted at most once per message)."""
    wanted = Counter(sent[i : i + FRAME] for i in range(0, len(sent) - FRAME + 1, FRAME))
    files = {path.stem: path for path in (server.data_dir / "audio").rglob("*.wav")}
    found = 0
    for message in messages:
        path = files.get(str(message.get("id")))
        if path is None:
            continue
        audio = wav_data(path)
        got = Counter(audio[i : i + FRAME] for i in range(0, len(audio) - FRAME + 1, FRAME))
        found += sum((got & wanted).values())
    return found


def time_to_all_up(sampler: Sampler, calls: int) -> float:
    """Seconds from the start of sampling until ≥ 98 % of the calls were active (NaN: never)."""
    if not sampler.series:
        return float("nan")
    start = sampler.series[0].at
    for sample in sampler.series:
        if sample.calls_active is not None and sample.calls_active >= 0.98 * calls:
            return sample.at - start
    return float("nan")


def split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts) if base or index < extra]


def scenario_text(seconds: int, media: str, pcap: Path, raw: Path) -> str:
    if media == "rtpstream":
        action, port = f'rtp_stream="{raw},1,0"', "rtpstream_audio_port"
    else:
        action, port = f'play_pcap_audio="{pcap}"', "media_port"
    return SCENARIO.format(
        after_ack=AFTER_ACK_MS,
        pound=DTMF_POUND_PCAP,
        after_pound=AFTER_POUND_MS,
        speech_action=action,
        media_port=port,
        speech_ms=seconds * 1000 + TAIL_MS,
    )


def measure(
    calls: int,
    seconds: int,
    media: str,
    workdir: Path,
    files: tuple[Path, Path, bytes],
    ramp: float,
    procs: int,
    cpus: CpuSplit | None,
) -> DepositResult:
    pcap, raw, payload = files
    run_dir = workdir / f"calls-{calls}-{media}"
    run_dir.mkdir(parents=True, exist_ok=True)
    scenario = run_dir / "deposit.xml"
    scenario.write_text(scenario_text(seconds, media, pcap, raw))
    settings = ["--max-seconds", str(max(180, seconds + 60)), "--max-messages", "100000"]
    # Transcription (seconds of CPU a message, on every core) is sized by bench.transcribe;
    # here it would compete with the calls being measured.
    with running_server(
        run_dir,
        mailbox_settings=settings,
        server_args=["--no-transcription"],
        cpus=cpus.server if cpus else None,
    ) as server:
        call_seconds = (AFTER_ACK_MS + AFTER_POUND_MS + TAIL_MS) / 1000 + seconds
        specs = [
            SippSpec(
                target_port=server.sip_port,
                calls=count,
                rate=max(1.0, count / ramp),
                limit=count,
                timeout=ramp * 4 + call_seconds + 60,
                workdir=run_dir,
                scenario=scenario,
                name=f"sipp{index}",
            )
            for index, count in enumerate(split(calls, max(1, min(procs, calls))))
        ]
        rss_before = server.usage().rss_bytes
        window = Window(server.pid)
        with Sampler(server.pid, http_port=server.http_port, track_udp=True) as sampler:
            window.start()
            results = run_sipp(specs, on_start=sampler.watch, cpus=cpus.peers if cpus else None)
            window.stop()
        # The last callers' messages are committed after their BYE was answered: count them
        # once the server has finished every call.
        drain = wait_for_calls_gone(server)
        metrics = server.metrics()
        messages = stored_messages(server)
        durations = [m.get("duration_seconds") for m in messages]
        stored = sum(float(d) for d in durations if isinstance(d, int | float))
        found = frames_found(server, messages, payload)
        sip_drops, rtp_drops = sampler.udp_drops(server.sip_port)
    return DepositResult(
        calls=calls,
        seconds=seconds,
        media=media,
        sipp=results,
        messages=len(messages),
        stored_seconds=stored,
        frames_found=found,
        frames_sent=calls * (len(payload) // FRAME),
        server_cpu=window.server_cpu,
        sipp_cpu=sum(r.cpu_seconds for r in results),
        wall=window.wall,
        machine_busy=window.machine_busy,
        active=sampler.active(),
        peak=sampler.peak(),
        rss_before=rss_before,
        rss_peak=sampler.max_rss,
        lateness_p50=metrics.get("afterbeep_media_tick_lateness_p50_seconds", float("nan")),
        lateness_p99=metrics.get("afterbeep_media_tick_lateness_p99_seconds", float("nan")),
        ramp_seconds=time_to_all_up(sampler, calls),
        sip_drops=sip_drops,
        rtp_drops=rtp_drops,
        drain_seconds=drain,
    )


def wait_for_calls_gone(server: Server, timeout: float = 120.0) -> float:
    """Seconds until the server reports no active call (NaN if it never does)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.metrics().get("afterbeep_calls_active", 1) == 0:
            return time.monotonic() - start
        time.sleep(0.1)
    return float("nan")


def _ms(value: float | None) -> float | None:
    return None if value is None or value != value else round(1000 * value, 1)


def _round(value: float | None, digits: int = 0) -> float | int | None:
    if value is None or value != value:
        return None
    return round(value, digits) if digits else round(value)


def _phase_cells(phase: Phase | None, *, with_calls: bool) -> list[object]:
    cells: list[object] = [round(phase.calls_active)] if phase and with_calls else []
    if phase is None:
        return [None] * (6 if with_calls else 5)
    return [
        *cells,
        round(phase.seconds),
        round(phase.server_core_percent),
        round(phase.watched_core_percent),
        round(phase.other_core_percent),
        round(100 * phase.machine_busy),
    ]


def report(results: list[DepositResult], ramp: float, cpus: CpuSplit | None = None) -> str:
    outcome = [
        [
            r.calls, r.media, len(r.sipp), r.successful, r.failed, r.messages,
            round(r.duration_percent, 2), round(r.frames_percent, 2),
            _round(r.response_ms), _round(r.ramp_seconds, 1),
            _ms(r.lateness_p50), _ms(r.lateness_p99), r.sip_drops, r.rtp_drops,
            _round(r.drain_seconds, 1),
        ]
        for r in results
    ]  # fmt: skip
    cost = [
        [
            r.calls, r.media, round(1000 * r.server_cpu / r.calls, 1),
            round((r.rss_peak - r.rss_before) / 2**20, 1), round(r.rss_per_call / 1024, 1),
            *_phase_cells(r.active, with_calls=False),
            *_phase_cells(r.peak, with_calls=True),
        ]
        for r in results
    ]  # fmt: skip
    seconds = results[0].seconds if results else 0
    lines = [
        f"afterbeep deposit: N concurrent callers, '#' to skip the greeting, {seconds} s of "
        "PCMU speech each, then BYE",
        machine_note(cpus),
        f"SIPp: callers split over the SIPp processes shown; -l/-m = each one's share of N, "
        f"-r = share / {ramp:g} s",
        "",
        table(
            [
                "calls",
                "media",
                "SIPps",
                "ok",
                "failed",
                "msgs",
                "stored s %",
                "frames %",
                "INV→200 ms",
                "all up s",
                "p50 late ms",
                "p99 late ms",
                "SIP drops",
                "RTP drops",
                "drain s",
            ],
            outcome,
        ),
        "",
        table(
            [
                "calls",
                "media",
                "CPU ms/call",
                "RSS Δ MiB",
                "RSS KiB/call",
                "run s",
                "srv %core",
                "SIPp %core",
                "other %core",
                f"busy % of {CPU_COUNT}",
                "peak calls",
                "peak s",
                "srv %core@pk",
                "SIPp %core@pk",
                "other %core@pk",
                f"busy %@pk of {CPU_COUNT}",
            ],
            cost,
        ),
        "",
        "failed: calls not successful in SIPp (failed or unfinished). msgs: messages stored.",
        "stored s %: sum of stored durations (messages list --json) / (N × seconds).",
        "frames %: sent 20 ms frames found byte-exact in the stored WAVs / (N × frames per "
        "message); a frame lost mid-message is stored as silence (same duration), so only "
        "this column sees it.",
        "INV→200 ms: mean SIPp response time. all up s: from the first INVITE until ≥ 98 % of "
        "N calls were active ('-': never).",
        "drain s: from SIPp's end until the server had finished every call (the last "
        "messages are committed after their BYE is answered); messages are counted then.",
        "p50/p99 late: /metrics media clock tick lateness (whole run); outgoing media only "
        "plays during the ramp here (greeting until '#', then the beep). 64 ms is its top bucket.",
        "CPU ms/call: the server's CPU over the whole run / N. RSS Δ: peak VmRSS during the "
        "run − VmRSS before; per call = Δ / N.",
        "run s, srv/SIPp/other %core, busy %: from the first INVITE until the calls were gone, "
        "CPU as % of one core (other = busy CPU used by neither: kernel threads, this "
        "harness, other processes on the machine) and the whole machine's busy share.",
        "…@pk: the same over the peak span (from the first to the last moment with ≥ 98 % of "
        "the most calls ever active).",
        "SIP/RTP drops: datagrams the kernel dropped on the server's SIP socket / its RTP "
        "sockets (/proc/net/udp, sampled each second: a lower bound).",
    ]
    for r in results:
        lines.extend(verdict(r))
    return "\n".join(lines)


def verdict(r: DepositResult) -> list[str]:
    notes: list[str] = []
    label = f"N={r.calls} ({r.media})"
    phases = [(name, phase) for name, phase in (("peak", r.peak), ("run", r.active)) if phase]
    busiest = max(phases, key=lambda item: item[1].machine_busy, default=None)
    saturated = busiest is not None and busiest[1].machine_busy >= 0.8
    if busiest is not None and saturated:
        name, phase = busiest
        notes.append(
            f"{label}: over the {name} the machine was {100 * phase.machine_busy:.0f} % busy "
            f"(both cores): SIPp {phase.watched_core_percent:.0f} %, server "
            f"{phase.server_core_percent:.0f} %, other {phase.other_core_percent:.0f} % of a "
            "core. The load generator competes with the server for the 2 cores; losses here "
            "are not the server's alone."
        )
        if phase.watched_core_percent > phase.server_core_percent:
            notes.append(
                f"{label}: SIPp used more CPU than the server and starved it: the load "
                "generator is the bottleneck here."
            )
    if r.peak is not None and r.peak.server_core_percent >= 90:
        notes.append(
            f"{label}: the server's event loop was CPU-bound at the peak "
            f"({r.peak.server_core_percent:.0f} % of its one core)."
        )
    if r.peak is not None and r.peak.other_core_percent >= 25:
        notes.append(
            f"{label}: {r.peak.other_core_percent:.0f} % of a core went to neither the server "
            "nor SIPp at the peak (other processes on the machine): figures are noisier than "
            "usual."
        )
    if r.sip_drops:
        notes.append(
            f"{label}: the kernel dropped ≥ {r.sip_drops} datagrams on the server's SIP socket "
            "(its buffer was full: the event loop did not read it fast enough), so INVITEs "
            "went unanswered rather than refused."
        )
    if r.rtp_drops:
        notes.append(
            f"{label}: the kernel dropped ≥ {r.rtp_drops} RTP packets on the server's media "
            "sockets (the event loop fell behind reading them)."
        )
    if r.failed and not saturated:
        notes.append(f"{label}: {r.failed} calls failed without the machine being saturated.")
    return notes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", default="100,300,1000", help="comma-separated N values")
    parser.add_argument("--seconds", type=int, default=30, help="message length (s)")
    parser.add_argument(
        "--media",
        default="rtpstream",
        help="how SIPp sends the message: rtpstream, pcap, or both (comma-separated)",
    )
    parser.add_argument(
        "--ramp", type=float, default=4.0, help="seconds over which SIPp starts the N calls"
    )
    parser.add_argument(
        "--sipp-procs",
        type=int,
        default=0,
        help="SIPp processes to split the callers over (default: one per 250 callers)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the server and SIPp share every CPU (default: the server on one, SIPp on "
        "the others)",
    )
    args = parser.parse_args(argv)
    counts = [int(value) for value in args.calls.split(",") if value.strip()]
    if not counts or any(not 1 <= n <= 2000 for n in counts):
        parser.error("--calls values must be between 1 and 2000")
    medias = [value.strip() for value in args.media.split(",") if value.strip()]
    if not medias or any(media not in ("pcap", "rtpstream") for media in medias):
        parser.error("--media takes pcap and/or rtpstream")
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    if not 0.1 <= args.ramp <= 60:
        parser.error("--ramp must be between 0.1 and 60 s")
    if not 0 <= args.sipp_procs <= 16:
        parser.error("--sipp-procs must be between 0 (automatic) and 16")
    workdir = make_workdir("deposit")
    cpus = None if args.no_pin else cpu_split()
    results: list[DepositResult] = []
    try:
        files = make_message(workdir, args.seconds)
        for calls in counts:
            for media in medias:
                procs = args.sipp_procs or max(1, math.ceil(calls / 250))
                result = measure(calls, args.seconds, media, workdir, files, args.ramp, procs, cpus)
                results.append(result)
                print(
                    f"  N={calls} {media}: {result.successful}/{calls} ok, "
                    f"{result.messages} messages, frames {result.frames_percent:.2f} %, "
                    f"server {result.server_core_percent:.0f} % of a core; SIPp ran "
                    + ", ".join(f"{r.wall:.0f}" for r in result.sipp)
                    + " s",
                    flush=True,
                )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report(results, args.ramp, cpus))
    if args.keep:
        print(f"work folder kept: {workdir}")
    print()
    print("command:", invocation())


if __name__ == "__main__":
    main()
