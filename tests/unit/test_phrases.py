"""Run-time sentences in six languages: counts, positions, envelopes, durations, catalogue.

The expected sentences were written by hand from each language's grammar (Russian counts take
one/few/many forms, Finnish the partitive after numbers above one, Greek and Russian numbers
agree in gender), not generated from the code under test.
"""

from __future__ import annotations

import datetime as dt

import pytest

from afterbeep.flows.prompts import TEXTS
from afterbeep.speech.numbers import number_words, ordinal_words, plural_category
from afterbeep.speech.phrases import (
    LANGUAGES,
    digits_text,
    duration_text,
    envelope,
    folder_summary,
    language_of,
    message_counts,
    message_position,
    time_text,
    when_text,
)

UTC = dt.UTC
BERLIN = "Europe/Berlin"
# 00:30 on 11 December in Berlin, still 10 December in UTC.
NOW = dt.datetime(2024, 12, 10, 23, 30, tzinfo=UTC)

NEW_COUNTS = {
    "en": [
        "You have no messages.",
        "You have one new message.",
        "You have two new messages.",
        "You have five new messages.",
        "You have twenty-one new messages.",
    ],
    "de": [
        "Sie haben keine Nachrichten.",
        "Sie haben eine neue Nachricht.",
        "Sie haben zwei neue Nachrichten.",
        "Sie haben fünf neue Nachrichten.",
        "Sie haben einundzwanzig neue Nachrichten.",
    ],
    "it": [
        "Non hai messaggi.",
        "Hai un nuovo messaggio.",
        "Hai due nuovi messaggi.",
        "Hai cinque nuovi messaggi.",
        "Hai ventun nuovi messaggi.",
    ],
    "fi": [
        "Sinulla ei ole viestejä.",
        "Sinulla on yksi uusi viesti.",
        "Sinulla on kaksi uutta viestiä.",
        "Sinulla on viisi uutta viestiä.",
        "Sinulla on kaksikymmentäyksi uutta viestiä.",
    ],
    "el": [
        "Δεν έχετε μηνύματα.",
        "Έχετε ένα νέο μήνυμα.",
        "Έχετε δύο νέα μηνύματα.",
        "Έχετε πέντε νέα μηνύματα.",
        "Έχετε είκοσι ένα νέα μηνύματα.",
    ],
    "ru": [
        "У вас нет сообщений.",
        "У вас одно новое сообщение.",
        "У вас два новых сообщения.",
        "У вас пять новых сообщений.",
        "У вас двадцать одно новое сообщение.",
    ],
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("position", "count"), list(enumerate([0, 1, 2, 5, 21])))
def test_new_message_counts(language: str, position: int, count: int) -> None:
    assert message_counts(language, count, 0) == NEW_COUNTS[language][position]


@pytest.mark.parametrize(
    ("language", "new", "old", "expected"),
    [
        ("en", 2, 1, "You have two new messages and one old message."),
        ("en", 0, 1, "You have one old message."),
        ("de", 1, 2, "Sie haben eine neue Nachricht und zwei alte Nachrichten."),
        ("it", 2, 1, "Hai due nuovi messaggi e un vecchio messaggio."),
        ("fi", 2, 1, "Sinulla on kaksi uutta viestiä ja yksi vanha viesti."),
        ("el", 3, 1, "Έχετε τρία νέα μηνύματα και ένα παλιό μήνυμα."),
        ("ru", 2, 1, "У вас два новых сообщения и одно старое сообщение."),
        ("ru", 0, 5, "У вас пять старых сообщений."),
        # 11 ends in 1 but is "many", 22 ends in 2 and is "few": CLDR, not n % 10.
        ("ru", 11, 22, "У вас одиннадцать новых сообщений и двадцать два старых сообщения."),
    ],
)
def test_new_and_old_counts(language: str, new: int, old: int, expected: str) -> None:
    assert message_counts(language, new, old) == expected


@pytest.mark.parametrize(
    ("language", "folder", "count", "expected"),
    [
        ("en", "work", 3, "You have three messages in your Work folder."),
        ("en", "family", 0, "There are no messages in your Family folder."),
        ("en", "new", 0, "You have no new messages."),
        ("en", "old", 1, "You have one old message."),
        ("de", "work", 1, "Sie haben eine Nachricht im Ordner Arbeit."),
        ("de", "family", 0, "Im Ordner Familie sind keine Nachrichten."),
        ("de", "new", 0, "Sie haben keine neuen Nachrichten."),
        ("it", "friends", 2, "Hai due messaggi nella cartella Amici."),
        ("it", "work", 0, "Non ci sono messaggi nella cartella Lavoro."),
        ("fi", "work", 3, "Työ-kansiossa on kolme viestiä."),
        ("fi", "family", 0, "Perhe-kansiossa ei ole viestejä."),
        ("fi", "old", 0, "Sinulla ei ole vanhoja viestejä."),
        ("el", "work", 4, "Έχετε τέσσερα μηνύματα στον φάκελο Εργασία."),
        ("el", "family", 0, "Δεν υπάρχουν μηνύματα στον φάκελο Οικογένεια."),
        ("ru", "work", 3, "В папке Работа три сообщения."),
        ("ru", "friends", 1, "В папке Друзья одно сообщение."),
        ("ru", "family", 0, "В папке Семья нет сообщений."),
        ("ru", "new", 5, "У вас пять новых сообщений."),
    ],
)
def test_folder_summary(language: str, folder: str, count: int, expected: str) -> None:
    assert folder_summary(language, folder, count) == expected


def test_folder_summary_rejects_an_unknown_folder() -> None:
    with pytest.raises(ValueError, match="folder"):
        folder_summary("en", "spam", 1)


@pytest.mark.parametrize(
    ("language", "first", "second", "last"),
    [
        ("en", "First message.", "Second message.", "Last message."),
        ("de", "Erste Nachricht.", "Zweite Nachricht.", "Letzte Nachricht."),
        ("it", "Primo messaggio.", "Secondo messaggio.", "Ultimo messaggio."),
        ("fi", "Ensimmäinen viesti.", "Toinen viesti.", "Viimeinen viesti."),
        ("el", "Πρώτο μήνυμα.", "Δεύτερο μήνυμα.", "Τελευταίο μήνυμα."),
        ("ru", "Первое сообщение.", "Второе сообщение.", "Последнее сообщение."),
    ],
)
def test_message_position(language: str, first: str, second: str, last: str) -> None:
    assert message_position(language, 0, last=False) == first
    assert message_position(language, 0, last=True) == first  # the only message
    assert message_position(language, 1, last=False) == second
    assert message_position(language, 7, last=True) == last


def test_message_position_third_and_later() -> None:
    assert message_position("ru", 2, last=False) == "Третье сообщение."
    assert message_position("en", 20, last=False) == "Twenty-first message."
    assert message_position("el", 20, last=False) == "Εικοστό πρώτο μήνυμα."


# --- when -------------------------------------------------------------------------------------

# 22:50 UTC on 10 December is 23:50 in Berlin, the day before NOW there: "yesterday", though
# in UTC it would be "today".
YESTERDAY_LATE = dt.datetime(2024, 12, 10, 22, 50, tzinfo=UTC)
TODAY_EARLY = dt.datetime(2024, 12, 10, 23, 5, tzinfo=UTC)  # 00:05 in Berlin
SATURDAY = dt.datetime(2024, 12, 7, 9, 15, tzinfo=UTC)  # 10:15 in Berlin, four days before
OLDER = dt.datetime(2024, 12, 2, 13, 4, tzinfo=UTC)  # 14:04 in Berlin, nine days before

WHEN = {
    "en": [
        "yesterday at eleven fifty p.m.",
        "today at twelve oh five a.m.",
        "on Saturday at ten fifteen a.m.",
        "on December second at two oh four p.m.",
    ],
    "de": [
        "gestern um dreiundzwanzig Uhr fünfzig",
        "heute um null Uhr fünf",
        "am Samstag um zehn Uhr fünfzehn",
        "am zweiten Dezember um vierzehn Uhr vier",
    ],
    "it": [
        "ieri alle ventitré e cinquanta",
        "oggi a mezzanotte e cinque",
        "sabato alle dieci e quindici",
        "il due dicembre alle quattordici e quattro",
    ],
    "fi": [
        "eilen kello kaksikymmentäkolme viisikymmentä",
        "tänään kello nolla nolla viisi",
        "lauantaina kello kymmenen viisitoista",
        "toisena joulukuuta kello neljätoista nolla neljä",
    ],
    "el": [
        "χθες στις είκοσι τρεις και πενήντα",
        "σήμερα στις μηδέν και πέντε",
        "το Σάββατο στις δέκα και δεκαπέντε",
        "στις δύο Δεκεμβρίου στις δεκατέσσερις και τέσσερα",
    ],
    "ru": [
        "вчера в двадцать три часа пятьдесят минут",
        "сегодня в ноль часов пять минут",
        "в субботу в десять часов пятнадцать минут",
        "второго декабря в четырнадцать часов четыре минуты",
    ],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_when_in_the_mailbox_time_zone(language: str) -> None:
    got = [when_text(language, at, BERLIN, NOW) for at in (YESTERDAY_LATE, TODAY_EARLY)]
    got += [when_text(language, at, BERLIN, NOW) for at in (SATURDAY, OLDER)]
    assert got == WHEN[language]


def test_the_zone_decides_the_day() -> None:
    assert when_text("en", YESTERDAY_LATE, "UTC", NOW) == "today at ten fifty p.m."
    assert when_text("en", YESTERDAY_LATE, BERLIN, NOW).startswith("yesterday")


@pytest.mark.parametrize(
    ("language", "day_word"),
    [("ru", "во вторник"), ("el", "την Τρίτη"), ("de", "am Dienstag"), ("fi", "tiistaina")],
)
def test_weekday_forms(language: str, day_word: str) -> None:
    tuesday = dt.datetime(2024, 12, 3, 12, 0, tzinfo=UTC)
    friday = dt.datetime(2024, 12, 6, 12, 0, tzinfo=UTC)
    assert when_text(language, tuesday, BERLIN, friday).startswith(day_word + " ")


@pytest.mark.parametrize(
    ("language", "at", "expected"),
    [
        ("en", dt.datetime(2024, 1, 1, 0, 0, tzinfo=UTC), "at twelve a.m."),
        ("en", dt.datetime(2024, 1, 1, 12, 30, tzinfo=UTC), "at twelve thirty p.m."),
        ("de", dt.datetime(2024, 1, 1, 1, 0, tzinfo=UTC), "um ein Uhr"),
        ("de", dt.datetime(2024, 1, 1, 14, 1, tzinfo=UTC), "um vierzehn Uhr eins"),
        ("it", dt.datetime(2024, 1, 1, 1, 5, tzinfo=UTC), "all'una e cinque"),
        ("el", dt.datetime(2024, 1, 1, 1, 0, tzinfo=UTC), "στη μία"),
        # Hours agree with the feminine "ώρα", minutes with the neuter "λεπτό".
        ("el", dt.datetime(2024, 1, 1, 14, 4, tzinfo=UTC), "στις δεκατέσσερις και τέσσερα"),
        ("ru", dt.datetime(2024, 1, 1, 21, 1, tzinfo=UTC), "в двадцать один час одну минуту"),
        ("ru", dt.datetime(2024, 1, 1, 2, 22, tzinfo=UTC), "в два часа двадцать две минуты"),
    ],
)
def test_time_of_day(language: str, at: dt.datetime, expected: str) -> None:
    assert time_text(language, at, "UTC") == expected


@pytest.mark.parametrize(
    ("language", "day", "expected"),
    [
        ("it", 1, "il primo dicembre"),
        ("it", 8, "l'otto dicembre"),
        ("el", 1, "την πρώτη Δεκεμβρίου"),
        ("ru", 23, "двадцать третьего декабря"),
        ("de", 31, "am einunddreißigsten Dezember"),
        ("en", 3, "on December third"),
    ],
)
def test_dates(language: str, day: int, expected: str) -> None:
    at = dt.datetime(2024, 12, day, 12, 0, tzinfo=UTC)
    later = dt.datetime(2025, 1, 20, 12, 0, tzinfo=UTC)
    assert when_text(language, at, "UTC", later).startswith(expected + " ")


# --- callers, durations, envelopes --------------------------------------------------------------


def test_digits_are_read_one_by_one() -> None:
    assert digits_text("en", "+49 (30) 12-3") == "plus, four, nine, three, zero, one, two, three"
    assert digits_text("ru", "+7 495") == "плюс, семь, четыре, девять, пять"
    assert digits_text("el", "+30 1") == "συν, τρία, μηδέν, ένα"
    assert digits_text("it", "*21#") == "asterisco, due, uno, cancelletto"


@pytest.mark.parametrize(
    ("language", "seconds", "expected"),
    [
        ("en", 65, "one minute and five seconds"),
        ("en", 1, "one second"),
        ("en", 0.2, "zero seconds"),
        ("en", 3725, "one hour, two minutes, and five seconds"),
        ("de", 61, "eine Minute und eine Sekunde"),
        ("it", 3600, "un'ora"),
        ("it", 121, "due minuti e un secondo"),
        ("fi", 62, "yksi minuutti ja kaksi sekuntia"),
        ("el", 62, "ένα λεπτό και δύο δευτερόλεπτα"),
        ("el", 7200, "δύο ώρες"),
        ("ru", 65, "одна минута и пять секунд"),
        ("ru", 122, "две минуты и две секунды"),
        ("ru", 21 * 60 + 21, "двадцать одна минута и двадцать одна секунда"),
        ("ru", 3600 * 2, "два часа"),
    ],
)
def test_durations(language: str, seconds: float, expected: str) -> None:
    assert duration_text(language, seconds) == expected


def _envelope(language: str, number: str, name: str, received: dt.datetime = OLDER) -> str:
    return envelope(
        language,
        received_at=received,
        timezone=BERLIN,
        now=NOW,
        caller_number=number,
        caller_name=name,
        duration_seconds=65.4,
    )


def test_envelope_english() -> None:
    assert _envelope("en", "+1 555 0100", "Alice", YESTERDAY_LATE) == (
        "Received yesterday at eleven fifty p.m. "
        "From Alice, plus, one, five, five, five, zero, one, zero, zero. "
        "Length: one minute and five seconds."
    )


def test_envelope_russian() -> None:
    assert _envelope("ru", "1001", "") == (
        "Получено второго декабря в четырнадцать часов четыре минуты. "
        "Абонент: один, ноль, ноль, один. "
        "Длительность: одна минута и пять секунд."
    )


@pytest.mark.parametrize("number", ["anonymous", "", "Unknown", "  ", "restricted"])
def test_withheld_caller(number: str) -> None:
    assert "From an unknown caller." in _envelope("en", number, "")
    assert "Von einem unbekannten Anrufer." in _envelope("de", number, "")
    assert "Неизвестный абонент." in _envelope("ru", number, "Anonymous")


def test_withheld_number_with_a_name() -> None:
    assert "From Bob Smith." in _envelope("en", "anonymous", "Bob Smith")
    assert "Soittaja: Bob Smith." in _envelope("fi", "anonymous", "Bob Smith")


def test_control_characters_in_the_name_are_dropped() -> None:
    assert "From Eve\n" not in _envelope("en", "", "Eve\nX")


# --- numbers and the catalogue ------------------------------------------------------------------


def test_number_words_follow_gender_and_case() -> None:
    assert number_words("ru", 1, gender="neuter") == "одно"
    assert number_words("ru", 2, gender="feminine") == "две"
    assert number_words("de", 1, gender="feminine") == "eine"
    assert number_words("fi", 2, case="partitive") == "kahta"
    assert ordinal_words("ru", 2, gender="neuter", case="genitive") == "второго"
    assert ordinal_words("de", 2, case="n") == "zweiten"
    with pytest.raises(ValueError, match="rule set"):
        number_words("en", 1, gender="feminine")
    with pytest.raises(ValueError, match="negative"):
        number_words("en", -1)


def test_plural_categories_come_from_cldr() -> None:
    assert [plural_category("ru", n) for n in (1, 2, 5, 11, 21, 22)] == [
        "one",
        "few",
        "many",
        "many",
        "one",
        "few",
    ]
    assert plural_category("fi", 21) == "other"


def test_language_tags() -> None:
    assert language_of("de-AT") == "de"
    assert language_of("pt-BR") == "en"
    assert message_counts("ru_RU", 1, 0) == "У вас одно новое сообщение."


def test_catalogue_is_complete() -> None:
    assert set(TEXTS) == set(LANGUAGES)
    names = list(TEXTS["en"])
    for language, texts in TEXTS.items():
        assert list(texts) == names, language
        assert all(text.strip() for text in texts.values()), language


@pytest.mark.parametrize("language", LANGUAGES)
def test_digit_prompts_are_cldr_counting_words(language: str) -> None:
    for d in range(10):
        assert TEXTS[language][f"digit_{d}"] == number_words(language, d)


def test_english_deposit_prompts_unchanged() -> None:
    # The shipped recordings say exactly these words.
    assert TEXTS["en"]["person_at"] == "The person at extension"
    assert TEXTS["en"]["leave_message"] == (
        "Please leave your message after the tone. When you are done, hang up, or press pound."
    )
