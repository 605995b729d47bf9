"""Notification e-mails: headers, MIME structure, localized bodies and template overrides.

Every message is checked the way a mail client sees it: serialized with ``as_bytes()`` and
parsed back with ``email.policy.default``.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import uuid
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest

from afterbeep.domain import DiversionReason
from afterbeep.notify.attachment import Attachment
from afterbeep.notify.content import EventKind, MailboxView, Notice
from afterbeep.notify.email import (
    EmailTemplates,
    TemplateError,
    compose_email,
    compose_test_email,
)

AT = dt.datetime(2024, 3, 5, 13, 2, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 3, 5, 13, 4, 10, tzinfo=dt.UTC)
MESSAGE_ID = uuid.UUID("8d1c6f0e-8f7c-4d43-9f6e-2f0d8a4b1c11")
SENDER = "afterbeep <voicemail@pbx.example>"
TO = ["alice@example.com"]
MAIL_ID = "<job-42.1@pbx.example>"


def _notice(**changes: object) -> Notice:
    notice = Notice(
        event=EventKind.MESSAGE_CREATED,
        mailbox=MailboxView("1001", "Alice Example", "en", "America/New_York"),
        caller_number="+12025550123",
        caller_name="Bob Caller",
        called_number="1001",
        reason=DiversionReason.NO_ANSWER,
        at=AT,
        message_id=MESSAGE_ID,
        duration_seconds=65.0,
        web_url="https://vm.example/messages/8d1c?a=1&b=2",
    )
    return replace(notice, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def templates() -> EmailTemplates:
    return EmailTemplates()


def _compose(notice: Notice, templates: EmailTemplates, **kwargs: object) -> EmailMessage:
    msg = compose_email(
        notice,
        sender=SENDER,
        to=TO,
        message_id=MAIL_ID,
        templates=templates,
        now=NOW,
        **kwargs,  # type: ignore[arg-type]
    )
    return _reparse(msg)


def _reparse(msg: EmailMessage) -> EmailMessage:
    raw = msg.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body((subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # the SMTP policy wrote CRLF line ends


def test_headers(templates: EmailTemplates) -> None:
    msg = _compose(_notice(), templates)
    assert msg["From"] == SENDER
    assert msg["To"] == "alice@example.com"
    assert "Cc" not in msg
    assert msg["Subject"] == "New voicemail from Bob Caller (+1 202-555-0123)"
    assert msg["Date"] == "Tue, 05 Mar 2024 13:04:10 +0000"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW
    assert msg["Message-ID"] == MAIL_ID
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Afterbeep-Event"] == "message.created"
    assert msg["X-Afterbeep-Message-Id"] == str(MESSAGE_ID)
    assert "Importance" not in msg


def test_cc_and_several_recipients(templates: EmailTemplates) -> None:
    msg = _compose(_notice(), templates, cc=["boss@example.com", "log@example.com"])
    assert msg["Cc"] == "boss@example.com, log@example.com"
    two = compose_email(
        _notice(), sender=SENDER, to=["a@example.com", "b@example.com"],
        message_id=MAIL_ID, templates=templates,
    )  # fmt: skip
    assert _reparse(two)["To"] == "a@example.com, b@example.com"
    with pytest.raises(ValueError, match="recipient"):
        compose_email(_notice(), sender=SENDER, to=[], message_id=MAIL_ID, templates=templates)


def test_date_defaults_to_now(templates: EmailTemplates) -> None:
    msg = compose_email(_notice(), sender=SENDER, to=TO, message_id=MAIL_ID, templates=templates)
    sent = email.utils.parsedate_to_datetime(msg["Date"])
    assert abs(sent - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_structure_without_attachment(templates: EmailTemplates) -> None:
    msg = _compose(_notice(), templates)
    assert msg.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in msg.iter_parts()]
    assert types == ["text/plain", "text/html"]


def test_structure_with_attachment(templates: EmailTemplates) -> None:
    audio = Attachment("voicemail-1.wav", "audio", "wav", b"RIFF\x00\x01\x02binary\xff")
    msg = _compose(_notice(), templates, attachment=audio)
    assert msg.get_content_type() == "multipart/mixed"
    body, attached = list(msg.iter_parts())
    assert body.get_content_type() == "multipart/alternative"
    assert attached.get_content_type() == "audio/wav"
    assert attached.get_filename() == "voicemail-1.wav"
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_content() == audio.data
    assert "attached as an audio file" in _text(msg, "plain")


def test_body_in_english(templates: EmailTemplates) -> None:
    msg = _compose(_notice(transcript="Hi, it's <Bob>.\nCall me back."), templates)
    text = _text(msg, "plain")
    assert "From: Bob Caller (+1 202-555-0123)" in text
    assert "Mailbox: Alice Example (1001)" in text
    assert "Received: Tuesday, March 5, 2024, 8:02\u202fAM" in text  # New York, EST
    assert "Duration: 1 minute 5 seconds" in text
    assert "Reason: no answer" in text
    assert "https://vm.example/messages/8d1c?a=1&b=2" in text
    assert "Hi, it's <Bob>.\nCall me back." in text  # text is not escaped
    html = _text(msg, "html")
    assert '<a href="https://vm.example/messages/8d1c?a=1&amp;b=2">' in html
    assert "Hi, it&#39;s &lt;Bob&gt;." in html  # HTML is


def test_body_in_german_in_berlin(templates: EmailTemplates) -> None:
    mailbox = MailboxView("+4930123456", "Büro", "de-DE", "Europe/Berlin")
    msg = _compose(_notice(mailbox=mailbox, reason=DiversionReason.BUSY), templates, region="DE")
    assert msg["Subject"] == "Neue Sprachnachricht von Bob Caller (+1 202-555-0123)"
    text = _text(msg, "plain")
    assert "Empfangen: Dienstag, 5. März 2024, 14:02" in text
    assert "Dauer: 1 Minute 5 Sekunden" in text
    assert "Grund: besetzt" in text
    assert "Mailbox: Büro (+49 30 123456)" in text
    assert "Nachricht anhören" in _text(msg, "html")


def test_russian_plurals_in_body(templates: EmailTemplates) -> None:
    mailbox = MailboxView("1001", "Иван", "ru", "Europe/Moscow")
    msg = _compose(_notice(mailbox=mailbox, duration_seconds=125.0), templates)
    assert "Длительность: 2 минуты 5 секунд" in _text(msg, "plain")


def test_urgent_is_marked(templates: EmailTemplates) -> None:
    msg = _compose(_notice(urgent=True), templates)
    assert msg["Subject"] == "Urgent voicemail from Bob Caller (+1 202-555-0123)"
    assert msg["Importance"] == "high"
    assert "Urgent" in _text(msg, "plain")
    assert "Urgent" in _text(msg, "html")


def test_missed_call(templates: EmailTemplates) -> None:
    notice = _notice(
        event=EventKind.CALL_MISSED, message_id=None, duration_seconds=None, web_url=None
    )
    msg = _compose(notice, templates)
    assert msg["Subject"] == "Missed call from Bob Caller (+1 202-555-0123)"
    assert msg["X-Afterbeep-Event"] == "call.missed"
    assert "X-Afterbeep-Message-Id" not in msg
    text = _text(msg, "plain")
    assert "Bob Caller (+1 202-555-0123) tried to reach you at 8:02\u202fAM" in text
    assert "Duration" not in text
    assert "tried to reach you" in _text(msg, "html")


@pytest.mark.parametrize(
    ("language", "count", "sentence"),
    [
        ("en", 1, "1 message in Alice (1001) will be deleted on or after March 5, 2024"),
        ("en", 12, "12 messages in Alice (1001) will be deleted on or after March 5, 2024"),
        ("de", 1, "1 Nachricht in Alice (1001) wird ab dem 5. März 2024 gelöscht"),
        ("de", 3, "3 Nachrichten in Alice (1001) werden ab dem 5. März 2024 gelöscht"),
        ("ru", 1, "1 сообщение в ящике Alice (1001) будет удалено начиная с 5 марта 2024\u202fг."),
        ("ru", 3, "3 сообщения в ящике Alice (1001) будут удалены"),
        ("ru", 5, "5 сообщений в ящике Alice (1001) будут удалены"),
        ("ru", 21, "21 сообщение в ящике Alice (1001) будет удалено"),
        ("fi", 2, "2 viestiä vastaajassa Alice (1001) poistetaan 5. maaliskuuta 2024 alkaen"),
        ("el", 1, "1 μήνυμα στον τηλεφωνητή Alice (1001) θα διαγραφεί από τις 5 Μαρτίου 2024"),
        ("it", 2, "2 messaggi in Alice (1001) saranno eliminati a partire dal 5 marzo 2024"),
        ("en", 1234, "1,234 messages"),
        ("de", 1234, "1.234 Nachrichten"),
    ],
)
def test_expiring_messages_agree_with_their_count(
    templates: EmailTemplates, language: str, count: int, sentence: str
) -> None:
    notice = _notice(
        event=EventKind.MESSAGES_EXPIRING,
        mailbox=MailboxView("1001", "Alice", language, "Europe/Berlin"),
        caller_number="",
        caller_name="",
        message_id=None,
        duration_seconds=None,
        count=count,
        web_url=None,
    )
    msg = _compose(notice, templates)
    assert msg["X-Afterbeep-Event"] == "messages.expiring"
    assert "1001" in msg["Subject"]
    assert sentence in _text(msg, "plain")
    assert sentence in _text(msg, "html").replace("&#34;", '"')


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        (
            "en",
            "After 5 wrong PINs, the last from +1 202-555-0123 at 2:02\u202fPM, dial-in "
            "access to Alice (1001) is locked for 10 minutes.",
        ),
        (
            "ru",
            "После 5 неверных PIN-кодов (последний — от +1 202-555-0123 в 14:02) доступ "
            "по телефону к ящику Alice (1001) заблокирован на 10 минут.",
        ),
        (
            "de",
            "Nach 5 falschen PIN-Eingaben (zuletzt von +1 202-555-0123 um 14:02) ist der "
            "Telefonzugang zu Alice (1001) für 10 Minuten gesperrt.",
        ),
    ],
)
def test_a_locked_mailbox_says_when_from_where_and_how_long(
    templates: EmailTemplates, language: str, sentence: str
) -> None:
    notice = _notice(
        event=EventKind.MAILBOX_LOCKED,
        mailbox=MailboxView("1001", "Alice", language, "Europe/Berlin"),
        caller_name="",
        message_id=None,
        duration_seconds=600.0,
        count=5,
        web_url=None,
    )
    msg = _compose(notice, templates)
    assert msg["X-Afterbeep-Event"] == "mailbox.locked"
    assert "1001" in msg["Subject"]
    assert sentence in _text(msg, "plain")


def test_missed_call_from_unknown_caller_in_german(templates: EmailTemplates) -> None:
    notice = _notice(
        event=EventKind.CALL_MISSED,
        mailbox=MailboxView("1001", "Alice", "de", "Europe/Berlin"),
        caller_number="anonymous",
        caller_name="",
        message_id=None,
        duration_seconds=None,
    )
    msg = _compose(notice, templates)
    assert msg["Subject"] == "Verpasster Anruf von einem unbekannten Anrufer"
    assert "Ein unbekannter Anrufer hat versucht, Sie um 14:02 zu erreichen" in _text(msg, "plain")


def test_header_injection_stays_in_the_subject(templates: EmailTemplates) -> None:
    evil = "Eve\r\nBcc: victim@example.com\r\n\r\nbody\nX-Evil: 1\x00"
    original = compose_email(
        _notice(caller_name=evil), sender=SENDER, to=TO, message_id=MAIL_ID,
        templates=templates, now=NOW,
    )  # fmt: skip
    raw = original.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.startswith((b"Bcc", b"X-Evil")) for line in head.split(b"\r\n"))
    msg = _reparse(original)
    assert "Bcc" not in msg
    assert "X-Evil" not in msg
    assert msg["Subject"] == (
        "New voicemail from Eve Bcc: victim@example.com body X-Evil: 1 (+1 202-555-0123)"
    )
    expected = {
        "From", "To", "Date", "Message-ID", "Auto-Submitted", "Subject", "X-Afterbeep-Event",
        "X-Afterbeep-Message-Id", "MIME-Version", "Content-Type",
    }  # fmt: skip
    assert set(msg.keys()) == expected


def test_non_ascii_name_round_trips(templates: EmailTemplates) -> None:
    name = "Zoë Ωμέγα Иван Петров 山田"
    original = compose_email(
        _notice(caller_name=name), sender=SENDER, to=TO, message_id=MAIL_ID,
        templates=templates, now=NOW,
    )  # fmt: skip
    raw = original.as_bytes()
    raw.decode("ascii")  # headers RFC 2047-encoded, bodies quoted-printable or base64
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = _reparse(original)
    assert msg["Subject"] == f"New voicemail from {name} (+1 202-555-0123)"
    assert f"From: {name} (+1 202-555-0123)" in _text(msg, "plain")
    assert name in _text(msg, "html")


def test_html_escapes_caller_name(templates: EmailTemplates) -> None:
    msg = _compose(_notice(caller_name='<script>alert("x")</script>'), templates)
    html = _text(msg, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<script>alert("x")</script>' in _text(msg, "plain")


def test_override_replaces_one_template_only(tmp_path: Path) -> None:
    (tmp_path / "message.subject.txt").write_text(
        "[VM {{ mailbox_number }}] {{ caller_name }} / {{ notice.caller_number }}\n"
    )
    msg = _compose(_notice(), EmailTemplates(tmp_path))
    assert msg["Subject"] == "[VM 1001] Bob Caller / +12025550123"
    assert "From: Bob Caller (+1 202-555-0123)" in _text(msg, "plain")  # bundled body
    assert "<table" in _text(msg, "html")


def test_override_with_undefined_variable_raises(tmp_path: Path) -> None:
    (tmp_path / "message.txt").write_text("Hello {{ no_such_variable }}\n")
    templates = EmailTemplates(tmp_path)
    with pytest.raises(TemplateError, match=r"message\.txt.*no_such_variable"):
        _compose(_notice(), templates)
    # The other event's templates are still the bundled ones and still work.
    missed = _notice(event=EventKind.CALL_MISSED, message_id=None, duration_seconds=None)
    assert _compose(missed, templates)["Subject"].startswith("Missed call from")


def test_override_with_syntax_error_raises(tmp_path: Path) -> None:
    (tmp_path / "message.html").write_text("{% if %}")
    with pytest.raises(TemplateError, match=r"message\.html"):
        _compose(_notice(), EmailTemplates(tmp_path))


def test_missing_override_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        EmailTemplates(tmp_path / "missing")


def test_autoescape_is_for_html_only(tmp_path: Path) -> None:
    (tmp_path / "message.txt").write_text("{{ caller_name }}\n")
    (tmp_path / "message.html").write_text("<p>{{ caller_name }}</p>\n")
    msg = _compose(_notice(caller_name="A & <B>"), EmailTemplates(tmp_path))
    assert _text(msg, "plain") == "A & <B>\n"
    assert _text(msg, "html") == "<p>A &amp; &lt;B&gt;</p>\n"


def test_test_email() -> None:
    msg = _reparse(compose_test_email(sender=SENDER, to=TO, message_id=MAIL_ID, now=NOW))
    assert msg["Subject"] == "afterbeep test message"
    assert msg["Message-ID"] == MAIL_ID
    assert msg["Date"] == "Tue, 05 Mar 2024 13:04:10 +0000"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "text/plain"
    assert "e-mail notifications work" in _text(msg, "plain")
    german = compose_test_email(sender=SENDER, to=TO, message_id=MAIL_ID, now=NOW, language="de")
    assert _reparse(german)["Subject"] == "afterbeep-Testnachricht"
