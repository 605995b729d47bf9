"""The fan-out: which deliveries an event asks for, given a mailbox's channels (pure).

A message notice goes to the mailbox's addresses (or the operator's default address when it
has none, and a copy to the default address when duplicating), its SMS number and the
webhooks that subscribed. A missed-call notice goes only to the called subscriber's own
channels, and so do a full mailbox and messages that retention will soon delete. A deletion
is told to webhooks only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from afterbeep.domain import AttachPolicy, AudioFormat, DiversionReason
from afterbeep.notify.content import EventKind, MailboxView, Notice
from afterbeep.store.outbox import NewJob
from afterbeep.store.records import EventSubject
from afterbeep.store.webhooks import WebhookTarget


@dataclass(frozen=True, slots=True)
class Policy:
    default_email: str | None = None
    duplicate_to_default: bool = False
    web_base_url: str | None = None
    # Whether a message in this language gets transcribed (None: no transcription at all).
    transcribes: Callable[[str], bool] | None = None
    transcript_wait: float = 10.0  # seconds an e-mail or SMS waits for the transcript


# Events about the mailbox itself rather than a message or a call: the owner's own addresses.
_ABOUT_THE_MAILBOX = (
    EventKind.MAILBOX_FULL,
    EventKind.MESSAGES_EXPIRING,
    EventKind.MAILBOX_LOCKED,
)


def notice_for(subject: EventSubject, web_base_url: str | None = None) -> Notice:
    mailbox = subject.mailbox
    view = MailboxView(mailbox.number, mailbox.name, mailbox.language, mailbox.timezone)
    event = EventKind(subject.event)
    if event in _ABOUT_THE_MAILBOX:
        assert subject.at is not None, f"a {event} event carries its time"
        return Notice(
            event=event,
            mailbox=view,
            caller_number=subject.caller_number,
            caller_name="",
            called_number=mailbox.number,
            reason=DiversionReason.DIRECT,
            at=subject.at,
            count=subject.count,
            duration_seconds=subject.lock_seconds,
            web_url=web_base_url.rstrip("/") + "/" if web_base_url else None,
        )
    if subject.missed_call is not None:
        call = subject.missed_call
        return Notice(
            event=event,
            mailbox=view,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            called_number=call.called_number,
            reason=call.reason,
            at=call.at,
        )
    message = subject.message
    assert message is not None, "an event is about a message or a missed call"
    link = None
    if web_base_url and event is not EventKind.MESSAGE_DELETED:
        link = f"{web_base_url.rstrip('/')}/messages/{message.id}"
    return Notice(
        event=event,
        mailbox=view,
        caller_number=message.caller_number,
        caller_name=message.caller_name,
        called_number=message.called_number,
        reason=message.reason,
        at=message.received_at,
        message_id=message.id,
        duration_seconds=message.duration_seconds,
        urgent=message.urgent,
        web_url=link,
    )


def plan(
    subject: EventSubject,
    webhooks: Sequence[WebhookTarget],
    policy: Policy,
    event_key: str,
) -> list[NewJob]:
    """The delivery jobs for one event; their keys derive from ``event_key`` (idempotent)."""
    notice = notice_for(subject, policy.web_base_url)
    mailbox = subject.mailbox
    payload = notice.to_json()
    jobs: list[NewJob] = []
    event = notice.event
    # A new message's e-mail and SMS wait (a little) for its transcript; the transcription job
    # makes them due as soon as it is done, or failed. Late, they go without it, once.
    transcribing = (
        event is EventKind.MESSAGE_CREATED
        and policy.transcribes is not None
        and policy.transcribes(mailbox.language)
    )
    wait = policy.transcript_wait if transcribing else 0.0

    if event is EventKind.MESSAGE_CREATED:
        to, cc = list(mailbox.emails), []
        if policy.default_email:
            if not to:
                to = [policy.default_email]
            elif policy.duplicate_to_default and policy.default_email not in to:
                cc = [policy.default_email]
        assert subject.message is not None
        if to:
            jobs.append(
                _email(
                    event_key,
                    payload,
                    to,
                    mailbox.attach_policy,
                    mailbox.audio_format,
                    cc=cc,
                    audio_key=subject.message.audio_key,
                    delay=wait,
                )
            )
    # Missed calls (when enabled) and news about the mailbox: the owner's own addresses only.
    elif mailbox.emails and (
        (event is EventKind.CALL_MISSED and mailbox.notify_missed) or event in _ABOUT_THE_MAILBOX
    ):
        jobs.append(
            _email(
                event_key, payload, list(mailbox.emails), AttachPolicy.NOTIFY, mailbox.audio_format
            )
        )

    wants_sms = event is EventKind.MESSAGE_CREATED or (
        event is EventKind.CALL_MISSED and mailbox.notify_missed
    )
    if wants_sms and mailbox.sms_number:
        jobs.append(
            NewJob(
                "sms",
                f"sms:{event_key}",
                {"notice": payload, "to": mailbox.sms_number},
                delay=wait if event is EventKind.MESSAGE_CREATED else 0.0,
            )
        )
    if transcribing:
        assert subject.message is not None
        waiting = [job.key for job in jobs if job.delay]
        jobs.insert(
            0,
            NewJob(
                "transcribe",
                f"transcribe:{event_key}",
                {
                    "message_id": str(subject.message.id),
                    "audio_key": subject.message.audio_key,
                    "language": mailbox.language,
                    "waiting": waiting,
                },
            ),
        )

    for webhook in webhooks:
        if event.value in webhook.events:
            jobs.append(
                NewJob(
                    "webhook",
                    f"webhook:{webhook.id}:{event_key}",
                    {"notice": payload, "webhook_id": webhook.id},
                )
            )
    return jobs


def _email(
    event_key: str,
    notice: dict[str, Any],
    to: list[str],
    attach: AttachPolicy,
    audio_format: AudioFormat,
    *,
    cc: Sequence[str] = (),
    audio_key: str | None = None,
    delay: float = 0.0,
) -> NewJob:
    payload = {
        "notice": notice,
        "to": to,
        "cc": list(cc),
        "attach": attach.value,
        "format": audio_format.value,
        "audio_key": audio_key,
    }
    return NewJob("email", f"email:{event_key}", payload, delay=delay)
