"""Moving over from Asterisk (app_voicemail, "Comedian Mail") or FreePBX in one command.

Reads ``voicemail.conf`` (``mailbox => pin,full name,email,pager,options`` per context) and the
spool (``<spool>/<context>/<mailbox>/<Folder>/msgNNNN.txt`` with its audio beside it, greetings
``unavail``/``busy``/``temp``/``greet`` in the mailbox folder). Audio becomes the G.711 WAV we
store: Asterisk's ``wav`` (16-bit PCM), ``ulaw`` and ``alaw`` directly; other formats (``gsm``,
``WAV``/wav49) through sox when it is installed. Message ids derive from the spool path, so
running the import again adds only what is new.
"""

from __future__ import annotations

import asyncio
import configparser
import datetime as dt
import logging
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from afterbeep.domain import Codec, DiversionReason, GreetingKind
from afterbeep.media.wav import WavError, encode_wav, read_g711_wav, read_wav
from afterbeep.store.errors import InvalidValue, NotFound, StoreError
from afterbeep.store.records import MessageRecord
from afterbeep.store.repository import Store

log = logging.getLogger(__name__)

FOLDERS = {
    "INBOX": "new", "Old": "old", "Urgent": "new", "Work": "work", "Family": "family",
    "Friends": "friends", "Cust1": "cust1", "Cust2": "cust2", "Cust3": "cust3", "Cust4": "cust4",
}  # fmt: skip
GREETINGS = {
    "unavail": GreetingKind.UNAVAILABLE, "busy": GreetingKind.BUSY,
    "temp": GreetingKind.TEMPORARY, "greet": GreetingKind.NAME,
}  # fmt: skip
# Preferred first: formats we convert without sox.
AUDIO_EXTENSIONS = ("wav", "ulaw", "alaw", "gsm", "WAV", "g722", "sln")
_CALLERID = re.compile(r'^\s*(?:"?(?P<name>[^"<]*?)"?\s*)?<(?P<number>[^>]*)>\s*$')


@dataclass(frozen=True, slots=True)
class AsteriskMailbox:
    context: str
    number: str
    pin: str
    name: str
    emails: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ImportReport:
    mailboxes_created: int = 0
    messages_imported: int = 0
    messages_skipped: int = 0  # imported by an earlier run
    problems: list[str] = field(default_factory=list)  # what was left out, and why


def parse_voicemail_conf(text: str) -> list[AsteriskMailbox]:
    """Every mailbox line of every context (not ``[general]`` or ``[zonemessages]``)."""
    parser = configparser.RawConfigParser(
        delimiters=("=>", "="), comment_prefixes=(";",), inline_comment_prefixes=(";",),
        strict=False, interpolation=None,
    )  # fmt: skip
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep case
    parser.read_string(text)
    mailboxes = []
    for context in parser.sections():
        if context in ("general", "zonemessages"):
            continue
        for number, value in parser.items(context):
            parts = [part.strip() for part in (value or "").split(",", 4)]
            parts += [""] * (5 - len(parts))
            pin, name, email, pager, options = parts
            emails = tuple(e for e in (email, pager) if e)
            opts = dict(item.split("=", 1) for item in re.split(r"[|,]", options) if "=" in item)
            mailboxes.append(
                AsteriskMailbox(context, number.strip(), pin.lstrip("-*"), name, emails, opts)
            )
    return mailboxes


def parse_message_info(text: str) -> dict[str, str]:
    """The ``[message]`` section of a msgNNNN.txt file."""
    parser = configparser.RawConfigParser(comment_prefixes=(";",), strict=False, interpolation=None)
    parser.read_string(text)
    if not parser.has_section("message"):
        raise InvalidValue("no [message] section")
    return dict(parser.items("message"))


def caller_of(callerid: str) -> tuple[str, str]:
    """'"Bob" <5550100>' → ('Bob', '5550100'); a bare number or name is kept as the number."""
    match = _CALLERID.match(callerid)
    if match:
        return (match.group("name") or "").strip(), match.group("number").strip()
    value = callerid.strip().strip('"')
    return "", "" if value.lower() == "unknown" else value


def to_stored_wav(path: Path) -> bytes:
    """An Asterisk audio file as 8 kHz G.711 µ-law WAV; InvalidValue when it cannot be read."""
    kind = path.suffix[1:]
    data = path.read_bytes()
    try:
        if kind == "ulaw":
            return encode_wav(Codec.PCMU, data)
        if kind == "alaw":
            return encode_wav(Codec.PCMA, data)
        if kind == "wav":
            stored = read_g711_wav(data)
            if stored is not None:
                return encode_wav(*stored)
            samples, rate = read_wav(data)
            if rate == 8000:
                return encode_wav(Codec.PCMU, samples)
    except WavError as exc:
        raise InvalidValue(f"{path}: {exc}") from None
    return _with_sox(path)


def _with_sox(path: Path) -> bytes:
    sox = shutil.which("sox")
    if sox is None:
        raise InvalidValue(f"{path}: converting .{path.suffix[1:]} needs sox, not installed")
    kind = "gsm" if path.suffix == ".gsm" else None
    command = [sox, *(["-t", kind] if kind else []), str(path),
               "-t", "wav", "-r", "8000", "-c", "1", "-e", "u-law", "-"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, timeout=120, check=False)
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace").strip()
        raise InvalidValue(f"{path}: sox cannot convert it: {error}")
    stored = read_g711_wav(result.stdout)
    if stored is None:
        raise InvalidValue(f"{path}: sox gave no µ-law WAV")
    return encode_wav(*stored)


def _audio_file(base: Path) -> Path | None:
    for extension in AUDIO_EXTENSIONS:
        candidate = base.with_suffix(f".{extension}")
        if candidate.exists():
            return candidate
    return None


async def import_asterisk(
    store: Store, conf: Path, spool: Path | None, contexts: tuple[str, ...] = ()
) -> ImportReport:
    """Create the mailboxes of ``voicemail.conf`` (PINs hashed) and load their spools."""
    report = ImportReport()
    text = await asyncio.to_thread(conf.read_text, errors="replace")
    for mailbox in parse_voicemail_conf(text):
        if contexts and mailbox.context not in contexts:
            continue
        await _import_mailbox(store, mailbox, spool, report)
    return report


async def _import_mailbox(
    store: Store, box: AsteriskMailbox, spool: Path | None, report: ImportReport
) -> None:
    try:
        await store.get_mailbox(box.number)
    except NotFound:
        try:
            await store.add_mailbox(
                box.number, box.name or box.number, box.pin or None, emails=list(box.emails)
            )
        except InvalidValue as exc:  # a PIN we refuse (too short, not digits): keep the box
            report.problems.append(f"mailbox {box.number}: {exc}; created without a PIN")
            await store.add_mailbox(box.number, box.name or box.number, emails=list(box.emails))
        report.mailboxes_created += 1
    if spool is None:
        return
    folder = spool / box.context / box.number
    for stem, kind in GREETINGS.items():
        audio = _audio_file(folder / stem)
        if audio is not None:
            try:
                wav = await asyncio.to_thread(to_stored_wav, audio)
                await store.set_greeting(box.number, kind, wav)
            except StoreError as exc:
                report.problems.append(f"greeting {audio}: {exc}")
    for name, target in FOLDERS.items():
        for info in sorted((folder / name).glob("msg[0-9][0-9][0-9][0-9].txt")):
            await _import_message(store, box, info, target, name == "Urgent", report)


async def _import_message(
    store: Store,
    box: AsteriskMailbox,
    info: Path,
    folder: str,
    urgent: bool,
    report: ImportReport,
) -> None:
    audio = _audio_file(info.with_suffix(""))
    if audio is None:
        report.problems.append(f"{info}: no audio file beside it")
        return
    try:
        fields = parse_message_info(await asyncio.to_thread(info.read_text, errors="replace"))
        wav = await asyncio.to_thread(to_stored_wav, audio)
        name, number = caller_of(fields.get("callerid", ""))
        received = dt.datetime.fromtimestamp(int(fields.get("origtime", "0")), dt.UTC)
        key = f"asterisk:{box.context}/{box.number}/{info.parent.name}/{info.stem}"
        record = MessageRecord(
            id=uuid.uuid5(uuid.NAMESPACE_URL, key + "/" + fields.get("msg_id", "")),
            mailbox_id=0,
            mailbox=box.number,
            folder=folder,
            caller_number=number,
            caller_name=name,
            called_number=fields.get("origmailbox", box.number),
            reason=DiversionReason.UNKNOWN,
            received_at=received,
            duration_seconds=0.0,  # measured from the audio on import
            codec=Codec.PCMU,
            urgent=urgent or "Urgent" in fields.get("flag", ""),
            heard_at=received if folder != "new" else None,
            call_id=fields.get("msg_id", info.stem),
            audio_key="",
        )
        if await store.import_message(box.number, record, wav):
            report.messages_imported += 1
        else:
            report.messages_skipped += 1
    except (StoreError, ValueError, OSError) as exc:
        report.problems.append(f"{info}: {exc}")
