"""The outbox's job handlers: fan an event out to channels, then deliver on each.

Job kinds:
- ``event``: an event the store committed (message.created, call.missed, message.deleted);
  its handler returns the delivery jobs (``planner.plan``), queued atomically with its end.
- ``email``, ``sms``, ``webhook``: one delivery each, carrying a ``Notice`` snapshot.
- ``delete``: removes a message once its attach-and-delete e-mail was accepted; queued as
  the e-mail's follow-up, so it exists only after the server took the mail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import time
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence

import httpx

from afterbeep.config import NotifySettings
from afterbeep.domain import AttachPolicy, AudioFormat
from afterbeep.notify import planner
from afterbeep.notify.content import DeliveryError, EventKind, Notice
from afterbeep.notify.email import EmailTemplates, TemplateError
from afterbeep.notify.render import EmailRequest, die_with_parent, render_email, warm_up
from afterbeep.notify.sms import (
    SmsProvider,
    TwilioSmsProvider,
    WebhookSmsProvider,
    compose_sms,
    to_e164,
)
from afterbeep.notify.smtp import send_email
from afterbeep.notify.webhooks import deliver_webhook, webhook_body
from afterbeep.notify.worker import Handler
from afterbeep.store.errors import NotFound
from afterbeep.store.outbox import ClaimedJob, NewJob
from afterbeep.store.records import EventSubject
from afterbeep.store.repository import Store
from afterbeep.store.webhooks import WebhookTarget
from afterbeep.transcribe.engine import Transcriber, TranscriptionError, message_samples

log = logging.getLogger(__name__)


def message_id_for(job_key: str, sender: str) -> str:
    """The same Message-ID for every try of one delivery: a resend is recognizable."""
    domain = sender.rpartition("@")[2] or "afterbeep.invalid"
    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, 'afterbeep:' + job_key)}@{domain}>"


def sms_provider(settings: NotifySettings, client: httpx.AsyncClient) -> SmsProvider | None:
    if settings.sms_provider == "webhook" and settings.sms_url:
        return WebhookSmsProvider(
            client, settings.sms_url, token=settings.sms_token, sender=settings.sms_from
        )
    if settings.sms_provider == "twilio" and settings.sms_account and settings.sms_token:
        return TwilioSmsProvider(
            client,
            account_sid=settings.sms_account,
            auth_token=settings.sms_token,
            sender=settings.sms_from or "",
            base_url=settings.sms_url or "https://api.twilio.com",
        )
    return None


class Deliveries:
    def __init__(
        self,
        store: Store,
        settings: NotifySettings,
        client: httpx.AsyncClient,
        transcriber: Transcriber | None = None,
    ) -> None:
        self.store = store
        self.transcriber = transcriber
        # One recognition at a time: it takes every core it is given.
        self._recognizer = concurrent.futures.ThreadPoolExecutor(1, "transcribe")
        self.settings = settings
        self.client = client
        # Loaded here only to check them: a broken template folder fails at start-up, not at
        # the first mail (the rendering processes load their own copies).
        EmailTemplates(settings.templates_dir)
        self.sms = sms_provider(settings, client)
        self._renderers: concurrent.futures.ProcessPoolExecutor | None = None
        self.policy = planner.Policy(
            default_email=settings.default_email,
            duplicate_to_default=settings.duplicate_to_default,
            web_base_url=settings.web_base_url,
            transcribes=None if transcriber is None else transcriber.supports,
            transcript_wait=settings.transcript_wait,
        )

    def start(self) -> None:
        """Start the rendering processes now: the first takes about a second to import."""
        templates = self.settings.templates_dir
        self._renderer().submit(warm_up, None if templates is None else str(templates))

    async def close(self) -> None:
        await asyncio.to_thread(self._recognizer.shutdown, cancel_futures=True)
        if self._renderers is not None:
            await asyncio.to_thread(self._renderers.shutdown, cancel_futures=True)
            self._renderers = None

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "event": self.fan_out,
            "email": self.email,
            "sms": self.send_sms,
            "webhook": self.webhook,
            "delete": self.delete,
            "transcribe": self.transcribe,
        }

    async def fan_out(self, job: ClaimedJob) -> Sequence[NewJob]:
        subject = await self.store.event_subject(job.payload)
        if subject is None:
            log.info("event %s: its mailbox or message is gone, nothing to notify", job.key)
            return ()
        webhooks = await self.store.webhooks.for_mailbox(
            subject.mailbox.id, subject.mailbox.organization_id
        )
        return self.plan(subject, webhooks, job.key)

    def plan(
        self, subject: EventSubject, webhooks: Sequence[WebhookTarget], event_key: str
    ) -> list[NewJob]:
        """The store's ``fan_out``: deliveries queued with the event's own commit."""
        return planner.plan(subject, webhooks, self.policy, event_key)

    async def transcribe(self, job: ClaimedJob) -> None:
        """Speech to text, stored with the message; then the mail and SMS that waited go."""
        payload = job.payload
        try:
            if self.transcriber is None:
                raise DeliveryError("transcription is off", permanent=True)
            try:
                wav = await self.store.read_audio(payload["audio_key"])
            except NotFound:
                return  # the message was deleted meanwhile: nothing to transcribe
            transcriber = self.transcriber
            started = time.monotonic()

            def recognize() -> str:
                samples, rate = message_samples(wav)
                return transcriber.transcribe(samples, rate, payload["language"])

            try:
                text = await asyncio.get_running_loop().run_in_executor(self._recognizer, recognize)
            except TranscriptionError as exc:
                raise DeliveryError(str(exc), permanent=True) from None
            await self.store.set_transcript(payload["message_id"], text)
            log.info(
                "message %s transcribed in %.1f s: %d characters",
                payload["message_id"], time.monotonic() - started, len(text),
            )  # fmt: skip
        finally:
            # Done or failed, the notifications stop waiting; a failed engine delays nothing.
            await self.store.jobs.hurry(payload.get("waiting", []))

    async def _with_transcript(self, notice: Notice) -> Notice:
        """The notice with the message's transcript as it is now (None while there is none)."""
        if (
            self.transcriber is None
            or notice.event is not EventKind.MESSAGE_CREATED
            or notice.message_id is None
        ):
            return notice  # nothing here writes transcripts: no query for one
        transcript = await self.store.message_transcript(notice.message_id)
        return dataclasses.replace(notice, transcript=transcript or None)

    async def email(self, job: ClaimedJob) -> Sequence[NewJob]:
        payload = job.payload
        notice = await self._with_transcript(Notice.from_json(payload["notice"]))
        policy = AttachPolicy(payload["attach"])
        audio = None
        if policy is not AttachPolicy.NOTIFY and payload.get("audio_key"):
            try:
                audio = await self.store.read_audio(payload["audio_key"])
            except NotFound:  # deleted (on the web, say) before the mail went: send without
                log.info("message %s is gone: e-mail without its audio", notice.message_id)
        sender = self.settings.smtp_from
        to, cc = tuple(payload["to"]), tuple(payload.get("cc", ()))
        templates = self.settings.templates_dir
        request = EmailRequest(
            notice=notice.to_json(),
            sender=sender,
            to=to,
            cc=cc,
            message_id=message_id_for(job.key, sender),
            region=self.settings.phone_region,
            templates_dir=None if templates is None else str(templates),
            audio=audio,
            audio_format=AudioFormat(payload["format"]),
            attachment_name=_attachment_name(notice),
        )
        try:
            rendered = await asyncio.get_running_loop().run_in_executor(
                self._renderer(), render_email, request
            )
        except TemplateError as exc:  # an operator's template: fixing it and retrying helps
            raise DeliveryError(str(exc)) from None
        except concurrent.futures.BrokenExecutor as exc:  # a rendering process died
            self._renderers = None
            raise DeliveryError(f"e-mail rendering failed: {exc}") from None
        if rendered.problem:
            log.warning(
                "message %s: %s; e-mail without its audio", notice.message_id, rendered.problem
            )
        reply = await send_email(self.settings, rendered.data, sender, [*to, *cc])
        log.info("e-mail %s to %s accepted: %s", job.key, ", ".join(to), reply)
        if policy is AttachPolicy.ATTACH_DELETE and rendered.attached:
            assert notice.message_id is not None
            message_id = str(notice.message_id)
            return [NewJob("delete", f"delete:{message_id}", {"message_id": message_id})]
        return ()

    def _renderer(self) -> concurrent.futures.ProcessPoolExecutor:
        """Processes that render e-mails (see ``render``): off the event loop and its GIL."""
        if self._renderers is None:
            self._renderers = concurrent.futures.ProcessPoolExecutor(
                max_workers=max(1, (os.cpu_count() or 2) - 1),
                # Not fork: this process has threads (SQLite, the loop's executor). Spawned
                # workers are our children, and die with us (see die_with_parent).
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
            )
        return self._renderers

    async def send_sms(self, job: ClaimedJob) -> None:
        if self.sms is None:
            raise DeliveryError(
                "no SMS provider configured (--sms-provider / AFTERBEEP_SMS_PROVIDER)",
                permanent=True,
            )
        notice = await self._with_transcript(Notice.from_json(job.payload["notice"]))
        try:
            to = to_e164(job.payload["to"], self.settings.phone_region)
        except ValueError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        text = compose_sms(notice, region=self.settings.phone_region)
        sent = await self.sms.send(to, text, key=job.key)
        log.info("SMS %s to %s accepted as %s", job.key, to, sent)

    async def webhook(self, job: ClaimedJob) -> None:
        target = await self.store.webhooks.target(int(job.payload["webhook_id"]))
        notice = Notice.from_json(job.payload["notice"])
        if target is None or notice.event.value not in target.events:
            log.info("webhook %s: removed or unsubscribed since, not sent", job.key)
            return
        body = webhook_body(notice, delivery_id=job.key, created_at=notice.at)
        status = await deliver_webhook(
            self.client,
            target.url,
            target.secret,
            body,
            event=notice.event.value,
            delivery_id=job.key,
            now=int(time.time()),
        )
        log.info("webhook %s to %s answered %d", job.key, target.url, status)

    async def delete(self, job: ClaimedJob) -> None:
        with contextlib.suppress(NotFound):  # deleted already: what this job was for
            await self.store.delete_message(job.payload["message_id"])


def _attachment_name(notice: Notice) -> str:
    """``voicemail-1001-20260305-140230``: the time as the mail's body shows it (local)."""
    try:
        local = notice.at.astimezone(zoneinfo.ZoneInfo(notice.mailbox.timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        local = notice.at
    return f"voicemail-{notice.mailbox.number}-{local:%Y%m%d-%H%M%S}"
