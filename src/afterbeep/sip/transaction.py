"""SIP transactions (RFC 3261 §17, with RFC 6026's Accepted state).

Each transaction is a small state machine following its figure in the RFC; an input its
state has no transition for is absorbed (a retransmission that arrives too late, say), so
transactions never raise on the peer's behaviour. Time comes in as ``now``; timers go through
the shared ``TimerHeap``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from afterbeep.sip.message import Response
from afterbeep.sip.timers import Timer, TimerHeap


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """RFC 3261 §17.1.1.1 defaults: T1 is the RTT estimate, T2 the cap, T4 a packet's life."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class State(Enum):
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"  # RFC 6026 §7.1: a 2xx was sent; absorb INVITE retransmissions
    TERMINATED = "terminated"


Send = Callable[[bytes], None]


class _Base:
    # Slots: tens of thousands of these wait out Timers J and L at a few hundred calls a second.
    __slots__ = ("_armed", "_config", "_reliable", "_send", "_timers", "on_terminated", "state")

    def __init__(self, send: Send, timers: TimerHeap, reliable: bool, config: TimerConfig) -> None:
        self.state = State.TRYING
        self._send = send
        self._timers = timers
        self._reliable = reliable
        self._config = config
        self._armed: list[Timer] = []
        self.on_terminated: Callable[[], object] | None = None

    def _arm(self, delay: float, callback: Callable[[float], None], now: float) -> None:
        self._armed.append(self._timers.schedule(now + delay, callback))

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        self.state = State.TERMINATED
        for timer in self._armed:
            timer.cancel()
        self._armed.clear()
        if self.on_terminated is not None:
            self.on_terminated()


class InviteServerTransaction(_Base):
    """§17.2.1 (figure 7) as amended by RFC 6026 §7.1 (figure 5)."""

    __slots__ = ("_trying", "final_status", "last_response", "on_ack_timeout")

    def __init__(self, send: Send, timers: TimerHeap, reliable: bool, config: TimerConfig) -> None:
        super().__init__(send, timers, reliable, config)
        self.state = State.PROCEEDING
        self.last_response: bytes | None = None
        self.final_status: int | None = None
        self.on_ack_timeout: Callable[[], None] | None = None
        self._trying: Callable[[], Response] | None = None

    def trying(self, make: Callable[[], Response], delay: float, now: float) -> None:
        """§17.2.1: a 100 (Trying) unless the TU answers within ``delay`` seconds (the RFC
        allows up to 200 ms); a retransmitted INVITE before then gets it at once."""
        if delay <= 0:
            self.respond(make(), now)
            return
        self._trying = make
        self._arm(delay, self._send_trying, now)

    def _send_trying(self, now: float) -> None:
        if self._trying is not None and self.last_response is None:
            self.respond(self._trying(), now)
        self._trying = None

    def respond(self, response: Response, now: float) -> None:
        data = bytes(response)
        status = response.status
        if self.state is not State.PROCEEDING:
            return  # a final response was already sent; nothing may follow it
        self._send(data)
        self.last_response = data
        if status < 200:
            return
        self.final_status = status
        self._trying = None
        if status < 300:
            # RFC 6026: the TU retransmits the 2xx; the transaction only absorbs
            # retransmitted INVITEs until Timer L.
            self.state = State.ACCEPTED
            self.on_ack_timeout = None  # a 2xx's ACK is the dialog's business, not ours
            self._arm(64 * self._config.t1, self._timer_l, now)
            return
        self.state = State.COMPLETED
        if not self._reliable:
            self._arm(self._config.t1, self._timer_g(self._config.t1), now)
        self._arm(64 * self._config.t1, self._timer_h, now)

    def receive_request(self, method: str, now: float) -> None:
        """A retransmitted INVITE, or the ACK for a non-2xx final response."""
        if method == "INVITE":
            # §17.2.1: in Proceeding and Completed the last response is sent again.
            if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response:
                self._send(self.last_response)
            elif self.state is State.PROCEEDING:
                self._send_trying(now)  # the caller is retransmitting: it needs the 100 now
        elif method == "ACK" and self.state is State.COMPLETED:
            self.state = State.CONFIRMED
            self.on_ack_timeout = None
            for timer in self._armed:
                timer.cancel()
            self._armed.clear()
            self._arm(0.0 if self._reliable else self._config.t4, self._timer_i, now)

    def _timer_g(self, interval: float) -> Callable[[float], None]:
        def fire(now: float) -> None:
            if self.state is State.COMPLETED and self.last_response:
                self._send(self.last_response)
                nxt = min(2 * interval, self._config.t2)
                self._arm(nxt, self._timer_g(nxt), now)

        return fire

    def _timer_h(self, now: float) -> None:
        if self.state is State.COMPLETED:
            self._terminate()
            if self.on_ack_timeout is not None:
                self.on_ack_timeout()

    def _timer_i(self, now: float) -> None:
        self._terminate()

    def _timer_l(self, now: float) -> None:
        self._terminate()


class NonInviteServerTransaction(_Base):
    """§17.2.2 (figure 8)."""

    __slots__ = ("last_response",)

    def __init__(self, send: Send, timers: TimerHeap, reliable: bool, config: TimerConfig) -> None:
        super().__init__(send, timers, reliable, config)
        self.last_response: bytes | None = None

    def respond(self, response: Response, now: float) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return
        data = bytes(response)
        self._send(data)
        self.last_response = data
        if response.status < 200:
            self.state = State.PROCEEDING
            return
        self.state = State.COMPLETED
        self._arm(0.0 if self._reliable else 64 * self._config.t1, self._timer_j, now)

    def receive_request(self, method: str, now: float) -> None:
        # A retransmission: absorbed in Trying, answered again afterwards.
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response:
            self._send(self.last_response)

    def _timer_j(self, now: float) -> None:
        self._terminate()


class NonInviteClientTransaction(_Base):
    """§17.1.2 (figure 6): BYE, REFER, NOTIFY and the other requests we send."""

    __slots__ = ("_on_final", "_request")

    def __init__(
        self,
        request: bytes,
        send: Send,
        timers: TimerHeap,
        reliable: bool,
        config: TimerConfig,
        on_final: Callable[[Response | None], None],
    ) -> None:
        super().__init__(send, timers, reliable, config)
        self._request = request
        self._on_final = on_final

    def start(self, now: float) -> None:
        self._send(self._request)
        if not self._reliable:
            self._arm(self._config.t1, self._timer_e(self._config.t1), now)
        self._arm(64 * self._config.t1, self._timer_f, now)

    def receive_response(self, response: Response, now: float) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return  # retransmitted final responses are absorbed in Completed
        if response.status < 200:
            self.state = State.PROCEEDING
            return
        self.state = State.COMPLETED
        for timer in self._armed:
            timer.cancel()
        self._armed.clear()
        self._on_final(response)
        self._arm(0.0 if self._reliable else self._config.t4, self._timer_k, now)

    def _timer_e(self, interval: float) -> Callable[[float], None]:
        def fire(now: float) -> None:
            if self.state in (State.TRYING, State.PROCEEDING):
                self._send(self._request)
                # In Proceeding the interval is T2 (§17.1.2.2).
                nxt = (
                    self._config.t2
                    if self.state is State.PROCEEDING
                    else min(2 * interval, self._config.t2)
                )
                self._arm(nxt, self._timer_e(nxt), now)

        return fire

    def _timer_f(self, now: float) -> None:
        if self.state in (State.TRYING, State.PROCEEDING):
            self._terminate()
            self._on_final(None)  # timeout: the TU treats it like a 408

    def _timer_k(self, now: float) -> None:
        self._terminate()


ServerTransaction = InviteServerTransaction | NonInviteServerTransaction
