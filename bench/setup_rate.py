"""Call-setup throughput: SIPp places answer-and-hang-up calls at fixed rates.

Each call is INVITE → (100/180) → 200 with SDP → ACK → BYE at once → 200: the server looks
the mailbox up, opens an RTP port, answers, starts the greeting, then tears the call down and
records a missed call. For each rate a fresh server (fresh data folder) gets a short warm-up,
then the measured run; the table shows what SIPp saw and what the server spent. With two or
more CPUs the server (all its threads) is pinned to one and SIPp to the others (``--no-pin``:
both share every CPU).

    python -m bench.setup_rate [--rates 200,500,1000,1500,2000] [--calls N] [--no-pin]
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    CPU_COUNT,
    CpuSplit,
    Sampler,
    SippResult,
    SippSpec,
    Window,
    cpu_split,
    invocation,
    machine_note,
    make_workdir,
    run_sipp,
    running_server,
    stat_count,
    table,
)

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer-and-hang-up">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Bench" <sip:5550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
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
      m=audio [media_port] RTP/AVP 0 8 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000
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
      From: "Bench" <sip:5550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:5550100@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Bench" <sip:5550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
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

WARMUP_CALLS = 20


@dataclass(frozen=True, slots=True)
class RateResult:
    rate: float
    sipp: SippResult
    server_cpu: float
    server_core_percent: float
    machine_busy: float
    wall: float
    rss_peak: int
    lateness_p99: float
    sip_drops: int

    @property
    def setups_per_second(self) -> float:
        return self.sipp.successful / self.sipp.elapsed if self.sipp.elapsed else 0.0

    @property
    def cpu_ms_per_call(self) -> float:
        calls = max(1, self.sipp.attempted)
        return 1000 * self.server_cpu / calls

    @property
    def sipp_core_percent(self) -> float:
        return 100 * self.sipp.cpu_seconds / self.wall if self.wall else 0.0

    @property
    def other_core_percent(self) -> float:
        """Machine CPU used by neither the server nor SIPp (kernel threads, this harness,
        other processes on the machine)."""
        total = 100 * CPU_COUNT * self.machine_busy
        used = self.server_core_percent + self.sipp_core_percent
        return max(0.0, total - used)

    @property
    def sustained(self) -> bool:
        """No failures, no retransmissions, and at least 95 % of the target rate achieved."""
        return (
            self.clean
            and self.sipp.retransmissions == 0
            and self.setups_per_second >= 0.95 * self.rate
        )

    @property
    def clean(self) -> bool:
        return self.sipp.attempted > 0 and self.sipp.not_ok == 0


def measure(
    rate: float, calls: int, workdir: Path, limit: int | None, split: CpuSplit | None
) -> RateResult:
    scenario = workdir / "answer_hangup.xml"
    scenario.write_text(SCENARIO)
    run_dir = workdir / f"rate-{rate:g}"
    peers = split.peers if split else None
    with running_server(run_dir, cpus=split.server if split else None) as server:
        warm = SippSpec(
            server.sip_port, WARMUP_CALLS, 20, WARMUP_CALLS, 20, run_dir, scenario, name="warmup"
        )
        run_sipp([warm], cpus=peers)
        spec = SippSpec(
            target_port=server.sip_port,
            calls=calls,
            rate=rate,
            limit=limit or max(200, int(rate * 2)),
            timeout=calls / rate + 40,
            workdir=run_dir,
            scenario=scenario,
            name="load",
        )
        window = Window(server.pid)
        with Sampler(server.pid, track_udp=True) as sampler:
            window.start()
            (result,) = run_sipp([spec], cpus=peers)
            window.stop()
        metrics = server.metrics()
    return RateResult(
        rate=rate,
        sipp=result,
        server_cpu=window.server_cpu,
        server_core_percent=window.server_core_percent,
        machine_busy=window.machine_busy,
        wall=window.wall,
        rss_peak=sampler.max_rss,
        lateness_p99=metrics.get("afterbeep_media_tick_lateness_p99_seconds", float("nan")),
        sip_drops=sampler.udp_drops(server.sip_port)[0],
    )


def report(results: list[RateResult], calls_note: str, split: CpuSplit | None) -> str:
    rows = [
        [
            f"{r.rate:g}",
            r.sipp.attempted,
            r.sipp.successful,
            r.sipp.failed,
            r.sipp.unfinished,
            r.sipp.retransmissions,
            stat_count(r.sipp.stats, "FailedMaxUDPRetrans(C)"),
            r.sip_drops,
            round(r.setups_per_second, 1),
            r.sipp.response_time_ms,
            round(r.server_cpu, 2),
            round(r.cpu_ms_per_call, 2),
            round(r.server_core_percent),
            round(r.sipp_core_percent),
            round(r.other_core_percent),
            round(100 * r.machine_busy),
            None if r.lateness_p99 != r.lateness_p99 else round(1000 * r.lateness_p99, 1),
        ]
        for r in results
    ]
    headers = [
        "target/s", "attempted", "ok", "failed", "unfinished", "retrans", "UDP t/o",
        "SIP drops", "setups/s", "INV→200 ms", "srv CPU s", "CPU ms/call", "srv %core",
        "SIPp %core", "other %core", f"busy % of {CPU_COUNT}", "p99 late ms",
    ]  # fmt: skip
    lines = [
        "afterbeep call-setup rate (INVITE → 200 → ACK → BYE, no media from the caller)",
        machine_note(split),
        calls_note,
        "",
        table(headers, rows),
        "",
        "setups/s: successful calls / SIPp run time (first INVITE to last BYE answered).",
        "failed: SIPp's failed calls; unfinished: neither successful nor failed when it stopped.",
        "srv %core: server CPU over the run as % of one core (one asyncio thread and the "
        "SQLite thread).",
        "other %core: busy CPU used by neither (kernel threads, this harness, other processes "
        "on the machine).",
        "SIP drops: datagrams the kernel dropped on the server's SIP socket (full buffer; "
        "/proc/net/udp). UDP t/o: calls SIPp gave up on after its retransmissions.",
    ]
    clean = [r for r in results if r.clean]
    if clean:
        best = max(clean, key=lambda r: r.rate)
        lines.append(
            f"highest rate with 0 failures: {best.rate:g} calls/s target "
            f"({best.setups_per_second:.0f} setups/s achieved, "
            f"{best.cpu_ms_per_call:.2f} ms server CPU per call)"
        )
    else:
        lines.append("highest rate with 0 failures: none of the rates tried")
    sustained = [r for r in results if r.sustained]
    if sustained:
        best = max(sustained, key=lambda r: r.rate)
        lines.append(
            f"highest rate sustained (0 failures, 0 retransmissions, ≥ 95 % of target "
            f"achieved): {best.rate:g} calls/s"
        )
    else:
        lines.append(
            "highest rate sustained (0 failures, 0 retransmissions, ≥ 95 % of target): none"
        )
    if results:
        top = max(results, key=lambda r: r.setups_per_second)
        lines.append(
            f"highest achieved: {top.setups_per_second:.0f} setups/s (target {top.rate:g}/s)"
        )
    noisy = [r for r in results if r.other_core_percent >= 25]
    if noisy:
        lines.append(
            "other %core ≥ 25 at "
            + ", ".join(f"{r.rate:g}/s" for r in noisy)
            + ": other processes on the machine took CPU; noisier figures."
        )
    cpu_bound = [r for r in results if r.server_core_percent >= 90]
    if cpu_bound:
        lines.append(
            "server CPU ≥ 90 % of one core at target "
            + ", ".join(f"{r.rate:g}/s" for r in cpu_bound)
            + ": the server's one core is the limit there."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rates", default="200,500,1000,1500,2000", help="comma-separated calls/s targets"
    )
    parser.add_argument(
        "--calls", type=int, default=None, help="calls per rate (default: rate × --seconds)"
    )
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="run length per rate when --calls is not set"
    )
    parser.add_argument("--limit", type=int, default=None, help="SIPp -l (default: 2 × rate)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the server and SIPp share every CPU (default: the server on one, SIPp on "
        "the others)",
    )
    args = parser.parse_args(argv)
    rates = [float(value) for value in args.rates.split(",") if value.strip()]
    if not rates or any(rate <= 0 for rate in rates):
        parser.error("--rates needs positive numbers")
    if args.calls is not None and not 1 <= args.calls <= 100_000:
        parser.error("--calls must be between 1 and 100000")
    workdir = make_workdir("setup")
    split = None if args.no_pin else cpu_split()
    results: list[RateResult] = []
    try:
        for rate in rates:
            calls = args.calls or max(1, min(100_000, int(rate * args.seconds)))
            result = measure(rate, calls, workdir, args.limit, split)
            results.append(result)
            print(
                f"  rate {rate:g}/s: {result.sipp.successful}/{result.sipp.attempted} ok, "
                f"{result.setups_per_second:.0f} setups/s, "
                f"server {result.server_core_percent:.0f} % of a core",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    note = (
        f"calls per rate: {args.calls}"
        if args.calls
        else f"calls per rate: rate × {args.seconds:g} s; SIPp -l {args.limit or '2 × rate'}"
    )
    print()
    print(report(results, note, split))
    if args.keep:
        print(f"work folder kept: {workdir}")
    print()
    print("command:", invocation())


if __name__ == "__main__":
    main()
