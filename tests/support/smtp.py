"""A real SMTP server on 127.0.0.1 that records the mails it accepts and refuses as told.

Built on aiosmtpd's threaded ``Controller``: the server runs its own event loop in its own
thread, so the code under test talks SMTP over a real socket (aiosmtplib, from the test's
loop). ``stop()`` takes the server away (new connections are refused, open ones are cut), as a
mail server that is down; ``start()`` brings it back on the same port::

    with SmtpSink() as sink:
        sink.refuse("451 4.3.0 Try again later", at="DATA", times=2)
        ...  # the next two mails are refused with 451, later ones accepted
        [mail] = sink.wait_for(1)
        assert mail.message["Subject"] == "..."

``wait_for`` blocks the calling thread; a test whose code under test runs on its own event
loop awaits ``wait_for_async`` instead (blocking that loop would stall the sender).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from typing import Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.server import LOOPBACK, free_port

Stage = Literal["MAIL", "RCPT", "DATA"]
READY_TIMEOUT = 5.0  # seconds the controller may take to start (aiosmtpd's own check)
STOP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]  # the envelope recipients, as accepted
    raw: bytes  # the DATA as received (CRLF line ends, dot-stuffing undone)
    message: EmailMessage  # ``raw`` parsed with ``email.policy.default``
    at: float  # time.monotonic() when the server accepted it

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def text(self) -> str:
        """The text/plain body, decoded."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "the mail has no text/plain part"
        return str(part.get_content())

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None, "the mail has no text/html part"
        return str(part.get_content())

    def attachments(self) -> list[EmailMessage]:
        return list(self.message.iter_attachments())


@dataclass(frozen=True, slots=True)
class RefusedCommand:
    stage: Stage
    address: str | None  # MAIL: the sender; RCPT: the recipient; DATA: None
    reply: str
    at: float


@dataclass(slots=True)
class _Refusal:
    id: int
    stage: Stage
    reply: str
    address: str | None
    remaining: int | None  # mails still to refuse; None: until ``accept()``

    def matches(self, stage: Stage, address: str | None, envelope: Envelope) -> bool:
        if stage != self.stage:
            return False
        if self.address is None:
            return True
        wanted = self.address.lower()
        if stage == "DATA":
            return any(rcpt.lower() == wanted for rcpt in envelope.rcpt_tos)
        return address is not None and address.lower() == wanted


@dataclass(slots=True)
class _Transaction:
    """What one mail transaction was already charged for (a rule counts once per mail)."""

    charged: set[int] = field(default_factory=set)


class _Handler:
    """aiosmtpd's hooks; they run in the server's thread."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        envelope._sink_transaction = _Transaction()  # type: ignore[attr-defined]
        refusal = self._sink._refusal("MAIL", address, envelope)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._sink._refusal("RCPT", address, envelope)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._sink._refusal("DATA", None, envelope)
        if refusal is not None:
            return refusal
        raw = envelope.original_content or b""
        # Parsed with plain newlines, so decoded text parts read like Python strings.
        parsed = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=parsed,
            at=time.monotonic(),
        )
        number = self._sink._accepted(mail)
        return f"250 2.0.0 OK queued as sink-{number}"


class _Controller(Controller):
    """A Controller that shuts its connections down cleanly (no unclosed transports)."""

    def __init__(self, handler: _Handler, port: int) -> None:
        super().__init__(
            handler,
            hostname=LOOPBACK,
            port=port,
            ready_timeout=READY_TIMEOUT,
            server_hostname="sink.localhost",  # else SMTP() asks DNS for this host's FQDN
        )
        self._protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()  # one per connection

    def factory(self) -> SMTP:
        protocol = SMTP(self.handler, **self.SMTP_kwargs)
        self._protocols.add(protocol)
        return protocol

    async def _shutdown(self) -> None:
        if self.server is not None:
            self.server.close()  # the listening socket first: new connections are refused
        await asyncio.sleep(0)  # a connection accepted just now gets its connection_made
        for protocol in list(self._protocols):
            if protocol.transport is not None:
                protocol.transport.close()
        await asyncio.sleep(0)  # let connection_lost run
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    def stop(self, no_assert: bool = False) -> None:
        if self._thread is not None and self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
            future.result(STOP_TIMEOUT)
        super().stop(no_assert)


class SmtpSink:
    """An SMTP server on 127.0.0.1:``port`` (a free port when not given)."""

    def __init__(self, port: int | None = None) -> None:
        self.host = LOOPBACK
        self.port = port if port is not None else free_port("tcp")
        self._lock = threading.Condition()
        self._mails: list[ReceivedMail] = []
        self._refused: list[RefusedCommand] = []
        self._refusals: list[_Refusal] = []
        self._next_rule = 0
        self._controller: _Controller | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpSink:
        """Listen (again) on ``port``; recorded mails and rules are kept."""
        if self._controller is not None:
            return self
        # A fresh controller each time: a stopped one has closed its event loop.
        controller = _Controller(_Handler(self), self.port)
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """The server goes away: connections to ``port`` are refused until ``start()``."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    close = stop

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what arrived ------------------------------------------------------------------------

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._mails)

    @property
    def refused(self) -> list[RefusedCommand]:
        """Every command answered with a programmed refusal, oldest first."""
        with self._lock:
            return list(self._refused)

    def counts_by_message_id(self) -> Counter[str]:
        """How many times each Message-ID arrived (a resend shows as a count above 1)."""
        return Counter(mail.message_id for mail in self.mails)

    def clear(self) -> None:
        """Forget the recorded mails and refusals (the rules stay)."""
        with self._lock:
            self._mails.clear()
            self._refused.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """The mails, once at least ``count`` were accepted; AssertionError on timeout.

        Blocks this thread: from a coroutine use ``wait_for_async``.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._mails) >= count, timeout):
                raise AssertionError(self._shortfall(count, timeout))
            return list(self._mails)

    async def wait_for_async(self, count: int, within: float = 5.0) -> list[ReceivedMail]:
        """``wait_for`` for coroutines: polls, so the caller's event loop keeps running."""
        deadline = time.monotonic() + within
        while True:
            with self._lock:
                if len(self._mails) >= count:
                    return list(self._mails)
                if time.monotonic() >= deadline:
                    raise AssertionError(self._shortfall(count, within))
            await asyncio.sleep(0.01)

    def _shortfall(self, count: int, timeout: float) -> str:
        return (
            f"expected {count} mail(s) within {timeout}s, got {len(self._mails)}; "
            f"refused: {[(r.stage, r.address, r.reply) for r in self._refused]}"
        )

    # -- programmed replies ------------------------------------------------------------------

    def refuse(
        self,
        reply: str,
        *,
        at: Stage = "DATA",
        address: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``at`` with ``reply`` (e.g. ``"451 4.3.0 Try again later"``).

        ``address``: MAIL - only this sender; RCPT - only this recipient; DATA - only mails
        to this recipient. ``times``: for the next that many mails that match (a mail with two
        matching recipients counts once); None: until ``accept()``. Rules are checked in the
        order they were added; the first that matches answers.
        """
        if not reply[:3].isdigit() or not reply.startswith(("4", "5")):
            raise ValueError(f"a refusal is a 4xx or 5xx reply, not {reply!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for until accept())")
        with self._lock:
            self._next_rule += 1
            self._refusals.append(_Refusal(self._next_rule, at, reply, address, times))

    def accept(self) -> None:
        """Drop every refusal rule: accept all mails from now on."""
        with self._lock:
            self._refusals.clear()

    def _refusal(self, stage: Stage, address: str | None, envelope: Envelope) -> str | None:
        transaction: _Transaction = getattr(envelope, "_sink_transaction", None) or _Transaction()
        with self._lock:
            for rule in self._refusals:
                if not rule.matches(stage, address, envelope):
                    continue
                if rule.id not in transaction.charged:
                    if rule.remaining is not None and rule.remaining <= 0:
                        continue  # used up (by earlier mails; it still covers those)
                    transaction.charged.add(rule.id)
                    if rule.remaining is not None:
                        rule.remaining -= 1
                self._refused.append(RefusedCommand(stage, address, rule.reply, time.monotonic()))
                self._lock.notify_all()
                return rule.reply
        return None

    def _accepted(self, mail: ReceivedMail) -> int:
        with self._lock:
            self._mails.append(mail)
            self._lock.notify_all()
            return len(self._mails)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SmtpSink {self.host}:{self.port} {state}, {len(self.mails)} mail(s)>"
