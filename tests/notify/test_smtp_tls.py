"""SMTP over TLS and with a login, against aiosmtpd with a certificate made for the test."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from afterbeep.config import NotifySettings
from afterbeep.notify.content import DeliveryError
from afterbeep.notify.smtp import send_email
from tests.support.server import free_port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem doubles as the CA file)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (apt-get install -y openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture(autouse=True)
async def let_tls_connections_finish_closing() -> AsyncIterator[None]:
    """A TLS connection closed after a failure (a refused login) sends close_notify and
    closes its socket a few loop turns later; the test's loop must live that long, or the
    socket is reported as leaked."""
    yield
    await asyncio.sleep(0.2)


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[bytes, bool, str | None]] = []  # (data, over TLS, login)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        over_tls = server.transport.get_extra_info("ssl_object") is not None
        with self.lock:
            self.mails.append((envelope.content, over_tls, login))
        return "250 2.0.0 Queued as T1"


def _check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"vm", b"s3cret")
    # handled=False: aiosmtpd then answers 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)


@pytest.fixture
def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


@pytest.fixture
def starttls_server(server_context: ssl.SSLContext) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port("tcp")
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, server_hostname="mail.test",
        tls_context=server_context, require_starttls=True, authenticator=_check_login,
        auth_required=True, ready_timeout=5,
    )  # fmt: skip
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def implicit_tls_server(server_context: ssl.SSLContext) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port("tcp")
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, server_hostname="mail.test",
        ssl_context=server_context, ready_timeout=5,
    )  # fmt: skip
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _mail() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "vm@example.net", "a@example.com", "t"
    message.set_content("hello\n")
    return message


def _settings(port: int, **changes: Any) -> NotifySettings:
    return NotifySettings(smtp_host="127.0.0.1", smtp_port=port, **changes)


async def test_starttls_with_a_login(
    starttls_server: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    inbox, port = starttls_server
    settings = _settings(
        port, smtp_security="starttls", smtp_ca_file=certificate[0],
        smtp_username="vm", smtp_password="s3cret",
    )  # fmt: skip
    reply = await send_email(settings, _mail())
    assert "Queued as T1" in reply
    [(data, over_tls, login)] = inbox.mails
    assert over_tls and login == "vm"
    assert b"hello" in data


async def test_a_wrong_password_is_reported_with_the_servers_words(
    starttls_server: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    _inbox, port = starttls_server
    settings = _settings(
        port, smtp_security="starttls", smtp_ca_file=certificate[0],
        smtp_username="vm", smtp_password="wrong",
    )  # fmt: skip
    with pytest.raises(DeliveryError, match="535") as caught:
        await send_email(settings, _mail())
    assert not caught.value.permanent  # a login may be fixed: retried, not dropped


async def test_plain_text_to_a_server_that_requires_tls_fails_permanently(
    starttls_server: tuple[Inbox, int],
) -> None:
    _inbox, port = starttls_server
    with pytest.raises(DeliveryError, match="530") as caught:
        await send_email(_settings(port, smtp_security="none"), _mail())
    assert caught.value.permanent


async def test_an_untrusted_certificate_is_refused(starttls_server: tuple[Inbox, int]) -> None:
    inbox, port = starttls_server
    with pytest.raises(DeliveryError, match=r"(?i)certificate") as caught:
        await send_email(_settings(port, smtp_security="starttls"), _mail())
    assert not caught.value.permanent
    assert inbox.mails == []


async def test_implicit_tls(
    implicit_tls_server: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    inbox, port = implicit_tls_server
    settings = _settings(port, smtp_security="tls", smtp_ca_file=certificate[0])
    await send_email(settings, _mail())
    [(_data, over_tls, _login)] = inbox.mails
    assert over_tls
