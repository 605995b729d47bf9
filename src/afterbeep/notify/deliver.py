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
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence

import httpx

from afterbeep.config import NotifySettings
from afterbeep.domain import AttachPolicy, AudioFormat
from afterbeep.notify import planner
from afterbeep.notify.attachment import Attachment, make_attachment
from afterbeep.notify.content import DeliveryError, Notice
from afterbeep.notify.email import EmailTemplates, TemplateError, compose_email
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
from afterbeep.store.repository import Store

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
        templates: EmailTemplates | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.templates = templates or EmailTemplates(settings.templates_dir)
        self.sms = sms_provider(settings, client)
        self.policy = planner.Policy(
            default_email=settings.default_email,
            duplicate_to_default=settings.duplicate_to_default,
            web_base_url=settings.web_base_url,
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "event": self.fan_out,
            "email": self.email,
            "sms": self.send_sms,
            "webhook": self.webhook,
            "delete": self.delete,
        }

    async def fan_out(self, job: ClaimedJob) -> Sequence[NewJob]:
        subject = await self.store.event_subject(job.payload)
        if subject is None:
            log.info("event %s: its mailbox or message is gone, nothing to notify", job.key)
            return ()
        webhooks = await self.store.webhooks.for_mailbox(
            subject.mailbox.id, subject.mailbox.organization_id
        )
        return planner.plan(subject, webhooks, self.policy, job.key)

    async def email(self, job: ClaimedJob) -> Sequence[NewJob]:
        payload = job.payload
        notice = Notice.from_json(payload["notice"])
        policy = AttachPolicy(payload["attach"])
        attachment = None
        if policy is not AttachPolicy.NOTIFY and payload.get("audio_key"):
            attachment = await self._attachment(
                payload["audio_key"], AudioFormat(payload["format"]), notice
            )
        sender = self.settings.smtp_from
        try:
            message = compose_email(
                notice,
                sender=sender,
                to=payload["to"],
                cc=payload.get("cc", []),
                message_id=message_id_for(job.key, sender),
                templates=self.templates,
                region=self.settings.phone_region,
                attachment=attachment,
            )
        except TemplateError as exc:  # an operator's template: fixing it and retrying helps
            raise DeliveryError(str(exc)) from None
        reply = await send_email(self.settings, message)
        log.info("e-mail %s to %s accepted: %s", job.key, ", ".join(payload["to"]), reply)
        if policy is AttachPolicy.ATTACH_DELETE and attachment is not None:
            assert notice.message_id is not None
            message_id = str(notice.message_id)
            return [NewJob("delete", f"delete:{message_id}", {"message_id": message_id})]
        return ()

    async def _attachment(
        self, audio_key: str, fmt: AudioFormat, notice: Notice
    ) -> Attachment | None:
        try:
            audio = await self.store.read_audio(audio_key)
        except NotFound:  # deleted (on the web, say) before the mail went: say so without it
            log.info("message %s is gone: e-mail without its audio", notice.message_id)
            return None
        when = notice.at.strftime("%Y%m%d-%H%M%S")
        name = f"voicemail-{notice.mailbox.number}-{when}"
        try:
            return await asyncio.to_thread(make_attachment, audio, fmt, name)
        except ValueError as exc:
            log.warning("message %s: %s; e-mail without its audio", notice.message_id, exc)
            return None

    async def send_sms(self, job: ClaimedJob) -> None:
        if self.sms is None:
            raise DeliveryError(
                "no SMS provider configured (--sms-provider / AFTERBEEP_SMS_PROVIDER)",
                permanent=True,
            )
        notice = Notice.from_json(job.payload["notice"])
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
