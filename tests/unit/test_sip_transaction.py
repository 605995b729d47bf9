"""Server and client transactions (RFC 3261 §17, RFC 6026 §7.1) stepped on a fake clock.

Timer values are RFC 3261's defaults (T1 = 0.5 s, T2 = 4 s, T4 = 5 s, Table 4) unless a test
says otherwise; "now" is a plain float that the tests advance.
"""

from __future__ import annotations

import pytest

from afterbeep.sip.message import Headers, Response
from afterbeep.sip.timers import TimerHeap
from afterbeep.sip.transaction import (
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    State,
    TimerConfig,
)

T1, T2, T4 = 0.5, 4.0, 5.0
CONFIG = TimerConfig(T1, T2, T4)
REQUEST = b"BYE sip:alice@192.0.2.101 SIP/2.0\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"


def resp(status: int, reason: str = "x") -> Response:
    headers = Headers([("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1"), ("CSeq", "1 INVITE")])
    return Response(headers, b"", status, reason)


class Wire:
    """The fake clock and the transport: records (time, bytes) of everything sent."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers = TimerHeap()
        self.sent: list[tuple[float, bytes]] = []

    def send(self, data: bytes) -> None:
        self.sent.append((self.now, data))

    def run_until(self, end: float) -> None:
        """Fire every timer due up to ``end``, each at its own deadline."""
        while (deadline := self.timers.next_deadline()) is not None and deadline <= end:
            self.now = deadline
            self.timers.run_due(deadline)
        self.now = end

    def times(self) -> list[float]:
        return [at for at, _ in self.sent]


# Timer G / E schedule over UDP: T1, 2T1, 4T1, then T2, T2, … after the first send at 0.
BACKOFF = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def invite_tx(wire: Wire, reliable: bool = False) -> InviteServerTransaction:
    return InviteServerTransaction(wire.send, wire.timers, reliable, CONFIG)


class TestInviteServer:
    def test_provisional_is_sent_at_once_and_resent_on_retransmission(self) -> None:
        # §17.2.1: a retransmitted INVITE in Proceeding gets the last provisional again.
        wire = Wire()
        tx = invite_tx(wire)
        tx.receive_request("INVITE", 0.0)  # nothing sent yet: nothing to resend
        assert wire.sent == []
        tx.respond(resp(100, "Trying"), 0.0)
        assert wire.sent == [(0.0, bytes(resp(100, "Trying")))]
        wire.now = 0.2
        tx.respond(resp(180, "Ringing"), 0.2)
        wire.now = 0.6
        tx.receive_request("INVITE", 0.6)
        assert wire.sent[-1] == (0.6, bytes(resp(180, "Ringing")))
        assert len(wire.sent) == 3
        assert tx.state is State.PROCEEDING
        assert wire.timers.next_deadline() is None  # no timers run in Proceeding

    def test_trying_waits_for_the_tu_and_is_skipped_when_it_answers_first(self) -> None:
        # §17.2.1: no 100 is needed when the TU answers within 200 ms.
        wire = Wire()
        tx = invite_tx(wire)
        tx.trying(lambda: resp(100, "Trying"), 0.1, 0.0)
        assert wire.sent == []
        wire.now = 0.05
        tx.respond(resp(200, "OK"), 0.05)
        wire.run_until(0.5)
        assert [data for _, data in wire.sent] == [bytes(resp(200, "OK"))]

    def test_trying_goes_out_when_the_tu_is_slow(self) -> None:
        wire = Wire()
        tx = invite_tx(wire)
        tx.trying(lambda: resp(100, "Trying"), 0.1, 0.0)
        wire.run_until(0.3)
        assert wire.sent == [(0.1, bytes(resp(100, "Trying")))]
        wire.now = 0.6
        tx.receive_request("INVITE", 0.6)  # a retransmission gets the 100 again
        assert wire.sent[-1] == (0.6, bytes(resp(100, "Trying")))

    def test_a_retransmitted_invite_gets_trying_at_once(self) -> None:
        wire = Wire()
        tx = invite_tx(wire)
        tx.trying(lambda: resp(100, "Trying"), 0.1, 0.0)
        wire.now = 0.05
        tx.receive_request("INVITE", 0.05)
        assert wire.sent == [(0.05, bytes(resp(100, "Trying")))]
        wire.run_until(0.5)
        assert len(wire.sent) == 1  # not sent a second time by the timer

    def test_non_2xx_is_retransmitted_by_timer_g_then_timer_h_gives_up(self) -> None:
        # §17.2.1: Timer G fires at T1, 2T1, 4T1 … capped at T2; Timer H = 64·T1.
        wire = Wire()
        tx = invite_tx(wire)
        events: list[str] = []
        tx.on_ack_timeout = lambda: events.append("ack-timeout")
        tx.on_terminated = lambda: events.append("terminated")
        tx.respond(resp(486, "Busy Here"), 0.0)
        assert tx.state is State.COMPLETED
        assert tx.final_status == 486
        wire.run_until(64 * T1 - 0.001)
        assert wire.times() == [0.0, *BACKOFF]
        assert {data for _, data in wire.sent} == {bytes(resp(486, "Busy Here"))}
        assert tx.state is State.COMPLETED
        assert events == []
        wire.run_until(64 * T1)
        assert tx.state is State.TERMINATED
        assert events == ["terminated", "ack-timeout"]
        wire.run_until(100.0)
        assert len(wire.sent) == 1 + len(BACKOFF)
        assert wire.timers.next_deadline() is None

    def test_timer_g_with_other_timer_values(self) -> None:
        wire = Wire()
        tx = InviteServerTransaction(wire.send, wire.timers, False, TimerConfig(0.1, 0.3, 1.0))
        tx.respond(resp(603), 0.0)
        wire.run_until(1.0)
        assert wire.times() == pytest.approx([0.0, 0.1, 0.3, 0.6, 0.9])
        wire.run_until(6.4)
        assert tx.state is State.TERMINATED

    def test_retransmitted_invite_in_completed_gets_the_final_again(self) -> None:
        wire = Wire()
        tx = invite_tx(wire)
        tx.respond(resp(486), 0.0)
        wire.now = 0.2
        tx.receive_request("INVITE", 0.2)
        assert wire.sent == [(0.0, bytes(resp(486))), (0.2, bytes(resp(486)))]

    def test_no_retransmissions_over_a_reliable_transport(self) -> None:
        # §17.2.1: Timer G is only set for unreliable transports; Timer H still runs.
        wire = Wire()
        tx = invite_tx(wire, reliable=True)
        timed_out: list[bool] = []
        tx.on_ack_timeout = lambda: timed_out.append(True)
        tx.respond(resp(480), 0.0)
        wire.run_until(64 * T1 - 0.001)
        assert wire.times() == [0.0]
        wire.run_until(64 * T1)
        assert tx.state is State.TERMINATED
        assert timed_out == [True]

    def test_ack_confirms_stops_retransmissions_and_timer_i_terminates(self) -> None:
        wire = Wire()
        tx = invite_tx(wire)
        timed_out: list[bool] = []
        tx.on_ack_timeout = lambda: timed_out.append(True)
        tx.respond(resp(486), 0.0)
        wire.run_until(2.0)  # sent at 0, 0.5, 1.5
        tx.receive_request("ACK", 2.0)
        assert tx.state is State.CONFIRMED
        # Confirmed absorbs retransmitted ACKs and INVITEs (§17.2.1).
        tx.receive_request("INVITE", 2.1)
        tx.receive_request("ACK", 2.1)
        wire.run_until(2.0 + T4 - 0.001)
        assert wire.times() == [0.0, 0.5, 1.5]
        assert tx.state is State.CONFIRMED
        wire.run_until(2.0 + T4)  # Timer I = T4
        assert tx.state is State.TERMINATED
        wire.run_until(100.0)
        assert timed_out == []
        assert len(wire.sent) == 3

    def test_timer_i_is_zero_over_a_reliable_transport(self) -> None:
        wire = Wire()
        tx = invite_tx(wire, reliable=True)
        tx.respond(resp(486), 0.0)
        tx.receive_request("ACK", 1.0)
        wire.run_until(1.0)
        assert tx.state is State.TERMINATED

    def test_2xx_moves_to_accepted_and_timer_l_terminates(self) -> None:
        # RFC 6026 §7.1: the TU retransmits the 2xx; the transaction absorbs retransmitted
        # INVITEs (it must not answer them) until Timer L = 64·T1.
        wire = Wire()
        tx = invite_tx(wire)
        terminated: list[bool] = []
        tx.on_terminated = lambda: terminated.append(True)
        tx.respond(resp(100), 0.0)
        wire.now = 1.0
        tx.respond(resp(200, "OK"), 1.0)
        assert tx.state is State.ACCEPTED
        assert tx.final_status == 200
        tx.receive_request("INVITE", 1.5)
        tx.receive_request("ACK", 1.6)
        wire.run_until(1.0 + 64 * T1 - 0.001)
        assert wire.times() == [0.0, 1.0]
        assert tx.state is State.ACCEPTED
        wire.run_until(1.0 + 64 * T1)
        assert tx.state is State.TERMINATED
        assert terminated == [True]

    def test_nothing_follows_a_final_response(self) -> None:
        wire = Wire()
        tx = invite_tx(wire)
        tx.respond(resp(200), 0.0)
        tx.respond(resp(487), 0.1)
        tx.respond(resp(180), 0.1)
        assert wire.sent == [(0.0, bytes(resp(200)))]
        assert tx.final_status == 200


class TestNonInviteServer:
    def test_retransmission_in_trying_is_absorbed(self) -> None:
        # §17.2.2: in Trying a retransmission is discarded.
        wire = Wire()
        tx = NonInviteServerTransaction(wire.send, wire.timers, False, CONFIG)
        tx.receive_request("BYE", 0.0)
        assert wire.sent == []
        assert tx.state is State.TRYING

    def test_final_is_resent_on_retransmission_until_timer_j(self) -> None:
        wire = Wire()
        tx = NonInviteServerTransaction(wire.send, wire.timers, False, CONFIG)
        terminated: list[bool] = []
        tx.on_terminated = lambda: terminated.append(True)
        tx.respond(resp(200, "OK"), 0.0)
        assert tx.state is State.COMPLETED
        wire.now = 3.0
        tx.receive_request("BYE", 3.0)
        assert wire.sent == [(0.0, bytes(resp(200, "OK"))), (3.0, bytes(resp(200, "OK")))]
        wire.run_until(64 * T1 - 0.001)  # no retransmission timer for non-INVITE servers
        assert len(wire.sent) == 2
        assert tx.state is State.COMPLETED
        wire.run_until(64 * T1)  # Timer J = 64·T1 over UDP
        assert tx.state is State.TERMINATED
        assert terminated == [True]

    def test_timer_j_is_zero_over_a_reliable_transport(self) -> None:
        wire = Wire()
        tx = NonInviteServerTransaction(wire.send, wire.timers, True, CONFIG)
        tx.respond(resp(200), 1.0)
        wire.run_until(1.0)
        assert tx.state is State.TERMINATED

    def test_provisional_then_final(self) -> None:
        wire = Wire()
        tx = NonInviteServerTransaction(wire.send, wire.timers, False, CONFIG)
        tx.respond(resp(100), 0.0)
        assert tx.state is State.PROCEEDING
        tx.receive_request("BYE", 0.1)
        tx.respond(resp(200), 0.2)
        tx.respond(resp(500), 0.3)  # ignored: the transaction is Completed
        assert [data for _, data in wire.sent] == [
            bytes(resp(100)),
            bytes(resp(100)),
            bytes(resp(200)),
        ]


class TestNonInviteClient:
    def make(
        self, wire: Wire, reliable: bool = False
    ) -> tuple[NonInviteClientTransaction, list[Response | None]]:
        finals: list[Response | None] = []
        tx = NonInviteClientTransaction(
            REQUEST, wire.send, wire.timers, reliable, CONFIG, finals.append
        )
        return tx, finals

    def test_timer_e_backs_off_to_t2_and_timer_f_times_out(self) -> None:
        # §17.1.2.2: Timer E starts at T1 and doubles up to T2; Timer F = 64·T1.
        wire = Wire()
        tx, finals = self.make(wire)
        terminated: list[bool] = []
        tx.on_terminated = lambda: terminated.append(True)
        tx.start(0.0)
        wire.run_until(64 * T1 - 0.001)
        assert wire.times() == [0.0, *BACKOFF]
        assert {data for _, data in wire.sent} == {REQUEST}
        assert finals == []
        wire.run_until(64 * T1)
        assert finals == [None]  # the TU treats it as a 408 (§8.1.3.1)
        assert tx.state is State.TERMINATED
        assert terminated == [True]
        wire.run_until(100.0)
        assert len(wire.sent) == 1 + len(BACKOFF)

    def test_in_proceeding_retransmissions_are_every_t2(self) -> None:
        wire = Wire()
        tx, finals = self.make(wire)
        tx.start(0.0)
        wire.run_until(1.0)  # sent at 0 and 0.5; next E at 1.5
        tx.receive_response(resp(100), 1.0)
        assert tx.state is State.PROCEEDING
        wire.run_until(14.0)
        assert wire.times() == [0.0, 0.5, 1.5, 1.5 + T2, 1.5 + 2 * T2, 1.5 + 3 * T2]
        wire.run_until(64 * T1)
        assert finals == [None]

    def test_final_response_stops_retransmissions_and_timer_k_terminates(self) -> None:
        wire = Wire()
        tx, finals = self.make(wire)
        tx.start(0.0)
        wire.run_until(2.0)
        ok = resp(200, "OK")
        tx.receive_response(ok, 2.0)
        assert finals == [ok]
        assert tx.state is State.COMPLETED
        tx.receive_response(ok, 2.5)  # a retransmitted final is absorbed
        assert finals == [ok]
        wire.run_until(2.0 + T4 - 0.001)
        assert tx.state is State.COMPLETED
        wire.run_until(2.0 + T4)  # Timer K = T4 over UDP
        assert tx.state is State.TERMINATED
        wire.run_until(100.0)
        assert wire.times() == [0.0, 0.5, 1.5]
        assert finals == [ok]

    def test_reliable_transport_has_no_timer_e_and_zero_timer_k(self) -> None:
        wire = Wire()
        tx, finals = self.make(wire, reliable=True)
        tx.start(0.0)
        wire.run_until(10.0)
        assert wire.times() == [0.0]
        tx.receive_response(resp(481), 10.0)
        wire.run_until(10.0)
        assert tx.state is State.TERMINATED
        assert [f.status if f else None for f in finals] == [481]

    def test_reliable_transport_still_times_out(self) -> None:
        wire = Wire()
        tx, finals = self.make(wire, reliable=True)
        tx.start(0.0)
        wire.run_until(64 * T1)
        assert finals == [None]


class TestTimerHeap:
    def test_order_cancel_and_deadline(self) -> None:
        heap = TimerHeap()
        fired: list[tuple[str, float]] = []
        heap.schedule(2.0, lambda now: fired.append(("b", now)))
        first = heap.schedule(1.0, lambda now: fired.append(("a", now)))
        heap.schedule(2.0, lambda now: fired.append(("c", now)))
        assert len(heap) == 3
        assert heap.next_deadline() == 1.0
        first.cancel()
        assert len(heap) == 2
        assert heap.next_deadline() == 2.0
        heap.run_due(1.9)
        assert fired == []
        heap.run_due(5.0)
        assert fired == [("b", 5.0), ("c", 5.0)]  # same deadline: scheduling order
        assert heap.next_deadline() is None

    def test_a_callback_may_schedule_a_due_timer(self) -> None:
        heap = TimerHeap()
        fired: list[str] = []

        def first(now: float) -> None:
            fired.append("first")
            heap.schedule(now, lambda _: fired.append("second"))

        heap.schedule(1.0, first)
        heap.run_due(1.0)
        assert fired == ["first", "second"]
