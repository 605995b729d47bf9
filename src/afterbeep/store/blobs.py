"""Audio blobs: files under the data folder, and recordings appended while a call runs.

The blob interface is kept to read / write / delete / exists so an object store can take its
place later; recordings stay local files (a spool) because they grow while the call runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from afterbeep.domain import CallerInfo, Codec, DiversionReason
from afterbeep.media.wav import header_size, wav_header
from afterbeep.store.errors import InvalidValue, NotFound

PENDING_SUFFIX = ".pending.json"


class FileBlobStore:
    """Blobs as files under ``root``, named by relative keys such as ``messages/3/<uuid>.wav``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        """The file for ``key``; a key that could leave the root is refused."""
        if not key or "\\" in key or "\0" in key:
            raise InvalidValue(f"invalid blob key {key!r}")
        pure = PurePosixPath(key)
        if pure.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
            raise InvalidValue(
                f"invalid blob key {key!r}: must be a relative path inside the store"
            )
        path = self.root.joinpath(*pure.parts)
        # A symbolic link inside the root could still point outside it.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidValue(f"invalid blob key {key!r}: leaves the store")
        return path

    def read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"no audio stored under {key!r}") from None

    def write(self, key: str, data: bytes) -> None:
        """Replace the blob atomically: readers see the old file or the new one, never half."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        """Remove the blob; a missing one is not an error (deletes are retried after crashes)."""
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


@dataclass(frozen=True, slots=True)
class PendingRecording:
    """What the sidecar file holds: all a restart needs to commit the message it describes."""

    id: uuid.UUID
    mailbox_id: int
    mailbox_number: str
    caller: CallerInfo
    codec: Codec
    started_at: dt.datetime  # UTC
    key: str  # blob key of the WAV file

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "id": str(self.id),
            "mailbox_id": self.mailbox_id,
            "mailbox_number": self.mailbox_number,
            "caller_number": self.caller.caller_number,
            "caller_name": self.caller.caller_name,
            "called_number": self.caller.called_number,
            "reason": self.caller.reason.value,
            "call_id": self.caller.call_id,
            "codec": self.codec.value,
            "started_at": self.started_at.isoformat(),
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingRecording:
        try:
            started_at = dt.datetime.fromisoformat(data["started_at"])
            if started_at.tzinfo is None:
                raise ValueError("started_at has no time zone")
            return cls(
                id=uuid.UUID(data["id"]),
                mailbox_id=int(data["mailbox_id"]),
                mailbox_number=str(data["mailbox_number"]),
                caller=CallerInfo(
                    caller_number=str(data["caller_number"]),
                    caller_name=str(data["caller_name"]),
                    called_number=str(data["called_number"]),
                    reason=DiversionReason(data["reason"]),
                    call_id=str(data["call_id"]),
                ),
                codec=Codec(data["codec"]),
                started_at=started_at.astimezone(dt.UTC),
                key=str(data["key"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidValue(f"unreadable pending recording: {exc}") from None


def sidecar_path(wav_path: Path) -> Path:
    """``<uuid>.wav`` → ``<uuid>.pending.json`` beside it."""
    return wav_path.with_name(wav_path.stem + PENDING_SUFFIX)


class RecordingFile:
    """A message being recorded (satisfies ``flows.ports.RecordingSink``).

    The WAV file starts with a placeholder header of constant size; ``flush`` appends the
    buffered audio with a plain ``os.write`` so a crash of the process loses at most the last
    second, and ``close`` patches the sizes into the header and fsyncs once. The sidecar is
    written before the audio file exists, so no audio file is ever left without one.
    """

    def __init__(self, path: Path, pending: PendingRecording) -> None:
        self.path = path
        self.sidecar = sidecar_path(path)
        self.pending = pending
        self._buffer = bytearray()
        self._bytes_written = 0
        self._data_on_disk = 0
        self._committed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        # No fsync here: this runs on the event loop at call start, and a process crash keeps
        # what the kernel has. The single fsync comes at close.
        _write_text_atomically(self.sidecar, json.dumps(pending.to_json()))
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            _write_all(self._fd, wav_header(pending.codec, 0))
        except BaseException:
            self.sidecar.unlink(missing_ok=True)
            raise

    @property
    def id(self) -> uuid.UUID:
        return self.pending.id

    @property
    def bytes_written(self) -> int:
        """Audio bytes accepted so far, flushed or not (8000 per second of G.711)."""
        return self._bytes_written

    @property
    def committed(self) -> bool:
        return self._committed

    @property
    def closed(self) -> bool:
        return self._fd is None

    @property
    def duration_seconds(self) -> float:
        return self._bytes_written / 8000

    def write(self, payload: bytes) -> None:
        if self._fd is None:
            raise ValueError("write to a closed recording")
        self._buffer += payload
        self._bytes_written += len(payload)

    def flush(self) -> None:
        if self._fd is None or not self._buffer:
            return
        _write_all(self._fd, self._buffer)
        self._data_on_disk += len(self._buffer)
        self._buffer.clear()

    def close(self) -> None:
        """Flush, write the final header, fsync and close; a second call does nothing."""
        if self._fd is None:
            return
        fd = self._fd
        try:
            self.flush()
            if self._data_on_disk & 1:
                os.write(fd, b"\0")  # RIFF pads odd-sized chunks; the header counts the pad
            os.pwrite(fd, wav_header(self.pending.codec, self._data_on_disk), 0)
            os.fsync(fd)
        finally:
            self._fd = None
            os.close(fd)

    def abort(self) -> None:
        """Close without finishing, and remove the audio file and the sidecar."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        self._buffer.clear()
        self.path.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)

    def mark_committed(self) -> None:
        """The message row is in the database: nothing is left to recover."""
        self._committed = True
        self.sidecar.unlink(missing_ok=True)


def finish_orphaned_recording(path: Path, codec: Codec) -> int:
    """Patch the header of a recording a crash left open from its real size; the data size."""
    with contextlib.suppress(FileNotFoundError):
        size = path.stat().st_size
        data_bytes = max(0, size - header_size(codec))
        fd = os.open(path, os.O_WRONLY)
        try:
            if size < header_size(codec):
                os.ftruncate(fd, 0)  # died inside the header: keep a valid empty file
            os.pwrite(fd, wav_header(codec, data_bytes), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        return data_bytes
    return 0


def read_pending(sidecar: Path) -> PendingRecording:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"unreadable pending recording {sidecar}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidValue(f"unreadable pending recording {sidecar}")
    return PendingRecording.from_json(data)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_text_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
