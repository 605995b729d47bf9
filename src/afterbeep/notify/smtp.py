"""Sending one e-mail through the configured SMTP server (aiosmtplib).

The server's own words reach the caller: its reply on success, its code and text on failure,
as a ``DeliveryError`` that is permanent for 5xx replies and transient for everything else
(4xx replies, refused connections, timeouts, TLS trouble), which the outbox retries.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from afterbeep.config import NotifySettings
from afterbeep.notify.content import DeliveryError


async def send_email(
    settings: NotifySettings,
    message: EmailMessage | bytes,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
) -> str:
    """Hand ``message`` to the server; its reply (e.g. ``250 OK queued as …``).

    A message given as bytes needs its envelope ``sender`` and ``recipients``.
    """
    if not settings.smtp_host:
        raise DeliveryError(
            "no SMTP server configured (--smtp-host / AFTERBEEP_SMTP_HOST)", permanent=True
        )
    # "auto": aiosmtplib upgrades with STARTTLS when the server offers it.
    start_tls = {"auto": None, "none": False, "starttls": True, "tls": False}[
        settings.smtp_security
    ]
    try:
        errors, reply = await aiosmtplib.send(
            message,
            sender=sender,
            recipients=recipients,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_security == "tls",
            start_tls=start_tls,
            timeout=settings.smtp_timeout,
            cert_bundle=None if settings.smtp_ca_file is None else str(settings.smtp_ca_file),
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        permanent = all(500 <= r.code < 600 for r in exc.recipients)
        raise DeliveryError(f"recipients refused: {replies}", permanent=permanent) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP {settings.smtp_host}:{settings.smtp_port} replied {exc.code} {exc.message}",
            permanent=500 <= exc.code < 600 and exc.code != 535,  # a bad login may get fixed
        ) from None
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
        raise DeliveryError(
            f"SMTP {settings.smtp_host}:{settings.smtp_port}: {_describe(exc)}"
        ) from None
    if errors:  # some recipients refused, the others accepted: done, but say so
        refused = "; ".join(f"{addr}: {code} {text}" for addr, (code, text) in errors.items())
        return f"{reply} (refused: {refused})"
    return reply


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
