"""``SipCall``: the ``Call`` interface over one SIP session and one RTP stream."""

from __future__ import annotations

import asyncio
import logging
import random

from afterbeep.calls.call import CallGone, CallInfo, RecordResult, StopReason
from afterbeep.domain import Codec, DiversionReason
from afterbeep.flows.ports import RecordingSink
from afterbeep.media.g711 import SILENCE, decode
from afterbeep.media.silence import SilenceDetector
from afterbeep.net.media import MediaEngine, RtpStream
from afterbeep.net.sip_transport import SipTransport
from afterbeep.sip import identity
from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.message import Request, Response
from afterbeep.sip.sdp import (
    AudioPlan,
    Media,
    SessionDescription,
    build_answer,
    build_offer,
    negotiate,
)
from afterbeep.sip.useragent import ServerRequest, Session

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often a recording drains the receiver and checks its limits
FLUSH_SECONDS = 1.0  # how often recorded audio is pushed to the file
WARN_SECONDS = 5.0  # the warning tone this long before the maximum length


def call_info(session: Session) -> CallInfo:
    request = session.invite
    number, name = identity.caller(request)
    diverted = identity.diversion(request)
    return CallInfo(
        call_id=session.call_id,
        called=identity.called(request),
        caller_number=number,
        caller_name=name,
        diverted_from=diverted[0] if diverted else None,
        reason=diverted[1] if diverted else DiversionReason.DIRECT,
        source=session.source.host,
    )


class SipCall:
    def __init__(
        self,
        transport: SipTransport,
        media: MediaEngine,
        session: Session,
        plan: AudioPlan | None,
        offered: list[Media],
        media_host: str,
    ) -> None:
        self._sip = transport
        self._media = media
        self.session = session
        self._plan = plan
        self._offered = offered
        self._media_host = media_host  # the address our SDP offers for RTP
        self._info = call_info(session)
        self._codec = Codec(plan.codec) if plan else Codec.PCMU  # late offer: set at ACK
        self._confirmed: asyncio.Future[None] | None = None
        self._stream: RtpStream | None = None
        self._digits: list[str] = []
        self._wakeup: asyncio.Future[None] | None = None
        self._gone = False
        self._sdp_version = 1
        self._session_id = random.getrandbits(31)
        self._requests: dict[str, asyncio.Future[Response | None]] = {}
        self.task: asyncio.Task[None] | None = None

    # ---- Call interface --------------------------------------------------------------------

    @property
    def info(self) -> CallInfo:
        return self._info

    @property
    def codec(self) -> Codec:
        return self._codec

    @property
    def hung_up(self) -> bool:
        return self._gone

    async def answer(self) -> None:
        self._check()
        stream = await self._media.open_stream()
        self._stream = stream
        stream.on_digit = self._on_digit
        if self._gone:  # cancelled while the port was being opened
            self._release()
            raise CallGone
        if self._plan is None:
            await self._answer_late_offer(stream)
            return
        self._apply(self._plan)
        sdp = self._answer_sdp(self._plan)
        self._sip.act(lambda now: self._sip.ua.answer(self.session, sdp, now))

    async def _answer_late_offer(self, stream: RtpStream) -> None:
        """RFC 3264 §4 with an offerless INVITE: we offer in the 200, the ACK answers."""
        offer = build_offer(
            address=self._media_host, port=stream.port, session_id=self._session_id, version=1
        )
        self._confirmed = asyncio.get_running_loop().create_future()
        self._sip.act(lambda now: self._sip.ua.answer(self.session, offer, now))
        while not self._confirmed.done():
            await self._wait(self._confirmed)
            self._check()
        try:
            plan, offered = negotiate(SessionDescription.parse(self.session.ack_body))
        except SipSyntaxError as exc:
            log.info("call %s: unusable SDP answer in the ACK: %s", self._info.call_id, exc)
            await self.hangup()
            raise CallGone from exc
        self._plan, self._offered, self._codec = plan, offered, Codec(plan.codec)
        self._apply(plan)

    async def reject(self, status: int) -> None:
        if not self._gone:
            self._sip.act(lambda now: self._sip.ua.reject(self.session, status, now))
            self._gone = True

    async def play(self, audio: bytes, *, stop_digits: str = "") -> str | None:
        self._check()
        digit = self._take_digit(stop_digits)
        if digit is not None:
            return digit
        stream = self._stream
        if stream is None or not audio:
            return None
        done = stream.play(audio)
        try:
            while not done.done():
                await self._wait(done)
                self._check()
                digit = self._take_digit(stop_digits)
                if digit is not None:
                    return digit
            return None
        finally:
            stream.stop_playing()

    async def read_digit(self, seconds: float) -> str | None:
        self._check()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._digits:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await self._wait(None, remaining)
            self._check()
        return self._digits.pop(0)

    async def record(
        self,
        sink: RecordingSink,
        *,
        max_seconds: float,
        silence_seconds: float,
        stop_digits: str = "#",
        warn_before_end: bytes | None = None,
    ) -> RecordResult:
        stream = self._stream
        receiver = stream.receiver if stream else None
        if stream is None or receiver is None:
            return RecordResult(StopReason.HANGUP, 0.0)
        loop = asyncio.get_running_loop()
        receiver.pop_audio()  # what came during the greeting is not part of the message
        self._digits.clear()  # nor are keys pressed before the beep
        detector = SilenceDetector()
        limit = int(max_seconds * 8000)
        warned = warn_before_end is None or max_seconds <= 2 * WARN_SECONDS
        last_flush = last_audio = loop.time()
        silent = 0.0
        reason: StopReason | None = None
        digit: str | None = None
        while reason is None:
            if not self._gone:
                await self._wait(None, POLL_SECONDS)
            audio = receiver.flush() if self._gone else receiver.pop_audio()
            now = loop.time()
            if audio:
                audio = audio[: max(0, limit - sink.bytes_written)]
                sink.write(audio)
                silent = detector.feed(decode(self._codec, audio))
                last_audio = now
            if self._gone:
                reason = StopReason.HANGUP
            elif (digit := self._take_digit(stop_digits)) is not None:
                reason = StopReason.DIGIT
            elif sink.bytes_written >= limit:
                reason = StopReason.MAX_LENGTH
            elif silent >= silence_seconds or now - last_audio >= silence_seconds:
                reason = StopReason.SILENCE
            if not warned and sink.bytes_written >= limit - WARN_SECONDS * 8000:
                warned = True
                assert warn_before_end is not None
                stream.play(warn_before_end)  # recording goes on while it plays
            if now - last_flush >= FLUSH_SECONDS:
                sink.flush()
                last_flush = now
        sink.flush()
        return RecordResult(reason, sink.bytes_written / 8000, digit)

    async def transfer(self, target: str) -> bool:
        self._check()
        future: asyncio.Future[Response | None] = asyncio.get_running_loop().create_future()
        self._requests["REFER"] = future
        headers = [("Refer-To", f"<{target}>"), ("Referred-By", f"<sip:{self._info.called}@"
                   f"{self.session.local_host}>")]  # fmt: skip
        self._sip.act(lambda now: self._sip.ua.request(self.session, "REFER", now, headers=headers))
        try:
            response = await asyncio.wait_for(future, 10)
        except TimeoutError:
            return False
        if response is None or response.status >= 300:
            return False
        # The transferee calls the target and hangs up on us; do not wait long for it.
        try:
            await self._wait(None, 5)
        finally:
            await self.hangup()
        return True

    async def hangup(self) -> None:
        if not self._gone:
            self._gone = True
            self._sip.act(lambda now: self._sip.ua.bye(self.session, now))
        self._release()

    # ---- events from the SIP core (called by the application) ------------------------------

    def on_confirmed(self) -> None:
        if self._confirmed is not None and not self._confirmed.done():
            self._confirmed.set_result(None)

    def on_ended(self) -> None:
        self._gone = True
        self._wake()

    def on_reinvite(self, handle: ServerRequest) -> None:
        """Answer a re-INVITE: hold, unhold, a new media address (RFC 3264 §8)."""
        request = handle.request
        now_respond = self._sip.ua.respond
        if not request.body and self._plan is not None:
            # An offerless re-INVITE: our answer is an offer of the current stream.
            sdp = self._answer_sdp(self._plan)
            self._sip.act(lambda now: now_respond(handle, 200, now, body=sdp))
            return
        try:
            offer = SessionDescription.parse(request.body)
            plan, offered = negotiate(offer)
        except SipSyntaxError as exc:
            status, reason = exc.status, exc.reason
            self._sip.act(lambda now: now_respond(handle, status, now, reason=reason))
            return
        self._plan, self._offered = plan, offered
        self._apply(plan)
        self._sdp_version += 1
        sdp = self._answer_sdp(plan)
        self._sip.act(lambda now: now_respond(handle, 200, now, body=sdp))

    def on_info(self, request: Request) -> None:
        """DTMF sent as SIP INFO by PBXs that do not use RFC 4733 events."""
        digit = identity.info_digit(request)
        if digit is not None:
            self._on_digit(digit)

    def on_request_completed(self, method: str, response: Response | None) -> None:
        future = self._requests.pop(method, None)
        if future is not None and not future.done():
            future.set_result(response)

    # ---- internals -------------------------------------------------------------------------

    def _apply(self, plan: AudioPlan) -> None:
        stream = self._stream
        if stream is None:
            return
        stream.configure(
            (plan.remote_host, plan.remote_port),
            plan.payload_type,
            plan.dtmf_payload_type,
            SILENCE[Codec(plan.codec)],
        )
        stream.muted = plan.on_hold

    def _answer_sdp(self, plan: AudioPlan) -> bytes:
        port = self._stream.port if self._stream else 0
        return build_answer(
            plan,
            self._offered,
            address=self._media_host,
            port=port,
            session_id=self._session_id,
            version=self._sdp_version,
        )

    def _on_digit(self, digit: str) -> None:
        self._digits.append(digit)
        self._wake()

    def _take_digit(self, wanted: str) -> str | None:
        for index, digit in enumerate(self._digits):
            if digit in wanted:
                del self._digits[: index + 1]
                return digit
        return None

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _wait(self, other: asyncio.Future[None] | None, seconds: float | None = None) -> None:
        """Sleep until a digit, the hang-up, ``other`` completing, or the timeout.

        One future woken by callbacks: ``asyncio.wait`` costs several times more, and a
        recording waits twice a second for every call in progress."""
        loop = asyncio.get_running_loop()
        wakeup = self._wakeup = loop.create_future()
        timer = None if seconds is None else loop.call_later(seconds, self._wake)
        if other is not None:
            other.add_done_callback(self._wake_on)
        try:
            await wakeup
        finally:
            if timer is not None:
                timer.cancel()
            if other is not None:
                other.remove_done_callback(self._wake_on)
            self._wakeup = None

    def _wake_on(self, _done: asyncio.Future[None]) -> None:
        self._wake()

    def _check(self) -> None:
        if self._gone:
            raise CallGone

    def _release(self) -> None:
        if self._stream is not None:
            self._media.release(self._stream)
            self._stream = None
