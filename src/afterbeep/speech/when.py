"""When a message arrived, said the way each language says dates and times of day.

Pure: the clock is a parameter. Month and weekday names come from CLDR (Babel), numbers in
words from CLDR's RBNF (``speech.numbers``); how a language puts them together ("am zweiten
Dezember um vierzehn Uhr vier", "второго декабря в четырнадцать часов четыре минуты") is one
small function per language. English reads the 12-hour clock, the others the 24-hour one.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from functools import cache

from babel import Locale

from afterbeep.speech.numbers import count_words, number_words, ordinal_words

__all__ = ["time_text", "when_text"]

_DAYS = {
    "en": ("today", "yesterday"),
    "de": ("heute", "gestern"),
    "it": ("oggi", "ieri"),
    "fi": ("tänään", "eilen"),
    "el": ("σήμερα", "χθες"),
    "ru": ("сегодня", "вчера"),
}
# "в четырнадцать часов четыре минуты": "в" takes the accusative, which for the count of
# minutes is "одну минуту", "две минуты", "пять минут".
_RU_HOURS = {"one": "час", "few": "часа", "many": "часов", "other": "часа"}
_RU_MINUTES = {"one": "минуту", "few": "минуты", "many": "минут", "other": "минуты"}


def _language(language: str) -> str:
    primary = language.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in _DAYS else "en"


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _time_en(h: int, m: int) -> str:
    # Spelled "a.m." so that the synthesizer says the letters, not the word "am".
    hour = number_words("en", h % 12 or 12)
    period = "a.m." if h < 12 else "p.m."
    if m == 0:
        return f"at {hour} {period}"
    minute = number_words("en", m)
    return f"at {hour} {'oh ' if m < 10 else ''}{minute} {period}"


def _time_de(h: int, m: int) -> str:
    hour = number_words("de", h, gender="neuter")  # "ein Uhr", not "eins Uhr"
    return f"um {hour} Uhr" + (f" {number_words('de', m)}" if m else "")


def _time_it(h: int, m: int) -> str:
    if h == 0:
        hour = "a mezzanotte"
    elif h == 1:
        hour = "all'una"
    else:
        hour = f"alle {number_words('it', h)}"
    return hour + (f" e {number_words('it', m)}" if m else "")


def _time_fi(h: int, m: int) -> str:
    # "kello neljätoista nolla neljä": minutes below ten are read with a leading zero.
    hour = f"kello {number_words('fi', h)}"
    if m == 0:
        return hour
    return f"{hour} {'nolla ' if m < 10 else ''}{number_words('fi', m)}"


def _time_el(h: int, m: int) -> str:
    # Hours agree with the feminine "ώρα"; one o'clock is singular: "στη μία".
    hour = "στη μία" if h == 1 else f"στις {number_words('el', h, gender='feminine')}"
    return hour + (f" και {number_words('el', m, gender='neuter')}" if m else "")


def _time_ru(h: int, m: int) -> str:
    # "в" takes the accusative: "в четырнадцать часов одну минуту".
    text = f"в {count_words('ru', h, _RU_HOURS, gender='masculine')}"
    if m:
        minutes = count_words("ru", m, _RU_MINUTES, gender="feminine", case="accusative")
        text = f"{text} {minutes}"
    return text


_TIME: dict[str, Callable[[int, int], str]] = {
    "en": _time_en,
    "de": _time_de,
    "it": _time_it,
    "fi": _time_fi,
    "el": _time_el,
    "ru": _time_ru,
}


def _weekday(lang: str, day: dt.date) -> str:
    name = str(_locale(lang).days["format"]["wide"][day.weekday()])
    if lang == "en":
        return f"on {name}"
    if lang == "de":
        return f"am {name}"
    if lang == "el":  # Saturday is neuter: "το Σάββατο", the others "τη(ν) Δευτέρα"
        return f"{'το' if name.endswith('ο') else _greek_feminine_article(name)} {name}"
    if lang == "ru":  # accusative: "в среду", "во вторник"
        accusative = name[:-1] + "у" if name.endswith("а") else name
        return f"{'во' if name.startswith('вт') else 'в'} {accusative}"
    return name  # it: "lunedì"; fi: CLDR's format form is already the essive "maanantaina"


def _greek_feminine_article(word: str) -> str:
    # The final ν of "την" stays before a vowel and before κ π τ ξ ψ (and their clusters).
    keeps_nu = "αάεέηήιίοόυύωώκπτξψ"
    return "την" if word[:1].lower() in keeps_nu else "τη"


def _date(lang: str, day: dt.date) -> str:
    month = str(_locale(lang).months["format"]["wide"][day.month])
    d = day.day
    if lang == "en":
        return f"on {month} {ordinal_words('en', d)}"
    if lang == "de":
        return f"am {ordinal_words('de', d, case='n')} {month}"  # "am zweiten Dezember"
    if lang == "it":
        if d == 1:
            return f"il primo {month}"
        word = number_words("it", d)  # "l'otto", "l'undici", "il due"
        article = "l'" if word[0] in "aeiou" else "il "
        return f"{article}{word} {month}"
    if lang == "fi":
        # Essive like the weekday ("maanantaina"): "toisena joulukuuta", "on the 2nd".
        return f"{ordinal_words('fi', d, case='essive')} {month}"
    if lang == "el":
        if d == 1:
            return f"την πρώτη {month}"
        return f"στις {number_words('el', d, gender='feminine')} {month}"
    # ru: "второго декабря", the ordinal in the neuter genitive (of "число").
    return f"{ordinal_words('ru', d, gender='neuter', case='genitive')} {month}"


def _zone(timezone: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return dt.UTC


def _local(at: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(zone)


def time_text(language: str, at: dt.datetime, timezone: str) -> str:
    """The time of day with its preposition: 'at two oh four p.m.', 'um vierzehn Uhr vier'."""
    lang = _language(language)
    local = _local(at, _zone(timezone))
    return _TIME[lang](local.hour, local.minute)


def when_text(language: str, at: dt.datetime, timezone: str, now: dt.datetime) -> str:
    """When ``at`` was, from the point of view of ``now`` in ``timezone``.

    'today at …', 'yesterday at …', the weekday within the last week, else the day and
    month ('on December second at …'). A naive datetime is taken as UTC.
    """
    lang = _language(language)
    zone = _zone(timezone)
    local = _local(at, zone)
    days = (_local(now, zone).date() - local.date()).days
    if days <= 0:  # a clock a little ahead of ours still means today
        day = _DAYS[lang][0]
    elif days == 1:
        day = _DAYS[lang][1]
    elif days < 7:
        day = _weekday(lang, local.date())
    else:
        day = _date(lang, local.date())
    return f"{day} {_TIME[lang](local.hour, local.minute)}"
