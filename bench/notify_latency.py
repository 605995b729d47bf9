"""Notification latency: from the caller's BYE to the SMTP server accepting the e-mail.

SIPp leaves messages at a steady rate (default 50 new calls a second for 10 s), each a few
seconds of speech; the mailbox attaches its messages as MP3. An aiosmtpd server in this process
notes when each mail is accepted, keyed by its ``X-Afterbeep-Message-Id``; SIPp's message
trace gives the time each BYE was sent, keyed by Call-ID; the store links the two.

    python -m bench.notify_latency [--rate 50] [--duration 10] [--seconds 3] [--format mp3]

Target: p95 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.parser
import json
import os
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from bench.common import (
    DTMF_POUND_PCAP,
    Sampler,
    SippSpec,
    free_port,
    invocation,
    machine_note,
    make_workdir,
    run_sipp,
    running_server,
    table,
)
from bench.deposit import SCENARIO, make_message

# BENCH_LOG_LEVEL=debug logs each job's time in the server log (in the printed workdir).
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "info")
AFTER_ACK_MS = 300
AFTER_POUND_MS = 1200
TAIL_MS = 300
TRACE_HEADER = re.compile(
    r"^-+ (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+)\s*\n"
    r"UDP message sent \(\d+ bytes\):\s*\n\s*\nBYE .*?^Call-ID: (\S+)",
    re.MULTILINE | re.DOTALL,
)


class Inbox:
    """Records when each mail was accepted (the moment DATA is answered with 250)."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        # Headers only, with the fast legacy parser: this server shares the machine with the
        # one measured and should cost it as little as a remote mail server would.
        headers = email.parser.BytesHeaderParser().parsebytes(envelope.content)
        key = str(headers.get("X-Afterbeep-Message-Id", ""))
        with self.lock:
            self.count += 1
            self.accepted.setdefault(key, now)
        return "250 OK"


def bye_times(workdir: Path) -> dict[str, float]:
    """Call-ID → when SIPp sent the BYE (its message trace, local time)."""
    times: dict[str, float] = {}
    for trace in workdir.glob("*_messages.log"):
        text = trace.read_text(errors="replace")
        for stamp, call_id in TRACE_HEADER.findall(text):
            when = dt.datetime.strptime(stamp.replace("  ", " "), "%Y-%m-%d %H:%M:%S.%f")
            times.setdefault(call_id, when.timestamp())
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=50.0, help="new calls per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of calling")
    parser.add_argument("--seconds", type=int, default=3, help="message length (s)")
    parser.add_argument("--format", choices=["mp3", "wav"], default="mp3")
    parser.add_argument(
        "--transcription", action="store_true", help="mails wait for their transcripts"
    )
    args = parser.parse_args(argv)

    workdir = make_workdir("notify")
    pcap, _raw, _payload = make_message(workdir, args.seconds)
    scenario = workdir / "deposit.xml"
    scenario.write_text(
        SCENARIO.format(
            after_ack=AFTER_ACK_MS,
            pound=DTMF_POUND_PCAP,
            after_pound=AFTER_POUND_MS,
            speech_action=f'play_pcap_audio="{pcap}"',
            media_port="media_port",
            speech_ms=args.seconds * 1000 + TAIL_MS,
        )
    )
    inbox = Inbox()
    smtp_port = free_port(tcp=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    calls = int(args.rate * args.duration)
    settings = [
        "--email", "owner@example.com", "--attach", "attach", "--audio-format", args.format,
        "--max-messages", "100000", "--min-seconds", "1",
    ]  # fmt: skip
    # Transcription off by default: at 50 messages a second it cannot keep up on two cores,
    # and each mail would wait its full --transcript-wait; this measures the delivery path.
    # --transcription measures mails that wait for their transcript (use a lower --rate).
    server_args = ["--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port)]
    if not args.transcription:
        server_args.append("--no-transcription")
    try:
        with running_server(
            workdir, mailbox_settings=settings, server_args=server_args, log_level=LOG_LEVEL
        ) as server:
            call_seconds = (AFTER_ACK_MS + AFTER_POUND_MS + TAIL_MS) / 1000 + args.seconds
            spec = SippSpec(
                target_port=server.sip_port,
                calls=calls,
                rate=args.rate,
                limit=calls,
                timeout=args.duration + call_seconds + 60,
                workdir=workdir,
                scenario=scenario,
                name="sipp",
                extra=("-trace_msg",),
            )
            with Sampler(server.pid, http_port=server.http_port) as sampler:
                [result] = run_sipp([spec], on_start=sampler.watch)
                deadline = time.monotonic() + 30
                while inbox.count < result.successful and time.monotonic() < deadline:
                    time.sleep(0.2)
            phase = sampler.active()
            messages = json.loads(server.cli("messages", "list", "--json"))
            jobs = json.loads(server.cli("jobs", "list", "--status", "failed", "--json"))
    finally:
        controller.stop()

    byes = bye_times(workdir)
    latencies = []
    for message in messages:
        accepted = inbox.accepted.get(str(message["id"]))
        sent = byes.get(str(message["call_id"]))
        if accepted is not None and sent is not None:
            latencies.append(accepted - sent)
    print(invocation())
    print(machine_note())
    print(f"{calls} calls at {args.rate:g}/s, {args.seconds} s messages, {args.format} attachments")
    print(
        table(
            ("calls ok", "messages", "mails", "failed jobs", "matched", "p50 ms", "p95 ms",
             "max ms", "mean ms"),
            [[
                result.successful, len(messages), inbox.count, len(jobs), len(latencies),
                1000 * statistics.median(latencies) if latencies else None,
                1000 * percentile(latencies, 0.95) if latencies else None,
                1000 * max(latencies) if latencies else None,
                1000 * statistics.fmean(latencies) if latencies else None,
            ]],
        )
    )  # fmt: skip
    if phase is not None:
        print(
            f"while calls were up: server {phase.server_core_percent:.0f} % of a core, SIPp "
            f"{phase.watched_core_percent:.0f} %, machine {100 * phase.machine_busy:.0f} % busy"
        )
    if latencies:
        verdict = "meets" if percentile(latencies, 0.95) <= 1.0 else "MISSES"
        print(f"p95 {verdict} the 1 s target")
    print(f"workdir: {workdir}")


if __name__ == "__main__":
    main()
