"""E-mail notifications: a Notice rendered through Jinja2 templates into an EmailMessage.

Pure apart from reading templates: sending is another module's job. Each event has a subject,
a plain-text and an HTML template (``message.*`` for a new message, ``missed.*`` for a missed
call). An operator may put any of them in an override folder; a file there replaces the
bundled one of the same name, the others stay bundled.

Every template gets the same context:

``notice``          the raw ``Notice`` (``notice.at`` is UTC; ``notice.to_json()`` works too)
``event``           'message.created', 'call.missed', …
``language``        the catalogue language: en, de, it, fi, el or ru
``label(key, **v)`` a catalogue text in that language, e.g. ``label("missed_call", caller=…)``
``caller``          'Alice Example (+1 202-555-0123)', the number or name alone, or the
                    localized 'Unknown caller'
``caller_name``     the display name, control characters removed ('' when none)
``caller_number``   the formatted number ('' when withheld)
``called_number``   the formatted number that was dialled
``mailbox``         'Alice (1001)': the mailbox's name and number
``mailbox_name``, ``mailbox_number``
``when``            date and time in the mailbox's zone and language, long form
``when_short``      the same, short form ('3/5/24, 2:02 PM')
``time``            the time alone ('14:02')
``duration``        the message's length in words, or None (missed calls)
``reason``          why the call reached voicemail ('no answer')
``urgent``          bool
``transcript``      str or None
``web_url``         link to the message in the web UI, or None
``attachment``      the attached file's name, or None
``subject``         the default subject line (what the bundled subject template renders)
``heading``         the default heading ('New voicemail', 'Missed call')
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import functools
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2

from afterbeep.notify.attachment import Attachment
from afterbeep.notify.content import EventKind, Notice
from afterbeep.notify.format import (
    caller_text,
    clean_text,
    format_duration,
    format_number,
    format_when,
    label,
    label_count,
    language_of,
    reason_text,
)

__all__ = ["EmailTemplates", "TemplateError", "compose_email", "compose_test_email"]

# SMTP line endings and header folding; 7bit so that non-ASCII bodies go out as
# quoted-printable or base64 and any relay accepts them, with or without 8BITMIME.
POLICY = email.policy.SMTP.clone(cte_type="7bit")


class TemplateError(ValueError):
    """A template is missing, broken, or uses a variable the context does not have."""


class EmailTemplates:
    """The bundled templates, each one replaceable by a file in ``override_dir``."""

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            if not override_dir.is_dir():
                raise TemplateError(f"e-mail template folder {override_dir} does not exist")
            loaders.append(jinja2.FileSystemLoader(override_dir))
        loaders.append(jinja2.PackageLoader("afterbeep.notify", "templates"))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,  # a typo in an override fails loudly
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, context: dict[str, Any]) -> str:
        """Render one template; any Jinja error comes out as ``TemplateError`` naming it."""
        try:
            return self._env.get_template(name).render(context)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"e-mail template {name}: {exc}") from exc


# The templates (and heading) of each event; everything else is about a message.
_TEMPLATES = {
    EventKind.CALL_MISSED: "missed",
    EventKind.MAILBOX_FULL: "full",
    # News about the mailbox itself: one sentence (``summary``) says it all.
    EventKind.MESSAGES_EXPIRING: "notice",
    EventKind.MAILBOX_LOCKED: "notice",
}
_HEADINGS = {
    EventKind.CALL_MISSED: "missed_heading",
    EventKind.MAILBOX_FULL: "full_heading",
    EventKind.MESSAGES_EXPIRING: "expiring_heading",
    EventKind.MAILBOX_LOCKED: "locked_heading",
}


def _context(notice: Notice, region: str, attachment: Attachment | None) -> dict[str, Any]:
    mailbox = notice.mailbox
    lang = language_of(mailbox.language)
    zone = mailbox.timezone
    caller = caller_text(notice, region, lang)
    missed = notice.event is EventKind.CALL_MISSED
    full = notice.event is EventKind.MAILBOX_FULL
    expiring = notice.event is EventKind.MESSAGES_EXPIRING
    locked = notice.event is EventKind.MAILBOX_LOCKED
    time = format_when(notice.at, zone, mailbox.language, style="time")
    number = format_number(mailbox.number, region)
    name = clean_text(mailbox.name)
    mailbox_text = f"{name} ({number})" if name and name != number else number
    if full:
        subject = label("subject_full", lang, mailbox=mailbox_text)
    elif expiring:
        subject = label("subject_expiring", lang, mailbox=mailbox_text)
    elif locked:
        subject = label("subject_locked", lang, mailbox=mailbox_text)
    elif missed:
        subject = label("subject_missed", lang, caller=caller)
    else:
        key = "subject_urgent" if notice.urgent else "subject_message"
        subject = label(key, lang, caller=caller)
    duration = notice.duration_seconds
    return {
        "notice": notice,
        "event": notice.event.value,
        "language": lang,
        "label": functools.partial(label, language=lang),
        "caller": caller,
        "caller_name": clean_text(notice.caller_name),
        "caller_number": format_number(clean_text(notice.caller_number), region),
        "called_number": format_number(clean_text(notice.called_number), region),
        "mailbox": mailbox_text,
        "mailbox_name": name,
        "mailbox_number": number,
        "when": format_when(notice.at, zone, mailbox.language),
        "when_short": format_when(notice.at, zone, mailbox.language, style="short"),
        "time": time,
        "duration": None if duration is None else format_duration(duration, mailbox.language),
        "reason": reason_text(notice.reason, lang),
        "urgent": notice.urgent,
        "transcript": notice.transcript or None,
        "web_url": notice.web_url or None,
        "attachment": None if attachment is None else attachment.filename,
        "subject": subject,
        "heading": label(_HEADINGS.get(notice.event, "new_message"), lang),
        "count": notice.count,
        "summary": _summary(notice, mailbox_text, caller, time),
    }


def _summary(notice: Notice, mailbox_text: str, caller: str, time: str) -> str | None:
    """The sentence saying what happened, for events about the mailbox that need a count."""
    language = notice.mailbox.language
    if notice.event is EventKind.MESSAGES_EXPIRING:
        date = format_when(notice.at, notice.mailbox.timezone, language, style="date")
        return label_count(
            "messages_expiring", language, notice.count or 0, mailbox=mailbox_text, date=date
        )
    if notice.event is EventKind.MAILBOX_LOCKED:
        return label_count(
            "mailbox_locked",
            language,
            notice.count or 0,
            mailbox=mailbox_text,
            caller=caller,
            time=time,
            duration=format_duration(notice.duration_seconds or 0, language),
        )
    return None


def _base(sender: str, to: Sequence[str], message_id: str, now: dt.datetime | None) -> EmailMessage:
    if not to:
        raise ValueError("an e-mail needs at least one recipient")
    msg = EmailMessage(policy=POLICY)
    msg["From"] = clean_text(sender)
    msg["To"] = ", ".join(clean_text(address) for address in to)
    when = now or dt.datetime.now(dt.UTC)
    msg["Date"] = email.utils.format_datetime(when if when.tzinfo else when.replace(tzinfo=dt.UTC))
    msg["Message-ID"] = clean_text(message_id)
    # RFC 3834: tells vacation responders and mailing lists not to answer.
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def compose_email(
    notice: Notice,
    *,
    sender: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    message_id: str,
    templates: EmailTemplates,
    region: str = "US",
    attachment: Attachment | None = None,
    now: dt.datetime | None = None,
) -> EmailMessage:
    """The notification e-mail: text and HTML alternatives, plus the audio when given.

    ``message_id`` is used as is (the caller derives it from the delivery job, so a resend
    carries the same one). Raises ``TemplateError`` when a template cannot be rendered.
    """
    context = _context(notice, region, attachment)
    prefix = _TEMPLATES.get(notice.event, "message")
    # Rendered before any header is set, so a broken template leaves nothing half-built.
    subject = clean_text(templates.render(f"{prefix}.subject.txt", context))
    text = templates.render(f"{prefix}.txt", context)
    html = templates.render(f"{prefix}.html", context)

    msg = _base(sender, to, message_id, now)
    if cc:
        msg["Cc"] = ", ".join(clean_text(address) for address in cc)
    msg["Subject"] = subject
    if notice.urgent:
        msg["Importance"] = "high"  # RFC 2156; shown as a flag by most clients
    msg["X-Afterbeep-Event"] = notice.event.value
    if notice.message_id is not None:
        msg["X-Afterbeep-Message-Id"] = str(notice.message_id)
    msg.set_content(text if text.endswith("\n") else text + "\n")
    msg.add_alternative(html, subtype="html")
    if attachment is not None:
        # Turns the multipart/alternative into the first part of a multipart/mixed.
        msg.add_attachment(
            attachment.data,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return msg


def compose_test_email(
    *,
    sender: str,
    to: Sequence[str],
    message_id: str,
    now: dt.datetime | None = None,
    language: str = "en",
) -> EmailMessage:
    """A short plain-text mail for ``afterbeep notify test``: proves the SMTP path works."""
    msg = _base(sender, to, message_id, now)
    msg["Subject"] = label("test_subject", language)
    msg["X-Afterbeep-Event"] = "test"
    msg.set_content(label("test_body", language) + "\n")
    return msg
