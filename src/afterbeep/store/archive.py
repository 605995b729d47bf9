"""A mailbox as one zip file: its audio plus JSON metadata, to keep on external media or to
move to another installation.

Layout: ``manifest.json`` (format, version, the mailbox's settings, its greetings and messages
with their metadata), ``greetings/<kind>.wav`` and ``messages/<id>.wav`` exactly as stored
(G.711 WAV). PIN hashes are never exported. Importing is idempotent: a message whose id exists
is skipped, so an interrupted import can simply be run again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from afterbeep.store.errors import InvalidValue, NotFound
from afterbeep.store.records import MessageRecord
from afterbeep.store.repository import MailboxOptions, Store

FORMAT = "afterbeep-mailbox"
VERSION = 1
MAX_ENTRY_BYTES = 200 * 1024 * 1024  # a 3-hour message; anything bigger is not ours
# Without the PIN (never exported), whether it must change means nothing.
_NOT_EXPORTED = ("has_pin", "pin_must_change")
# The settings a mailbox created by an import takes from the manifest.
_SETTINGS = (
    "language", "timezone", "max_message_seconds", "min_message_seconds", "max_silence_seconds",
    "max_messages", "warning_mode", "attach_policy", "audio_format", "sms_number",
    "notify_missed",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportResult:
    mailbox: str
    created: bool  # the mailbox did not exist and was made from the manifest
    imported: int
    skipped: int  # already there


async def export_mailbox(store: Store, number: str, path: Path) -> int:
    """Write mailbox ``number`` to the zip file ``path``; the number of messages written."""
    record = await store.get_mailbox(number)
    profile = await store.find_mailbox(number)
    if profile is None:
        raise NotFound(f"no mailbox {number}")
    messages = await store.list_messages(number)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "mailbox": {k: v for k, v in record.to_json().items() if k not in _NOT_EXPORTED},
        "greetings": [],
        "messages": [],
    }
    files: list[tuple[str, bytes]] = []
    for kind, key in sorted(profile.greetings.items()):
        name = f"greetings/{kind.value}.wav"
        files.append((name, await store.read_audio(key)))
        manifest["greetings"].append({"kind": kind.value, "file": name})
    for message in messages:
        name = f"messages/{message.id}.wav"
        files.append((name, await store.read_audio(message.audio_key)))
        manifest["messages"].append({**message.to_json(), "file": name})

    def write() -> None:
        partial = path.with_name(path.name + ".partial")
        with zipfile.ZipFile(partial, "w") as archive:
            archive.writestr(
                "manifest.json",
                json.dumps(manifest, indent=2, ensure_ascii=False),
                compress_type=zipfile.ZIP_DEFLATED,
            )
            for name, data in files:
                archive.writestr(name, data)  # G.711 barely compresses: stored as is
        partial.replace(path)  # a half-written archive never has the final name

    try:
        await asyncio.to_thread(write)
    except OSError as exc:
        raise InvalidValue(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(messages)


async def import_mailbox(store: Store, path: Path, number: str | None = None) -> ImportResult:
    """Load a zip made by ``export_mailbox`` into mailbox ``number`` (default: the exported
    number), creating the mailbox from the manifest when it does not exist."""
    manifest, entries = await asyncio.to_thread(_read, path)
    exported = manifest["mailbox"]
    target = number or str(exported["number"])
    created = False
    try:
        await store.get_mailbox(target)
    except NotFound:
        settings = {k: exported[k] for k in (*_SETTINGS, "emails") if k in exported}
        options = cast(MailboxOptions, settings)  # each value is checked by the store
        await store.add_mailbox(target, str(exported["name"]), **options)
        created = True
    if created:
        for greeting in manifest.get("greetings", []):
            await store.set_greeting(target, greeting["kind"], entries[greeting["file"]])
    imported = skipped = 0
    for item in manifest.get("messages", []):
        try:
            record = MessageRecord.from_json({**item, "mailbox": target}, mailbox_id=0)
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidValue(f"{path}: a message's metadata is malformed: {exc!r}") from None
        if await store.import_message(target, record, entries[item["file"]]):
            imported += 1
        else:
            skipped += 1
    return ImportResult(target, created, imported, skipped)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the files it names; InvalidValue for anything else."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise InvalidValue(f"{path} is not an afterbeep mailbox export (version 1)")
            names = [g["file"] for g in manifest.get("greetings", [])]
            names += [m["file"] for m in manifest.get("messages", [])]
            entries: dict[str, bytes] = {}
            for name in names:
                info = archive.getinfo(name)
                if info.file_size > MAX_ENTRY_BYTES:
                    raise InvalidValue(f"{path}: {name} is too large ({info.file_size} bytes)")
                entries[name] = archive.read(info)
            return manifest, entries
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise InvalidValue(f"cannot read {path}: {exc}") from None
