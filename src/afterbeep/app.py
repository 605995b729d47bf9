"""The composition root: builds every part from ``Settings`` and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import time

import httpx

from afterbeep.config import Settings
from afterbeep.domain import Codec
from afterbeep.flows.deposit import Deposit, DepositOptions
from afterbeep.flows.dialin import DialIn, DialInOptions
from afterbeep.flows.prompts import PromptError, Prompts
from afterbeep.net.addresses import is_ip, route_address
from afterbeep.net.call import SipCall
from afterbeep.net.http import metrics_text
from afterbeep.net.media import MediaEngine
from afterbeep.net.mwi import MwiOptions, MwiService
from afterbeep.net.sip_transport import SipTransport
from afterbeep.notify.deliver import Deliveries
from afterbeep.notify.worker import RetryPolicy, Worker
from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.sdp import AudioPlan, Media, SessionDescription, negotiate
from afterbeep.sip.useragent import (
    CallCancelled,
    CallConfirmed,
    CallEnded,
    Event,
    IncomingCall,
    IncomingSubscribe,
    InDialogRequest,
    ReInvite,
    RequestCompleted,
    Session,
    SessionState,
    SubscriptionEnded,
    SubscriptionRefreshed,
    UnsolicitedNotifyCompleted,
    UserAgent,
)
from afterbeep.store.errors import InvalidValue, StoreError
from afterbeep.store.migrate import upgrade_database
from afterbeep.store.repository import Store
from afterbeep.store.retention import purge_expired
from afterbeep.transcribe.engine import Transcriber, TranscriptionError, WhisperTranscriber
from afterbeep.web.app import create_app
from afterbeep.web.context import WebContext
from afterbeep.web.live import Hub
from afterbeep.web.server import WebServer

log = logging.getLogger("afterbeep")

HOUSEKEEPING_EVERY = 3600.0  # seconds between retention purges
RING_AFTER = 0.2  # seconds: a call not answered by then hears ringing (180)
TRYING_AFTER = 0.1  # seconds: an INVITE not answered by then gets 100 Trying (§17.2.1)
_MWI_EVENTS = (
    IncomingSubscribe,
    SubscriptionRefreshed,
    SubscriptionEnded,
    UnsolicitedNotifyCompleted,
)


GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (Python's default: 700)


def settle_heap() -> None:
    """Move what start-up built (modules, caches, prompts: ~200,000 objects) out of the
    garbage collector's sight, so that full collections walk only what calls keep alive
    (they took 0.2 s each, ten times in 15 s at 400 calls/s, with the media clock stopped).

    Young collections run every 10,000 allocations rather than 700: a call's objects then
    mostly die by reference count before a collection, instead of being promoted to an old
    generation that full collections must walk again (GC time at 400 calls/s: 1.4 s → 0.5 s
    in 15 s)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


class Application:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calls: dict[int, SipCall] = {}
        self.started_at = time.time()
        self.calls_total = 0
        self.ready = False  # prompts prepared: /readyz answers 200

    async def start(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await upgrade_database(settings.database)
        self.store = await Store.open(settings.database, settings.data_dir)
        recovered = await self.store.recover()
        if recovered:
            log.info("recovered %d message(s) interrupted by a crash", len(recovered))
        self._start_notifications()
        # Recordings an operator drops in data/prompts/<language>/ replace ours, prompt by
        # prompt; what has no recording is synthesized once and kept in prompt-cache/.
        self.prompts = Prompts(
            settings.data_dir / "prompts", cache_dir=settings.data_dir / "prompt-cache"
        )
        self.warming = asyncio.get_running_loop().create_task(self._warm_prompts())
        # Other nodes' and the CLI's changes reach this node's lamps (PostgreSQL only).
        self.listening = asyncio.get_running_loop().create_task(self.store.listen_for_changes())
        self.store.logins.policy = settings.login_policy
        self.dialin = DialIn(
            self.store,
            self.prompts,
            DialInOptions(
                access_numbers=settings.access_numbers,
                min_pin_length=settings.min_pin_length,
                force_name_and_greeting=settings.force_greetings,
            ),
        )
        self.deposit = Deposit(
            self.store,
            self.prompts,
            DepositOptions(
                voicemail_numbers=settings.voicemail_numbers,
                operator_uri=settings.operator_uri,
                reject_unknown_mailbox=settings.reject_unknown_mailbox,
                answer_delay=settings.answer_delay,
            ),
        )
        media_host = settings.sip_host if settings.sip_host not in ("0.0.0.0", "::") else ""
        self.media = MediaEngine(media_host or "0.0.0.0", settings.rtp_ports)
        advertised = settings.external_address or (media_host or None)
        self.ua = UserAgent(
            advertised_host=advertised, port=settings.sip_port, trying_after=TRYING_AFTER
        )
        self.sip = SipTransport(self.ua, self._on_event)
        self.mwi = MwiService(self.store, self.sip, self._mwi_options())
        await self.sip.start(settings.sip_host, settings.sip_port)
        self.ua.port = self.sip.local_port
        await self.mwi.start()  # after the port is known: phones get NOTIFYs from it
        self.hub = Hub()
        self.store.on_counts_changed(self.hub.changed)
        web = WebContext(
            self.store, self.hub, self._speak, lambda: metrics_text(self), lambda: self.ready
        )
        self.http = WebServer(create_app(web), settings.http_trusted_proxies)
        await self.http.start(settings.http_host, settings.http_port)
        log.info(
            "afterbeep listening: SIP udp+tcp %s:%d, HTTP %s:%d, RTP %d-%d, data %s",
            settings.sip_host, self.sip.local_port, settings.http_host, self.http.port,
            *settings.rtp_ports, settings.data_dir,
        )  # fmt: skip
        settle_heap()

    def _mwi_options(self) -> MwiOptions:
        settings = self.settings
        return MwiOptions(
            trusted=settings.mwi_trusted,
            contacts=settings.mwi_contacts,
            account_user=settings.access_numbers[0] if settings.access_numbers else None,
            generic_numbers=(*settings.access_numbers, *settings.voicemail_numbers),
            state_file=settings.data_dir / f"mwi-subscriptions-{socket.gethostname()}.json",
        )

    @property
    def notifications(self) -> tuple[int, int]:
        return self.worker.delivered, self.worker.failed

    def _start_notifications(self) -> None:
        notify = self.settings.notify
        if not notify.smtp_host:
            log.warning(
                "no SMTP server configured (--smtp-host): e-mail notifications will fail "
                "and wait in 'afterbeep jobs list --status failed'"
            )
        # No redirects: a webhook or SMS gateway answering 3xx is misconfigured, and
        # following it could lead a request somewhere its owner did not choose.
        self.http_client = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.deliveries = Deliveries(
            self.store, notify, self.http_client, transcriber=self._transcriber()
        )
        retry = RetryPolicy(notify.retry_base, notify.retry_cap, notify.max_attempts)
        handlers = self.deliveries.handlers()
        # Transcription (seconds of CPU a message) has a worker of its own, one at a time, so
        # a backlog of it never holds up deliveries that are due.
        self.worker = Worker(
            self.store.jobs, handlers, concurrency=notify.workers, lease=notify.lease,
            retry=retry, kinds=("!", "transcribe"),
        )  # fmt: skip
        self.transcriptions = Worker(
            self.store.jobs, handlers, concurrency=1, lease=notify.lease, retry=retry,
            kinds=("transcribe",),
        )  # fmt: skip
        self.deliveries.start()
        self.store.fan_out = self.deliveries.plan
        self.store.on_new_jobs(self.worker.wake)
        self.store.on_new_jobs(self.transcriptions.wake)
        self.worker.start()
        self.transcriptions.start()
        self.housekeeping = asyncio.get_running_loop().create_task(self._housekeeping())

    async def _housekeeping(self) -> None:
        """The retention purge, at start and every hour (several nodes may; deletes repeat
        harmlessly)."""
        while True:
            try:
                result = await purge_expired(self.store)
                if result.deleted or result.warned:
                    log.info(
                        "retention purge: %d message(s) deleted, %d announced to their owners",
                        result.deleted, result.warned,
                    )  # fmt: skip
            except StoreError as exc:
                log.warning("retention purge failed: %s", exc)
            await asyncio.sleep(HOUSEKEEPING_EVERY)

    def _transcriber(self) -> Transcriber | None:
        notify = self.settings.notify
        if not notify.transcription:
            return None
        try:
            engine = WhisperTranscriber(notify.transcribe_model)
        except TranscriptionError as exc:
            log.warning("transcription off: %s", exc)
            return None
        log.info("transcribing messages with %s", engine.model_name)
        return engine

    async def stop(self) -> None:
        tasks = [call.task for call in self.calls.values() if call.task is not None]
        for task in tasks:
            task.cancel()  # the deposit flow commits what it recorded before it exits
        await asyncio.gather(*tasks, return_exceptions=True)
        self.hub.close()
        await self.http.close()
        await self.mwi.close()
        await self.sip.close()
        self.housekeeping.cancel()
        self.warming.cancel()
        self.listening.cancel()
        await asyncio.gather(
            self.housekeeping, self.warming, self.listening, return_exceptions=True
        )
        await self.worker.close()
        await self.transcriptions.close()
        await self.deliveries.close()
        await self.http_client.aclose()
        await self.store.close()

    # ---- SIP events ------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, _MWI_EVENTS):
            self.mwi.on_event(event)  # message-waiting lamps
            return
        if isinstance(event, IncomingCall):
            self._incoming(event)
            return
        call: SipCall | None = event.session.app
        if isinstance(event, (ReInvite, InDialogRequest)) and call is None:
            self.sip.act(lambda now: self.ua.respond(event.handle, 481, now))
        elif call is None:
            return
        elif isinstance(event, (CallEnded, CallCancelled)):
            call.on_ended()
        elif isinstance(event, CallConfirmed):
            call.on_confirmed()
        elif isinstance(event, ReInvite):
            call.on_reinvite(event.handle)
        elif isinstance(event, RequestCompleted):
            call.on_request_completed(event.method, event.response)
        elif isinstance(event, InDialogRequest):
            request = event.handle.request
            if request.method == "INFO":
                call.on_info(request)  # DTMF as SIP INFO (application/dtmf-relay)
            # NOTIFY (transfer progress) and UPDATE are acknowledged; nothing more to do.
            status = 200 if request.method in ("INFO", "NOTIFY", "UPDATE") else 501
            self.sip.act(lambda now: self.ua.respond(event.handle, status, now))

    def _incoming(self, event: IncomingCall) -> None:
        session = event.session
        invite = session.invite
        plan: AudioPlan | None = None
        offered: list[Media] = []
        try:
            if invite.body:  # else a late offer: we offer in the 200, the ACK answers
                plan, offered = negotiate(SessionDescription.parse(invite.body))
        except SipSyntaxError as exc:
            status, reason = exc.status, exc.reason
            log.info("call %s rejected: %s", session.call_id, reason)
            self.sip.act(lambda now: self.ua.reject(session, status, now, reason))
            return
        # The SDP carries an IP address: the configured one, else how the caller reached us
        # (the Request-URI host), else the local address that routes to the caller.
        media_host = self.ua.advertised_host or session.local_host
        if not is_ip(media_host):
            media_host = route_address(session.source.host)
        call = SipCall(self.sip, self.media, session, plan, offered, media_host)
        session.app = call
        self.calls_total += 1
        key = id(call)
        self.calls[key] = call
        loop = asyncio.get_running_loop()
        # Ring only when answering takes a while: most calls are answered within
        # milliseconds, and the 100 Trying already told the caller we are at it.
        loop.call_later(RING_AFTER, self._ring, session)
        call.task = loop.create_task(self._run_call(key, call))

    def _ring(self, session: Session) -> None:
        if session.state is SessionState.INCOMING:
            self.sip.act(lambda now: self.ua.ring(session, now))

    async def _speak(self, text: str, codec: Codec, language: str) -> bytes:
        """A typed comment (web forwarding) as speech."""
        try:
            return await self.prompts.speak(text, codec, language)
        except PromptError as exc:
            raise InvalidValue(f"cannot speak the comment: {exc}") from None

    async def _warm_prompts(self) -> None:
        """Synthesize the prompts of the languages in use that have no recording, before
        callers need them (seconds of CPU, once: later starts read prompt-cache/). A mailbox
        switched to another language later has its prompts made at its first call."""
        try:
            mailboxes = await self.store.list_mailboxes()
            await self.prompts.warm({"en", *(mailbox.language for mailbox in mailboxes)})
            settle_heap()
        except (PromptError, StoreError) as exc:
            log.warning("prompts could not all be prepared (espeak-ng missing?): %s", exc)
        self.ready = True

    async def _run_call(self, key: int, call: SipCall) -> None:
        info = call.info
        try:
            if self.dialin.handles(info.called, diverted=info.diverted_from is not None):
                await self.dialin.run(call)
            else:
                await self.deposit.run(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s failed", call.info.call_id)
        finally:
            with contextlib.suppress(Exception):
                await call.hangup()
            self.calls.pop(key, None)
            call.session.app = None  # late requests get 481; the call is freed at once


async def serve(settings: Settings) -> None:
    app = Application(settings)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await app.stop()


def run(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(settings))
