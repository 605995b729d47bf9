"""Sentences the dial-in menus build at run time: message counts, positions, envelopes.

Pure: text out, no I/O, no clock (``now`` is a parameter). Each language has a small table
of sentence templates and the noun forms for each CLDR plural category; everything that CLDR
knows comes from CLDR: numbers in words with the right gender and case (RBNF, see
``speech.numbers``), plural categories, month and weekday names (Babel; dates and times of
day are in ``speech.when``). The text is written for a speech synthesizer: numbers are
spelled out, and phone numbers are read digit by digit.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from babel import Locale
from babel.lists import format_list

from afterbeep.speech.catalogue import TEXTS
from afterbeep.speech.numbers import count_words, number_words, ordinal_words
from afterbeep.speech.when import time_text, when_text

__all__ = [
    "FOLDERS",
    "LANGUAGES",
    "digits_text",
    "duration_text",
    "envelope",
    "folder_summary",
    "language_of",
    "message_counts",
    "message_position",
    "number_words",
    "ordinal_words",
    "time_text",
    "when_text",
]

LANGUAGES = ("en", "de", "it", "fi", "el", "ru")
FOLDERS = ("new", "old", "work", "family", "friends")
_DEFAULT = "en"
# What carriers and PBXs put in the From user part when the number is withheld.
_WITHHELD = frozenset({"", "anonymous", "unknown", "unavailable", "restricted", "private"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

Forms = Mapping[str, str]  # CLDR plural category -> the words that follow the number


@dataclass(frozen=True, slots=True)
class _Unit:
    forms: Forms
    gender: str | None = None  # the RBNF rule set the number takes before this noun
    case: str | None = None


@dataclass(frozen=True, slots=True)
class _Grammar:
    messages: Mapping[str, _Unit]  # "" (any), "new", "old"
    you_have: str  # "{items}": one or two counted noun phrases
    no_messages: str
    none_of_kind: Mapping[str, str]  # "new"/"old" -> "You have no new messages."
    place: str  # "{folder}" -> where a folder's messages are
    some_in: str  # "{count}", "{place}"
    none_in: str  # "{place}"
    first: str  # message_position: the noun after the ordinal
    last: str
    ordinal_gender: str | None
    hour: _Unit
    minute: _Unit
    second: _Unit
    received: str  # "{when}"
    caller: str  # "{caller}"
    unknown_caller: str
    length: str  # "{duration}"
    plus: str  # how "+" in a phone number is read


def _ru(one: str, few: str, many: str, other: str) -> Forms:
    # Russian has four categories: 1/21 ("one"), 2-4 ("few"), 0/5-20 ("many"), fractions.
    return {"one": one, "few": few, "many": many, "other": other}


# After 2-4 a Russian counted word is genitive singular ("два новых сообщения", the adjective
# genitive plural); from 5 on, genitive plural ("пять новых сообщений").

_G: dict[str, _Grammar] = {
    "en": _Grammar(
        messages={
            "": _Unit({"one": "message", "other": "messages"}),
            "new": _Unit({"one": "new message", "other": "new messages"}),
            "old": _Unit({"one": "old message", "other": "old messages"}),
        },
        you_have="You have {items}.",
        no_messages="You have no messages.",
        none_of_kind={"new": "You have no new messages.", "old": "You have no old messages."},
        place="in your {folder} folder",
        some_in="You have {count} {place}.",
        none_in="There are no messages {place}.",
        first="message",
        last="Last message.",
        ordinal_gender=None,
        hour=_Unit({"one": "hour", "other": "hours"}),
        minute=_Unit({"one": "minute", "other": "minutes"}),
        second=_Unit({"one": "second", "other": "seconds"}),
        received="Received {when}.",
        caller="From {caller}.",
        unknown_caller="From an unknown caller.",
        length="Length: {duration}.",
        plus="plus",
    ),
    "de": _Grammar(
        messages={
            "": _Unit({"one": "Nachricht", "other": "Nachrichten"}, "feminine"),
            "new": _Unit({"one": "neue Nachricht", "other": "neue Nachrichten"}, "feminine"),
            "old": _Unit({"one": "alte Nachricht", "other": "alte Nachrichten"}, "feminine"),
        },
        you_have="Sie haben {items}.",
        no_messages="Sie haben keine Nachrichten.",
        none_of_kind={
            "new": "Sie haben keine neuen Nachrichten.",
            "old": "Sie haben keine alten Nachrichten.",
        },
        place="im Ordner {folder}",
        some_in="Sie haben {count} {place}.",
        none_in="{place} sind keine Nachrichten.",
        first="Nachricht",
        last="Letzte Nachricht.",
        ordinal_gender=None,  # "erste Nachricht": CLDR's plain ordinal is the -e form
        hour=_Unit({"one": "Stunde", "other": "Stunden"}, "feminine"),
        minute=_Unit({"one": "Minute", "other": "Minuten"}, "feminine"),
        second=_Unit({"one": "Sekunde", "other": "Sekunden"}, "feminine"),
        received="Empfangen {when}.",
        caller="Von {caller}.",
        unknown_caller="Von einem unbekannten Anrufer.",
        length="Dauer: {duration}.",
        plus="plus",
    ),
    "it": _Grammar(
        messages={
            "": _Unit({"one": "messaggio", "other": "messaggi"}, "masculine"),
            "new": _Unit({"one": "nuovo messaggio", "other": "nuovi messaggi"}, "masculine"),
            "old": _Unit({"one": "vecchio messaggio", "other": "vecchi messaggi"}, "masculine"),
        },
        you_have="Hai {items}.",
        no_messages="Non hai messaggi.",
        none_of_kind={"new": "Non hai nuovi messaggi.", "old": "Non hai vecchi messaggi."},
        place="nella cartella {folder}",
        some_in="Hai {count} {place}.",
        none_in="Non ci sono messaggi {place}.",
        first="messaggio",
        last="Ultimo messaggio.",
        ordinal_gender="masculine",
        hour=_Unit({"one": "ora", "other": "ore"}, "feminine"),
        minute=_Unit({"one": "minuto", "other": "minuti"}, "masculine"),
        second=_Unit({"one": "secondo", "other": "secondi"}, "masculine"),
        received="Ricevuto {when}.",
        caller="Da {caller}.",
        unknown_caller="Da un numero sconosciuto.",
        length="Durata: {duration}.",
        plus="più",
    ),
    "fi": _Grammar(
        # Finnish counts above one take the partitive singular: "kaksi uutta viestiä".
        messages={
            "": _Unit({"one": "viesti", "other": "viestiä"}),
            "new": _Unit({"one": "uusi viesti", "other": "uutta viestiä"}),
            "old": _Unit({"one": "vanha viesti", "other": "vanhaa viestiä"}),
        },
        you_have="Sinulla on {items}.",
        no_messages="Sinulla ei ole viestejä.",
        none_of_kind={
            "new": "Sinulla ei ole uusia viestejä.",
            "old": "Sinulla ei ole vanhoja viestejä.",
        },
        # The folder's name stays in the nominative; the hyphenated compound takes the case.
        place="{folder}-kansiossa",
        some_in="{place} on {count}.",
        none_in="{place} ei ole viestejä.",
        first="viesti",
        last="Viimeinen viesti.",
        ordinal_gender=None,
        hour=_Unit({"one": "tunti", "other": "tuntia"}),
        minute=_Unit({"one": "minuutti", "other": "minuuttia"}),
        second=_Unit({"one": "sekunti", "other": "sekuntia"}),
        received="Vastaanotettu {when}.",
        # A name after "soittaja:" needs no case ending, unlike "-lta".
        caller="Soittaja: {caller}.",
        unknown_caller="Tuntematon soittaja.",
        length="Kesto: {duration}.",
        plus="plus",
    ),
    "el": _Grammar(
        messages={
            "": _Unit({"one": "μήνυμα", "other": "μηνύματα"}, "neuter"),
            "new": _Unit({"one": "νέο μήνυμα", "other": "νέα μηνύματα"}, "neuter"),
            "old": _Unit({"one": "παλιό μήνυμα", "other": "παλιά μηνύματα"}, "neuter"),
        },
        you_have="Έχετε {items}.",
        no_messages="Δεν έχετε μηνύματα.",
        none_of_kind={"new": "Δεν έχετε νέα μηνύματα.", "old": "Δεν έχετε παλιά μηνύματα."},
        place="στον φάκελο {folder}",
        some_in="Έχετε {count} {place}.",
        none_in="Δεν υπάρχουν μηνύματα {place}.",
        first="μήνυμα",
        last="Τελευταίο μήνυμα.",
        ordinal_gender="neuter",
        hour=_Unit({"one": "ώρα", "other": "ώρες"}, "feminine"),
        minute=_Unit({"one": "λεπτό", "other": "λεπτά"}, "neuter"),
        second=_Unit({"one": "δευτερόλεπτο", "other": "δευτερόλεπτα"}, "neuter"),
        received="Ελήφθη {when}.",
        # "από" would need the caller's name in the accusative, which a template cannot do.
        caller="Καλών: {caller}.",
        unknown_caller="Άγνωστος καλών.",
        length="Διάρκεια: {duration}.",
        plus="συν",
    ),
    "ru": _Grammar(
        messages={
            "": _Unit(_ru("сообщение", "сообщения", "сообщений", "сообщения"), "neuter"),
            "new": _Unit(
                _ru("новое сообщение", "новых сообщения", "новых сообщений", "нового сообщения"),
                "neuter",
            ),
            "old": _Unit(
                _ru(
                    "старое сообщение", "старых сообщения", "старых сообщений", "старого сообщения"
                ),
                "neuter",
            ),
        },
        you_have="У вас {items}.",
        no_messages="У вас нет сообщений.",
        none_of_kind={"new": "У вас нет новых сообщений.", "old": "У вас нет старых сообщений."},
        place="в папке {folder}",
        some_in="{place} {count}.",
        none_in="{place} нет сообщений.",
        first="сообщение",
        last="Последнее сообщение.",
        ordinal_gender="neuter",
        hour=_Unit(_ru("час", "часа", "часов", "часа"), "masculine"),
        minute=_Unit(_ru("минута", "минуты", "минут", "минуты"), "feminine"),
        second=_Unit(_ru("секунда", "секунды", "секунд", "секунды"), "feminine"),
        received="Получено {when}.",
        # "от" would need the caller's name in the genitive: a label needs no case.
        caller="Абонент: {caller}.",
        unknown_caller="Неизвестный абонент.",
        length="Длительность: {duration}.",
        plus="плюс",
    ),
}


def language_of(language: str) -> str:
    """The phrase language for a BCP 47 tag: 'de-AT' -> 'de'; anything else -> 'en'."""
    primary = language.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in _G else _DEFAULT


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count(language: str, n: int, unit: _Unit) -> str:
    return count_words(language, n, unit.forms, gender=unit.gender, case=unit.case)


def _and(language: str, items: list[str]) -> str:
    # CLDR list patterns: "a, b and c", "a, b und c", "a, b και c", ...
    return format_list(items, locale=_locale(language))


def message_counts(language: str, new: int, old: int) -> str:
    """'You have two new messages and one old message.' / 'You have no messages.'"""
    lang = language_of(language)
    g = _G[lang]
    items = [_count(lang, n, g.messages[kind]) for kind, n in (("new", new), ("old", old)) if n]
    if not items:
        return g.no_messages
    return g.you_have.format(items=_and(lang, items))


def folder_summary(language: str, folder: str, count: int) -> str:
    """'You have three messages in your Work folder.' / 'You have no new messages.'

    ``folder`` is one of ``FOLDERS``; the new and old folders are read as kinds of message
    ("three new messages") rather than as places.
    """
    if folder not in FOLDERS:
        raise ValueError(f"unknown folder {folder!r}")
    lang = language_of(language)
    g = _G[lang]
    if folder in g.none_of_kind:
        if not count:
            return g.none_of_kind[folder]
        return g.you_have.format(items=_count(lang, count, g.messages[folder]))
    place = g.place.format(folder=TEXTS[lang][f"vm_folder_{folder}"])
    if not count:
        return _sentence(g.none_in.format(place=place))
    return _sentence(g.some_in.format(count=_count(lang, count, g.messages[""]), place=place))


def message_position(language: str, index: int, last: bool) -> str:
    """'First message.', 'Second message.', … 'Last message.' (``index`` counts from 0).

    The first message is announced as first even when it is also the last.
    """
    if index < 0:
        raise ValueError(f"message index must be >= 0, not {index}")
    lang = language_of(language)
    g = _G[lang]
    if last and index > 0:
        return g.last
    ordinal = ordinal_words(lang, index + 1, gender=g.ordinal_gender)
    return _sentence(f"{ordinal} {g.first}.")


def digits_text(language: str, number: str) -> str:
    """A phone number read one digit at a time: '+49 30' -> 'plus, four, nine, three, zero'.

    Commas make the synthesizer pause between digits instead of reading "forty-nine".
    Anything that is not a digit, '+', '*' or '#' (spaces, dashes, brackets) is skipped.
    """
    lang = language_of(language)
    words = []
    for char in number:
        if char.isascii() and char.isdigit():
            words.append(number_words(lang, int(char)))
        elif char == "+":
            words.append(_G[lang].plus)
        elif char == "*":
            words.append(TEXTS[lang]["digit_star"])
        elif char == "#":
            words.append(TEXTS[lang]["digit_pound"])
    return ", ".join(words)


def duration_text(language: str, seconds: float) -> str:
    """'one minute and five seconds', with the plural forms and number genders of CLDR."""
    lang = language_of(language)
    g = _G[lang]
    total = round(seconds) if math.isfinite(seconds) and seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        _count(lang, n, unit)
        for n, unit in ((hours, g.hour), (minutes, g.minute), (secs, g.second))
        if n
    ]
    text = _and(lang, parts) if parts else _count(lang, 0, g.second)
    if lang == "it":
        text = text.replace("una ora", "un'ora")  # elision before a vowel, not in CLDR
    return text


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def envelope(
    language: str,
    *,
    received_at: dt.datetime,
    timezone: str,
    now: dt.datetime,
    caller_number: str,
    caller_name: str,
    duration_seconds: float,
) -> str:
    """What the "3 3" envelope key says: when, from whom, and how long.

    'Received yesterday at nine fifteen p.m. From Alice, plus, four, nine, three, zero.
    Length: one minute and five seconds.' The caller's number is read digit by digit; a
    withheld number and no name make 'an unknown caller'.
    """
    lang = language_of(language)
    g = _G[lang]
    name = _clean(caller_name)
    number = _clean(caller_number)
    if name.lower() in _WITHHELD or name == number:
        name = ""
    digits = "" if number.lower() in _WITHHELD else digits_text(lang, number)
    who = ", ".join(part for part in (name, digits) if part)
    when = when_text(lang, received_at, timezone, now)
    parts = [
        # "… p.m." already ends the sentence.
        _sentence(g.received.format(when=when.removesuffix("."))),
        g.caller.format(caller=who) if who else g.unknown_caller,
        g.length.format(duration=duration_text(lang, duration_seconds)),
    ]
    return " ".join(parts)
