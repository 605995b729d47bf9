"""Localized texts and values for notifications: numbers, times, durations, labels.

Pure: no I/O, no clock. Every function accepts what a mailbox's settings may hold (any BCP 47
tag, any zone name) and falls back instead of raising: a notification with an English date
is better than no notification. Texts exist in en, de, it, fi, el and ru.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from babel.units import format_unit

from afterbeep.domain import DiversionReason
from afterbeep.notify.content import Notice

__all__ = [
    "LANGUAGES",
    "caller_text",
    "clean_text",
    "format_duration",
    "format_number",
    "format_when",
    "label",
    "label_count",
    "language_of",
    "reason_text",
]

LANGUAGES = ("en", "de", "it", "fi", "el", "ru")
_DEFAULT = "en"

# Only digits, an optional leading '+' and the usual separators: phonenumbers would otherwise
# read letters as a vanity number ("anonymous" -> 266669687).
_DIALLABLE = re.compile(r"\+?[0-9][0-9 ()./-]*")
# What carriers and PBXs put in the From user part when the number is withheld.
_WITHHELD = frozenset({"anonymous", "unknown", "unavailable", "restricted", "private"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def language_of(language: str) -> str:
    """The catalogue language for a BCP 47 tag: 'de-AT' -> 'de'; anything else -> 'en'."""
    primary = language.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else _DEFAULT


def _locale(language: str) -> Locale:
    """The Babel locale for a tag, keeping its region ('de-AT' dates differ from 'de')."""
    for candidate in (language.replace("_", "-"), language_of(language)):
        try:
            return Locale.parse(candidate, sep="-")
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    return Locale.parse(_DEFAULT)


def format_number(number: str, region: str = "US") -> str:
    """A phone number for people to read; anything that is not one comes back unchanged.

    A number signalled in international form ('+49…', or with the region's exit code such as
    '011…') is shown INTERNATIONAL ('+49 30 123456'). A number signalled in the national form
    of ``region`` is shown NATIONAL ('(202) 555-0123'): the reader shares the mailbox's country
    and can dial it exactly as shown. National input must be a valid number (so extensions
    like '1001' stay as they are, even where they would be "possible" local numbers); for
    international input a possible number suffices (reserved test ranges such as +1 555…).
    """
    text = number.strip()
    if not _DIALLABLE.fullmatch(text):
        return number
    try:
        parsed = phonenumbers.parse(text, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return number
    national = parsed.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY
    if national:
        if not phonenumbers.is_valid_number(parsed):
            return number
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    if not phonenumbers.is_possible_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _zone(timezone: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return dt.UTC


def format_when(at: dt.datetime, timezone: str, language: str, *, style: str = "long") -> str:
    """``at`` as local date and time in ``timezone``, written the way ``language`` writes it.

    ``long``: full date and minutes ('Tuesday, March 5, 2024, 2:02 PM'), for e-mail;
    ``short``: '3/5/24, 2:02 PM'; ``time``: '2:02 PM' / '14:02'; ``date``: 'March 5, 2024'
    (the form that follows 'on'/'ab'/'с' in each language). Seconds are left out: a
    voicemail's start to the second is noise. A naive ``at`` is taken as UTC; an unknown
    style is treated as ``long``.
    """
    locale = _locale(language)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    local = at.astimezone(_zone(timezone))
    if style == "date":
        return format_date(local, "long", locale=locale)
    time = format_time(local, "short", locale=locale)
    if style == "time":
        return time
    width = "short" if style == "short" else "full"
    date = format_date(local, width, locale=locale)
    # CLDR's pattern for gluing a date and a time ('{1}, {0}', '{1} klo {0}', …).
    glue = str(locale.datetime_formats.get(width, "{1} {0}"))
    return glue.replace("{1}", date).replace("{0}", time).replace("'", "")


def format_duration(seconds: float, language: str) -> str:
    """A message length in words, '1 minute 5 seconds', with CLDR plurals per language."""
    locale = _locale(language)
    total = round(seconds) if math.isfinite(seconds) and seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        format_unit(value, unit, length="long", locale=locale)
        for value, unit in (
            (hours, "duration-hour"),
            (minutes, "duration-minute"),
            (secs, "duration-second"),
        )
        if value
    ]
    return " ".join(parts) or format_unit(0, "duration-second", length="long", locale=locale)


_REASONS: dict[str, dict[DiversionReason, str]] = {
    "en": {
        DiversionReason.BUSY: "busy",
        DiversionReason.NO_ANSWER: "no answer",
        DiversionReason.UNAVAILABLE: "unavailable",
        DiversionReason.UNCONDITIONAL: "unconditional forwarding",
        DiversionReason.UNKNOWN: "forwarded",
        DiversionReason.DIRECT: "direct call",
    },
    "de": {
        DiversionReason.BUSY: "besetzt",
        DiversionReason.NO_ANSWER: "keine Antwort",
        DiversionReason.UNAVAILABLE: "nicht erreichbar",
        DiversionReason.UNCONDITIONAL: "ständige Rufumleitung",
        DiversionReason.UNKNOWN: "umgeleitet",
        DiversionReason.DIRECT: "direkter Anruf",
    },
    "it": {
        DiversionReason.BUSY: "occupato",
        DiversionReason.NO_ANSWER: "nessuna risposta",
        DiversionReason.UNAVAILABLE: "non raggiungibile",
        DiversionReason.UNCONDITIONAL: "deviazione incondizionata",
        DiversionReason.UNKNOWN: "chiamata deviata",
        DiversionReason.DIRECT: "chiamata diretta",
    },
    "fi": {
        DiversionReason.BUSY: "varattu",
        DiversionReason.NO_ANSWER: "ei vastausta",
        DiversionReason.UNAVAILABLE: "ei tavoitettavissa",
        DiversionReason.UNCONDITIONAL: "ehdoton soitonsiirto",
        DiversionReason.UNKNOWN: "siirretty puhelu",
        DiversionReason.DIRECT: "suora puhelu",
    },
    "el": {
        DiversionReason.BUSY: "κατειλημμένο",
        DiversionReason.NO_ANSWER: "δεν απαντά",
        DiversionReason.UNAVAILABLE: "μη διαθέσιμο",
        DiversionReason.UNCONDITIONAL: "άνευ όρων προώθηση",
        DiversionReason.UNKNOWN: "προωθημένη κλήση",
        DiversionReason.DIRECT: "απευθείας κλήση",
    },
    "ru": {
        DiversionReason.BUSY: "занято",
        DiversionReason.NO_ANSWER: "нет ответа",
        DiversionReason.UNAVAILABLE: "абонент недоступен",
        DiversionReason.UNCONDITIONAL: "безусловная переадресация",
        DiversionReason.UNKNOWN: "переадресованный вызов",
        DiversionReason.DIRECT: "прямой вызов",
    },
}


def reason_text(reason: DiversionReason, language: str) -> str:
    """Why the call reached voicemail, as a short lower-case phrase."""
    return _REASONS[language_of(language)][reason]


# Placeholders are the same in every language; a test checks that. Finnish, Greek and Russian
# put the caller after a colon instead of a preposition: "от"/"από"/"-lta" would need the
# caller's name in another case, which a template cannot decline.
_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "subject_locked": "Dial-in access to {mailbox} is locked",
        "locked_heading": "Mailbox locked",
        "subject_expiring": "Voicemail in {mailbox} will soon be deleted",
        "expiring_heading": "Messages will be deleted soon",
        "subject_full": "Your mailbox {mailbox} is full",
        "full_heading": "Mailbox full",
        "mailbox_full": (
            "Callers can no longer leave messages in {mailbox}: it has reached its "
            "maximum number of messages or of recorded minutes. Delete some to make room."
        ),
        "subject_message": "New voicemail from {caller}",
        "subject_urgent": "Urgent voicemail from {caller}",
        "subject_missed": "Missed call from {caller}",
        "new_message": "New voicemail",
        "missed_heading": "Missed call",
        "missed_call": "{caller} tried to reach you at {time}",
        "from": "From",
        "called": "Called number",
        "to_mailbox": "Mailbox",
        "received": "Received",
        "duration": "Duration",
        "reason": "Reason",
        "urgent": "Urgent",
        "transcript": "Transcript",
        "listen": "Listen to the message",
        "attached": "The message is attached as an audio file.",
        "unknown_caller": "Unknown caller",
        "sms_message": "Voicemail from {caller}, {time}, {duration}",
        "sms_missed": "Missed call from {caller}, {time}",
        "footer": "This e-mail was sent automatically by afterbeep.",
        "test_subject": "afterbeep test message",
        "test_body": "This is a test message from afterbeep. "
        "If you can read it, e-mail notifications work.",
    },
    "de": {
        "subject_locked": "Telefonzugang zu {mailbox} gesperrt",
        "locked_heading": "Postfach gesperrt",
        "subject_expiring": "Sprachnachrichten in {mailbox} werden bald gelöscht",
        "expiring_heading": "Nachrichten werden bald gelöscht",
        "subject_full": "Ihr Postfach {mailbox} ist voll",
        "full_heading": "Postfach voll",
        "mailbox_full": (
            "Anrufer können in {mailbox} keine Nachrichten mehr hinterlassen, weil es "
            "die höchste Zahl an Nachrichten oder Aufnahmeminuten erreicht hat. Löschen "
            "Sie einige, um Platz zu schaffen."
        ),
        "subject_message": "Neue Sprachnachricht von {caller}",
        "subject_urgent": "Dringende Sprachnachricht von {caller}",
        "subject_missed": "Verpasster Anruf von {caller}",
        "new_message": "Neue Sprachnachricht",
        "missed_heading": "Verpasster Anruf",
        "missed_call": "{caller} hat versucht, Sie um {time} zu erreichen",
        "from": "Von",
        "called": "Angerufene Nummer",
        "to_mailbox": "Mailbox",
        "received": "Empfangen",
        "duration": "Dauer",
        "reason": "Grund",
        "urgent": "Dringend",
        "transcript": "Transkription",
        "listen": "Nachricht anhören",
        "attached": "Die Nachricht ist als Audiodatei angehängt.",
        "unknown_caller": "Unbekannter Anrufer",
        "sms_message": "Sprachnachricht von {caller}, {time}, {duration}",
        "sms_missed": "Verpasster Anruf von {caller}, {time}",
        "footer": "Diese E-Mail wurde automatisch von afterbeep versandt.",
        "test_subject": "afterbeep-Testnachricht",
        "test_body": "Dies ist eine Testnachricht von afterbeep. "
        "Wenn Sie sie lesen können, funktionieren die E-Mail-Benachrichtigungen.",
    },
    "it": {
        "subject_locked": "Accesso telefonico a {mailbox} bloccato",
        "locked_heading": "Casella bloccata",
        "subject_expiring": "Messaggi vocali in {mailbox} saranno presto eliminati",
        "expiring_heading": "Messaggi in scadenza",
        "subject_full": "La tua casella {mailbox} è piena",
        "full_heading": "Casella piena",
        "mailbox_full": (
            "Chi chiama non può più lasciare messaggi in {mailbox}: ha raggiunto il "
            "numero massimo di messaggi o di minuti registrati. Eliminane alcuni per fare "
            "spazio."
        ),
        "subject_message": "Nuovo messaggio vocale da {caller}",
        "subject_urgent": "Messaggio vocale urgente da {caller}",
        "subject_missed": "Chiamata persa da {caller}",
        "new_message": "Nuovo messaggio vocale",
        "missed_heading": "Chiamata persa",
        "missed_call": "{caller} ha cercato di contattarti alle {time}",
        "from": "Da",
        "called": "Numero chiamato",
        "to_mailbox": "Casella vocale",
        "received": "Ricevuto",
        "duration": "Durata",
        "reason": "Motivo",
        "urgent": "Urgente",
        "transcript": "Trascrizione",
        "listen": "Ascolta il messaggio",
        "attached": "Il messaggio è allegato come file audio.",
        "unknown_caller": "Chiamante sconosciuto",
        "sms_message": "Messaggio vocale da {caller}, {time}, {duration}",
        "sms_missed": "Chiamata persa da {caller}, {time}",
        "footer": "Questa e-mail è stata inviata automaticamente da afterbeep.",
        "test_subject": "Messaggio di prova di afterbeep",
        "test_body": "Questo è un messaggio di prova di afterbeep. "
        "Se riesci a leggerlo, le notifiche via e-mail funzionano.",
    },
    "fi": {
        "subject_locked": "Vastaajan {mailbox} puhelinkäyttö on estetty",
        "locked_heading": "Vastaaja estetty",
        "subject_expiring": "Vastaajan {mailbox} viestejä poistetaan pian",
        "expiring_heading": "Viestejä poistetaan pian",
        "subject_full": "Vastaajasi {mailbox} on täynnä",
        "full_heading": "Vastaaja täynnä",
        "mailbox_full": (
            "Soittajat eivät voi enää jättää viestejä vastaajaan {mailbox}, koska "
            "siinä on jo suurin sallittu määrä viestejä tai tallennusminuutteja. Poista "
            "viestejä, jotta tilaa vapautuu."
        ),
        "subject_message": "Uusi ääniviesti: {caller}",
        "subject_urgent": "Kiireellinen ääniviesti: {caller}",
        "subject_missed": "Vastaamaton puhelu: {caller}",
        "new_message": "Uusi ääniviesti",
        "missed_heading": "Vastaamaton puhelu",
        "missed_call": "{caller} yritti tavoittaa sinua klo {time}",
        "from": "Soittaja",
        "called": "Soitettu numero",
        "to_mailbox": "Vastaaja",
        "received": "Vastaanotettu",
        "duration": "Kesto",
        "reason": "Syy",
        "urgent": "Kiireellinen",
        "transcript": "Litterointi",
        "listen": "Kuuntele viesti",
        "attached": "Viesti on liitteenä äänitiedostona.",
        "unknown_caller": "Tuntematon soittaja",
        "sms_message": "Ääniviesti: {caller}, {time}, {duration}",
        "sms_missed": "Vastaamaton puhelu: {caller}, {time}",
        "footer": "afterbeep lähetti tämän sähköpostin automaattisesti.",
        "test_subject": "afterbeep-testiviesti",
        "test_body": "Tämä on afterbeepin testiviesti. "
        "Jos näet tämän, sähköposti-ilmoitukset toimivat.",
    },
    "el": {
        "subject_locked": "Η τηλεφωνική πρόσβαση στον τηλεφωνητή {mailbox} κλειδώθηκε",
        "locked_heading": "Ο τηλεφωνητής κλειδώθηκε",
        "subject_expiring": "Μηνύματα στον τηλεφωνητή {mailbox} θα διαγραφούν σύντομα",
        "expiring_heading": "Μηνύματα θα διαγραφούν σύντομα",
        "subject_full": "Ο τηλεφωνητής σας {mailbox} είναι γεμάτος",
        "full_heading": "Ο τηλεφωνητής είναι γεμάτος",
        "mailbox_full": (
            "Όσοι καλούν δεν μπορούν πια να αφήσουν μηνύματα στον τηλεφωνητή "
            "{mailbox}, γιατί έφτασε τον μέγιστο αριθμό μηνυμάτων ή λεπτών ηχογράφησης. "
            "Διαγράψτε μερικά για να ελευθερωθεί χώρος."
        ),
        "subject_message": "Νέο φωνητικό μήνυμα: {caller}",
        "subject_urgent": "Επείγον φωνητικό μήνυμα: {caller}",
        "subject_missed": "Αναπάντητη κλήση: {caller}",
        "new_message": "Νέο φωνητικό μήνυμα",
        "missed_heading": "Αναπάντητη κλήση",
        "missed_call": "{caller} προσπάθησε να σας καλέσει στις {time}",
        "from": "Από",
        "called": "Αριθμός που κλήθηκε",
        "to_mailbox": "Τηλεφωνητής",
        "received": "Ελήφθη",
        "duration": "Διάρκεια",
        "reason": "Αιτία",
        "urgent": "Επείγον",
        "transcript": "Απομαγνητοφώνηση",
        "listen": "Ακρόαση μηνύματος",
        "attached": "Το μήνυμα επισυνάπτεται ως αρχείο ήχου.",
        "unknown_caller": "Άγνωστος καλών",
        "sms_message": "Φωνητικό μήνυμα: {caller}, {time}, {duration}",
        "sms_missed": "Αναπάντητη κλήση: {caller}, {time}",
        "footer": "Αυτό το email στάλθηκε αυτόματα από το afterbeep.",
        "test_subject": "Δοκιμαστικό μήνυμα afterbeep",
        "test_body": "Αυτό είναι ένα δοκιμαστικό μήνυμα από το afterbeep. "
        "Αν μπορείτε να το διαβάσετε, οι ειδοποιήσεις μέσω email λειτουργούν.",
    },
    "ru": {
        "subject_locked": "Доступ по телефону к ящику {mailbox} заблокирован",
        "locked_heading": "Ящик заблокирован",
        "subject_expiring": "Сообщения в ящике {mailbox} скоро будут удалены",
        "expiring_heading": "Сообщения скоро будут удалены",
        "subject_full": "Ваш почтовый ящик {mailbox} переполнен",
        "full_heading": "Почтовый ящик переполнен",
        "mailbox_full": (
            "Звонящие больше не могут оставлять сообщения в ящике {mailbox}: в нём "
            "уже максимальное число сообщений или минут записи. Удалите часть "
            "сообщений, чтобы освободить место."
        ),
        "subject_message": "Новое голосовое сообщение: {caller}",
        "subject_urgent": "Срочное голосовое сообщение: {caller}",
        "subject_missed": "Пропущенный вызов: {caller}",
        "new_message": "Новое голосовое сообщение",
        "missed_heading": "Пропущенный вызов",
        # Gender-neutral on purpose: "пытался/пыталась" would need the caller's gender.
        "missed_call": "Пропущенный вызов в {time}: {caller}",
        "from": "От",
        "called": "Вызываемый номер",
        "to_mailbox": "Голосовой ящик",
        "received": "Получено",
        "duration": "Длительность",
        "reason": "Причина",
        "urgent": "Срочно",
        "transcript": "Расшифровка",
        "listen": "Прослушать сообщение",
        "attached": "Сообщение приложено в виде аудиофайла.",
        "unknown_caller": "Неизвестный абонент",
        "sms_message": "Голосовое сообщение: {caller}, {time}, {duration}",
        "sms_missed": "Пропущенный вызов: {caller}, {time}",
        "footer": "Это письмо отправлено автоматически сервером afterbeep.",
        "test_subject": "Тестовое сообщение afterbeep",
        "test_body": "Это тестовое сообщение от afterbeep. "
        "Если вы его видите, уведомления по электронной почте работают.",
    },
}


# Where "from {caller}" cannot take the nominative "Unknown caller" ("from Unknown caller",
# "von Unbekannter Anrufer"), the whole text is written again for that case.
_UNKNOWN_CALLER: dict[str, dict[str, str]] = {
    "en": {
        "subject_message": "New voicemail from an unknown caller",
        "subject_urgent": "Urgent voicemail from an unknown caller",
        "subject_missed": "Missed call from an unknown caller",
        "missed_call": "An unknown caller tried to reach you at {time}",
        "sms_message": "Voicemail from an unknown caller, {time}, {duration}",
        "sms_missed": "Missed call from an unknown caller, {time}",
    },
    "de": {
        "subject_message": "Neue Sprachnachricht von einem unbekannten Anrufer",
        "subject_urgent": "Dringende Sprachnachricht von einem unbekannten Anrufer",
        "subject_missed": "Verpasster Anruf von einem unbekannten Anrufer",
        "missed_call": "Ein unbekannter Anrufer hat versucht, Sie um {time} zu erreichen",
        "sms_message": "Sprachnachricht von einem unbekannten Anrufer, {time}, {duration}",
        "sms_missed": "Verpasster Anruf von einem unbekannten Anrufer, {time}",
    },
    "it": {
        "subject_message": "Nuovo messaggio vocale da un chiamante sconosciuto",
        "subject_urgent": "Messaggio vocale urgente da un chiamante sconosciuto",
        "subject_missed": "Chiamata persa da un chiamante sconosciuto",
        "missed_call": "Un chiamante sconosciuto ha cercato di contattarti alle {time}",
        "sms_message": "Messaggio vocale da un chiamante sconosciuto, {time}, {duration}",
        "sms_missed": "Chiamata persa da un chiamante sconosciuto, {time}",
    },
}


def label(key: str, language: str, **values: str) -> str:
    """A catalogue text in ``language`` (English when missing), placeholders filled in.

    When ``caller`` is the localized "Unknown caller" (as ``caller_text`` gives it), a text
    written for that case is used where the language needs one. Raises ``KeyError`` for a
    key the catalogue does not have (a programming error) and for a missing placeholder.
    """
    lang = language_of(language)
    template = _LABELS[lang].get(key) or _LABELS[_DEFAULT][key]
    if values.get("caller") == _LABELS[lang]["unknown_caller"]:
        template = _UNKNOWN_CALLER.get(lang, {}).get(key, template)
    return template.format_map(values) if values else template


# Texts that agree with a count, by CLDR plural category ('one', 'few', 'many', 'other');
# '{count}' is the number as the language writes it. A missing category takes 'other'.
_COUNTED: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "mailbox_locked": {
            "one": (
                "After 1 wrong PIN, from {caller} at {time}, dial-in access to {mailbox} is "
                "locked for {duration}. If this was not you, someone may be trying to guess your "
                "PIN: choose a longer one."
            ),
            "other": (
                "After {count} wrong PINs, the last from {caller} at {time}, dial-in access to "
                "{mailbox} is locked for {duration}. If this was not you, someone may be trying "
                "to guess your PIN: choose a longer one."
            ),
        },
        "messages_expiring": {
            "one": "1 message in {mailbox} will be deleted on or after {date}, when its "
            "retention period ends. Download it if you want to keep it.",
            "other": "{count} messages in {mailbox} will be deleted on or after {date}, when "
            "their retention period ends. Download any you want to keep.",
        },
    },
    "de": {
        "mailbox_locked": {
            "one": (
                "Nach 1 falschen PIN-Eingabe (von {caller} um {time}) ist der Telefonzugang zu "
                "{mailbox} für {duration} gesperrt. Wenn Sie das nicht waren, versucht vielleicht"
                " jemand, Ihre PIN zu erraten: Wählen Sie eine längere."
            ),
            "other": (
                "Nach {count} falschen PIN-Eingaben (zuletzt von {caller} um {time}) ist der "
                "Telefonzugang zu {mailbox} für {duration} gesperrt. Wenn Sie das nicht waren, "
                "versucht vielleicht jemand, Ihre PIN zu erraten: Wählen Sie eine längere."
            ),
        },
        "messages_expiring": {
            "one": "1 Nachricht in {mailbox} wird ab dem {date} gelöscht, weil ihre "
            "Aufbewahrungsfrist endet. Laden Sie sie herunter, wenn Sie sie behalten möchten.",
            "other": "{count} Nachrichten in {mailbox} werden ab dem {date} gelöscht, weil ihre "
            "Aufbewahrungsfrist endet. Laden Sie herunter, was Sie behalten möchten.",
        },
    },
    "it": {
        "mailbox_locked": {
            "one": (
                "Dopo 1 PIN errato (da {caller} alle {time}), l'accesso telefonico a {mailbox} è "
                "bloccato per {duration}. Se non eri tu, qualcuno potrebbe cercare di indovinare "
                "il tuo PIN: scegline uno più lungo."
            ),
            "other": (
                "Dopo {count} PIN errati (l'ultimo da {caller} alle {time}), l'accesso telefonico"
                " a {mailbox} è bloccato per {duration}. Se non eri tu, qualcuno potrebbe cercare"
                " di indovinare il tuo PIN: scegline uno più lungo."
            ),
        },
        "messages_expiring": {
            "one": "1 messaggio in {mailbox} sarà eliminato a partire dal {date}, alla scadenza "
            "del periodo di conservazione. Scaricalo se vuoi conservarlo.",
            "other": "{count} messaggi in {mailbox} saranno eliminati a partire dal {date}, alla "
            "scadenza del periodo di conservazione. Scarica quelli che vuoi conservare.",
        },
    },
    "fi": {
        "mailbox_locked": {
            "one": (
                "{count} väärän PIN-koodin jälkeen ({caller} klo {time}) vastaajan {mailbox} "
                "puhelinkäyttö on estetty. Eston kesto: {duration}. Jos se et ollut sinä, joku "
                "saattaa yrittää arvata PIN-koodisi: valitse pidempi."
            ),
            "other": (
                "{count} väärän PIN-koodin jälkeen (viimeisin: {caller} klo {time}) vastaajan "
                "{mailbox} puhelinkäyttö on estetty. Eston kesto: {duration}. Jos se et ollut "
                "sinä, joku saattaa yrittää arvata PIN-koodisi: valitse pidempi."
            ),
        },
        "messages_expiring": {
            "one": "1 viesti vastaajassa {mailbox} poistetaan {date} alkaen, kun sen "
            "säilytysaika päättyy. Lataa se, jos haluat säilyttää sen.",
            "other": "{count} viestiä vastaajassa {mailbox} poistetaan {date} alkaen, kun niiden "
            "säilytysaika päättyy. Lataa ne, jotka haluat säilyttää.",
        },
    },
    "el": {
        "mailbox_locked": {
            "one": (
                "Μετά από 1 λανθασμένο PIN (από {caller} στις {time}), η τηλεφωνική πρόσβαση στον"
                " τηλεφωνητή {mailbox} κλειδώθηκε για {duration}. Αν δεν ήσασταν εσείς, ίσως "
                "κάποιος προσπαθεί να μαντέψει το PIN σας: επιλέξτε ένα μεγαλύτερο."
            ),
            "other": (
                "Μετά από {count} λανθασμένα PIN (το τελευταίο από {caller} στις {time}), η "
                "τηλεφωνική πρόσβαση στον τηλεφωνητή {mailbox} κλειδώθηκε για {duration}. Αν δεν "
                "ήσασταν εσείς, ίσως κάποιος προσπαθεί να μαντέψει το PIN σας: επιλέξτε ένα "
                "μεγαλύτερο."
            ),
        },
        "messages_expiring": {
            "one": "1 μήνυμα στον τηλεφωνητή {mailbox} θα διαγραφεί από τις {date}, όταν λήξει "
            "η περίοδος διατήρησής του. Κατεβάστε το αν θέλετε να το κρατήσετε.",
            "other": "{count} μηνύματα στον τηλεφωνητή {mailbox} θα διαγραφούν από τις {date}, "
            "όταν λήξει η περίοδος διατήρησής τους. Κατεβάστε όσα θέλετε να κρατήσετε.",
        },
    },
    "ru": {
        "mailbox_locked": {
            "one": (
                "После {count} неверного PIN-кода (от {caller} в {time}) доступ по телефону к "
                "ящику {mailbox} заблокирован на {duration}. Если это были не вы, возможно, "
                "кто-то пытается подобрать ваш PIN-код: выберите более длинный."
            ),
            "other": (
                "После {count} неверных PIN-кодов (последний — от {caller} в {time}) доступ по "
                "телефону к ящику {mailbox} заблокирован на {duration}. Если это были не вы, "
                "возможно, кто-то пытается подобрать ваш PIN-код: выберите более длинный."
            ),
        },
        "messages_expiring": {
            "one": "{count} сообщение в ящике {mailbox} будет удалено начиная с {date}, когда "
            "закончится срок его хранения. Скачайте его, если хотите сохранить.",
            "few": "{count} сообщения в ящике {mailbox} будут удалены начиная с {date}, когда "
            "закончится срок их хранения. Скачайте те, которые хотите сохранить.",
            "many": "{count} сообщений в ящике {mailbox} будут удалены начиная с {date}, когда "
            "закончится срок их хранения. Скачайте те, которые хотите сохранить.",
            "other": "{count} сообщения в ящике {mailbox} будут удалены начиная с {date}, когда "
            "закончится срок их хранения. Скачайте те, которые хотите сохранить.",
        },
    },
}


def label_count(key: str, language: str, count: int, **values: str) -> str:
    """A catalogue text that agrees with ``count`` (CLDR plural rules of ``language``)."""
    lang = language_of(language)
    locale = _locale(language)
    forms = _COUNTED[lang].get(key) or _COUNTED[_DEFAULT][key]
    template = forms.get(locale.plural_form(count)) or forms["other"]
    return template.format_map({**values, "count": format_decimal(count, locale=locale)})


def clean_text(text: str) -> str:
    """Control characters (CR, LF, NUL, …) as single spaces, ends trimmed: SIP display names
    reach e-mail headers and SMS bodies, where a line break could start a new header."""
    return _CONTROL.sub(" ", text).strip()


def caller_text(notice: Notice, region: str = "US", language: str = "en") -> str:
    """Who called: 'Alice Example (+1 202-555-0123)', the number or name alone, or the
    localized 'Unknown caller' when the number is withheld and no name was given."""
    name = clean_text(notice.caller_name)
    raw = clean_text(notice.caller_number)
    number = "" if raw.lower() in _WITHHELD else format_number(raw, region)
    if name.lower() in _WITHHELD:
        name = ""
    if name and number and name not in (raw, number):
        return f"{name} ({number})"
    return number or name or label("unknown_caller", language)
