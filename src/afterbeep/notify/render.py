"""Rendering a notification e-mail to bytes, in a worker process.

Templates, MIME building and MP3 encoding are pure-Python or GIL-holding work of several
milliseconds a mail; on the event loop they delayed the calls' media and capped delivery near
40 mails a second on two cores. Here they run in a process pool: the job carries only plain
data (picklable) and gets the finished message back.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afterbeep.domain import AudioFormat
from afterbeep.notify.attachment import make_attachment
from afterbeep.notify.content import Notice
from afterbeep.notify.email import POLICY, EmailTemplates, compose_email

_templates: dict[str | None, EmailTemplates] = {}  # per process, by override folder


@dataclass(frozen=True, slots=True)
class EmailRequest:
    notice: dict[str, Any]  # Notice.to_json()
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    message_id: str
    region: str
    templates_dir: str | None
    audio: bytes | None  # the stored WAV to attach, if any
    audio_format: AudioFormat
    attachment_name: str


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    data: bytes  # the message, CRLF line ends, ready for DATA
    attached: bool  # False when there was no audio or it could not be decoded
    problem: str | None = None  # why the audio is missing, for the log


def render_email(request: EmailRequest) -> RenderedEmail:
    """Raises ``TemplateError`` when a template cannot be rendered."""
    templates = _templates_for(request.templates_dir)
    attachment, problem = None, None
    if request.audio is not None:
        try:
            attachment = make_attachment(
                request.audio, request.audio_format, request.attachment_name
            )
        except ValueError as exc:
            problem = str(exc)
    message = compose_email(
        Notice.from_json(request.notice),
        sender=request.sender,
        to=request.to,
        cc=request.cc,
        message_id=request.message_id,
        templates=templates,
        region=request.region,
        attachment=attachment,
    )
    return RenderedEmail(message.as_bytes(policy=POLICY), attachment is not None, problem)


def warm_up(templates_dir: str | None) -> None:
    """Load the templates (and with them Jinja2, Babel, LAME) before the first mail needs it."""
    _templates_for(templates_dir)


def _templates_for(templates_dir: str | None) -> EmailTemplates:
    templates = _templates.get(templates_dir)
    if templates is None:
        folder = None if templates_dir is None else Path(templates_dir)
        templates = _templates[templates_dir] = EmailTemplates(folder)
    return templates


def die_with_parent() -> None:
    """A rendering process must not outlive a service killed with SIGKILL (Linux only)."""
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        # Without glibc the worker ends when its task pipe closes instead.
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
