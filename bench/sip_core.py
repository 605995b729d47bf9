"""The sans-IO SIP core alone: how much CPU one answered call costs in parsing, validation,
transactions and dialogs, without sockets, asyncio, media or the database.

Each call is what SIPp's answer-and-hang-up scenario sends (INVITE with an SDP offer, ACK,
BYE) and what the server sends back (200 with an SDP answer, 200 to the BYE), with SDP
negotiation, fed through one ``UserAgent`` with a clock that advances 1 ms a call.

    python -m bench.sip_core [--calls 20000]
"""

from __future__ import annotations

import argparse
import time

from afterbeep.sip.sdp import SessionDescription, negotiate
from afterbeep.sip.useragent import Address, IncomingCall, UserAgent
from bench.common import invocation

OFFER = (
    "v=0\r\no=bench 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
)
ANSWER = OFFER.replace("bench", "afterbeep").encode()
HEAD = (
    "{method} sip:1001@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{n}-{step};rport\r\n"
    'From: "Bench" <sip:5550100@127.0.0.1:5061>;tag={n}SIPpTag001\r\n'
    "To: <sip:1001@127.0.0.1:5060>{to_tag}\r\n"
    "Call-ID: {n}-999@127.0.0.1\r\n"
    "CSeq: {cseq} {method}\r\n"
    "Contact: <sip:5550100@127.0.0.1:5061>\r\n"
    "Max-Forwards: 70\r\n"
)
PEER = Address("UDP", "127.0.0.1", 5061)


def _request(method: str, n: int, step: int, cseq: int, tag: str = "", body: str = "") -> bytes:
    head = HEAD.format(method=method, n=n, step=step, cseq=cseq, to_tag=tag and f";tag={tag}")
    if body:
        head += "Content-Type: application/sdp\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode()


def run(calls: int) -> float:
    """Seconds of CPU for ``calls`` calls."""
    ua = UserAgent(advertised_host="127.0.0.1", port=5060, trying_after=0.1)
    now = 0.0
    started = time.process_time()
    for n in range(calls):
        now += 0.001
        ua.receive(_request("INVITE", n, 1, 1, body=OFFER), PEER, now)
        (event,) = ua.events()
        assert isinstance(event, IncomingCall)
        session = event.session
        negotiate(SessionDescription.parse(session.invite.body))
        ua.answer(session, ANSWER, now)
        ua.receive(_request("ACK", n, 2, 1, session.local_tag), PEER, now)
        ua.receive(_request("BYE", n, 3, 2, session.local_tag), PEER, now)
        ua.handle_timer(now)
        ua.events()
        ua.outgoing()
    return time.process_time() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args(argv)
    run(2000)  # warm-up: caches, memoised names
    seconds = run(args.calls)
    print(f"SIP core: {args.calls} calls, {1000 * seconds / args.calls:.3f} ms of CPU per call")
    print("(INVITE + SDP negotiation + 200 + ACK + BYE + 200, one UserAgent, no I/O)")
    print(f"\ncommand: {invocation()}")


if __name__ == "__main__":
    main()
