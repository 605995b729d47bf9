"""Localized formatting of numbers, times, durations and catalogue texts.

Expected date and plural texts are CLDR's (through Babel 2.x); phone formats are libphonenumber's.
"""

from __future__ import annotations

import datetime as dt
import string

import pytest

from afterbeep.domain import DiversionReason
from afterbeep.notify.content import EventKind, MailboxView, Notice
from afterbeep.notify.format import (
    _LABELS,
    LANGUAGES,
    caller_text,
    format_duration,
    format_number,
    format_when,
    label,
    language_of,
    reason_text,
)

AT = dt.datetime(2024, 3, 5, 13, 2, 30, tzinfo=dt.UTC)  # a Tuesday, CET (UTC+1) in Berlin


@pytest.mark.parametrize(
    ("number", "region", "expected"),
    [
        ("+12025550123", "US", "+1 202-555-0123"),
        ("+15555550100", "US", "+1 555-555-0100"),  # fictional range: possible, not valid
        ("+4930123456", "US", "+49 30 123456"),
        ("+4930123456", "DE", "+49 30 123456"),
        ("011493012345678", "US", "+49 30 12345678"),  # US exit code: international
        ("0049301234567", "DE", "+49 30 1234567"),
        ("2025550123", "US", "(202) 555-0123"),  # national input stays national
        ("030123456", "DE", "030 123456"),
        ("+1 (202) 555-0123", "US", "+1 202-555-0123"),
    ],
)
def test_format_number_phone_numbers(number: str, region: str, expected: str) -> None:
    assert format_number(number, region) == expected


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("1001", "US"),
        ("1001", "DE"),  # a "possible" German local number, but an extension here
        ("12345", "DE"),
        ("alice", "US"),
        ("anonymous", "US"),  # not read as the vanity number 266669687
        ("", "US"),
        ("sip:1001@pbx.example", "US"),
        ("+1", "US"),
    ],
)
def test_format_number_leaves_non_numbers_alone(number: str, region: str) -> None:
    assert format_number(number, region) == number


def test_format_when_german_in_berlin() -> None:
    assert format_when(AT, "Europe/Berlin", "de") == "Dienstag, 5. März 2024, 14:02"
    assert format_when(AT, "Europe/Berlin", "de", style="short") == "05.03.24, 14:02"
    assert format_when(AT, "Europe/Berlin", "de", style="time") == "14:02"


def test_format_when_follows_daylight_saving_time() -> None:
    summer = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert format_when(summer, "Europe/Berlin", "de", style="time") == "14:00"
    assert format_when(summer, "America/New_York", "en", style="time") == "8:00\u202fAM"


def test_format_when_other_languages() -> None:
    assert format_when(AT, "Europe/Berlin", "en") == "Tuesday, March 5, 2024, 2:02\u202fPM"
    assert format_when(AT, "Europe/Helsinki", "fi", style="time") == "15.02"
    assert format_when(AT, "Europe/Moscow", "ru") == "вторник, 5 марта 2024\u202fг., 16:02"
    assert format_when(AT, "Europe/Athens", "el", style="time") == "3:02\u202fμ.μ."
    assert format_when(AT, "Europe/Rome", "it", style="short") == "05/03/24, 14:02"


def test_format_when_falls_back_instead_of_raising() -> None:
    assert format_when(AT, "Mars/Olympus_Mons", "de", style="time") == "13:02"  # UTC
    assert format_when(AT, "", "de", style="time") == "13:02"
    assert format_when(AT, "../../etc/passwd", "de", style="time") == "13:02"
    english = format_when(AT, "UTC", "en")
    assert format_when(AT, "UTC", "xx-YY") == english
    assert format_when(AT, "UTC", "") == english
    assert format_when(AT, "UTC", "not a tag!") == english
    naive = AT.replace(tzinfo=None)
    assert format_when(naive, "Europe/Berlin", "de", style="time") == "14:02"


def test_format_when_regional_tag() -> None:
    january = dt.datetime(2024, 1, 10, 9, 0, tzinfo=dt.UTC)
    assert "Jänner" in format_when(january, "Europe/Vienna", "de-AT")
    assert "Januar" in format_when(january, "Europe/Berlin", "de")


@pytest.mark.parametrize(
    ("seconds", "language", "expected"),
    [
        (65, "en", "1 minute 5 seconds"),
        (45, "en", "45 seconds"),
        (120, "en", "2 minutes"),
        (64.6, "en", "1 minute 5 seconds"),
        (1, "ru", "1 секунда"),
        (60, "ru", "1 минута"),
        (120, "ru", "2 минуты"),
        (300, "ru", "5 минут"),
        (21, "ru", "21 секунда"),
        (125, "ru", "2 минуты 5 секунд"),
        (60, "fi", "1 minuutti"),
        (121, "fi", "2 minuuttia 1 sekunti"),
        (30, "fi", "30 sekuntia"),
        (61, "el", "1 λεπτό 1 δευτερόλεπτο"),
        (125, "el", "2 λεπτά 5 δευτερόλεπτα"),
        (61, "de", "1 Minute 1 Sekunde"),
        (62, "it", "1 minuto 2 secondi"),
        (3725, "en", "1 hour 2 minutes 5 seconds"),
        (0, "en", "0 seconds"),
        (float("nan"), "de", "0 Sekunden"),
        (-3, "en", "0 seconds"),
        (5, "xx", "5 seconds"),
    ],
)
def test_format_duration_plurals(seconds: float, language: str, expected: str) -> None:
    assert format_duration(seconds, language) == expected


def test_reason_texts() -> None:
    assert reason_text(DiversionReason.BUSY, "en") == "busy"
    assert reason_text(DiversionReason.NO_ANSWER, "en") == "no answer"
    assert reason_text(DiversionReason.UNCONDITIONAL, "en") == "unconditional forwarding"
    assert reason_text(DiversionReason.UNKNOWN, "en") == "forwarded"
    assert reason_text(DiversionReason.DIRECT, "en") == "direct call"
    assert reason_text(DiversionReason.BUSY, "de-CH") == "besetzt"
    assert reason_text(DiversionReason.NO_ANSWER, "ru") == "нет ответа"
    assert reason_text(DiversionReason.BUSY, "zz") == "busy"
    for language in LANGUAGES:
        texts = {reason_text(reason, language) for reason in DiversionReason}
        assert len(texts) == len(DiversionReason), language


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogue_is_complete_with_identical_placeholders() -> None:
    english = _LABELS["en"]
    for language in LANGUAGES:
        assert _LABELS[language].keys() == english.keys(), language
        for key, text in _LABELS[language].items():
            assert text.strip(), (language, key)
            assert _placeholders(text) == _placeholders(english[key]), (language, key)


def test_label() -> None:
    assert label("subject_message", "en", caller="Bob") == "New voicemail from Bob"
    assert label("subject_missed", "de-AT", caller="Bob") == "Verpasster Anruf von Bob"
    assert label("missed_call", "en", caller="Bob", time="14:02") == (
        "Bob tried to reach you at 14:02"
    )
    assert label("sms_message", "ru", caller="Иван", time="14:02", duration="5 секунд") == (
        "Голосовое сообщение: Иван, 14:02, 5 секунд"
    )
    assert label("listen", "pt-BR") == "Listen to the message"
    assert label("unknown_caller", "fi") == "Tuntematon soittaja"
    with pytest.raises(KeyError):
        label("no_such_key", "en")


def test_label_rephrases_for_an_unknown_caller() -> None:
    unknown = label("unknown_caller", "de")
    assert label("subject_missed", "de", caller=unknown) == (
        "Verpasster Anruf von einem unbekannten Anrufer"
    )
    en = label("unknown_caller", "en")
    assert label("missed_call", "en", caller=en, time="2:02 PM") == (
        "An unknown caller tried to reach you at 2:02 PM"
    )
    ru = label("unknown_caller", "ru")
    assert label("subject_missed", "ru", caller=ru) == "Пропущенный вызов: Неизвестный абонент"


def test_language_of() -> None:
    assert language_of("de-AT") == "de"
    assert language_of("el_GR") == "el"
    assert language_of("RU") == "ru"
    assert language_of("sv") == "en"
    assert language_of("") == "en"


def _notice(number: str, name: str, language: str = "en") -> Notice:
    return Notice(
        event=EventKind.MESSAGE_CREATED,
        mailbox=MailboxView("1001", "Alice", language, "UTC"),
        caller_number=number,
        caller_name=name,
        called_number="1001",
        reason=DiversionReason.NO_ANSWER,
        at=AT,
    )


def test_caller_text() -> None:
    both = _notice("+12025550123", "Alice Example")
    assert caller_text(both) == "Alice Example (+1 202-555-0123)"
    assert caller_text(_notice("+12025550123", "")) == "+1 202-555-0123"
    assert caller_text(_notice("2025550123", "")) == "(202) 555-0123"
    assert caller_text(_notice("1001", "Bob")) == "Bob (1001)"
    assert caller_text(_notice("anonymous", "Bob")) == "Bob"
    assert caller_text(_notice("", "Bob")) == "Bob"
    # Some PBXs send the number as the display name too.
    assert caller_text(_notice("+12025550123", "+12025550123")) == "+1 202-555-0123"
    assert caller_text(_notice("030123456", "", "de"), region="DE") == "030 123456"


def test_caller_text_unknown_is_localized() -> None:
    assert caller_text(_notice("anonymous", "")) == "Unknown caller"
    assert caller_text(_notice("", "Anonymous"), language="de") == "Unbekannter Anrufer"
    assert caller_text(_notice("", ""), language="el") == "Άγνωστος καλών"
    assert caller_text(_notice("Restricted", ""), language="ru") == "Неизвестный абонент"


def test_caller_text_strips_control_characters() -> None:
    text = caller_text(_notice("1001", "Bob\r\nBcc: evil@example.com\x00"))
    assert "\r" not in text and "\n" not in text and "\x00" not in text
    assert text == "Bob Bcc: evil@example.com (1001)"
