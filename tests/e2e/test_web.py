"""Visual voicemail in a real browser (Debian's Chromium driven by Playwright) against the
running server, with messages left by SIPp and a greeting heard by baresip."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.e2e.conftest import Speech, require
from tests.support.audio import best_correlation, read_wav_any
from tests.support.baresip import Baresip
from tests.support.server import Server
from tests.support.sipp import SippResult

PASSWORD = "a long enough password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
    # A fake microphone (a beeping tone) that needs no permission prompt.
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]  # fmt: skip

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser() -> Iterator[object]:
    require("chromium")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _deposit(sipp: Callable[..., SippResult], server: Server, speech: Speech, number: str) -> None:
    keys = {**speech.sipp_keys(), "caller_user": "5550123", "caller_name": "Carol Caller"}
    sipp("deposit", server.sip_address, service=number, keys=keys).assert_ok(server)


def _wait(condition: Callable[[], bool], server: Server, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, server.describe()
        time.sleep(0.3)


def test_owner_sees_plays_forwards_deletes_and_changes_the_greeting(
    server: Server,
    sipp: Callable[..., SippResult],
    speech: Speech,
    browser: object,
    baresip_factory: Callable[..., Baresip],
    tmp_path: Path,
) -> None:
    server.cli("org", "add", "acme", "--name", "Acme")
    for email, org in (("alice@example.com", "default"), ("carol@acme.example", "acme")):
        server.cli("user", "add", email, "--name", email.split("@")[0], "--org", org,
                   "--password-stdin", input_text=PASSWORD)  # fmt: skip
    server.set_mailbox("1001", owner="alice@example.com")
    server.add_mailbox("2001", "Carol", org="acme", owner="carol@acme.example")
    _deposit(sipp, server, speech, "2001")
    (foreign,) = server.wait_for_messages("2001", 1)

    page = browser.new_context(permissions=["microphone"]).new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.http_url}/login")
    page.get_by_label("E-mail address").fill("alice@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/mailboxes/1001")
    assert "No messages in new" in page.content()

    # A caller leaves a message while the page is open: it appears without a reload.
    _deposit(sipp, server, speech, "1001")
    row = page.locator("tr.message").first
    row.wait_for(timeout=15000)
    assert "Carol Caller" in row.inner_text() and "5550123" in row.inner_text()
    (message,) = server.messages("1001")

    # Play it in the page: the audio element's time advances, and it is marked heard.
    audio = row.locator("audio")
    audio.evaluate("a => a.play()")
    page.wait_for_function(
        "id => document.querySelector(`audio[data-id='${id}']`).currentTime > 1.0",
        arg=message["id"],
        timeout=15000,
    )
    _wait(lambda: server.messages("1001")[0]["folder"] == "old", server)
    audio.evaluate("a => a.pause()")

    # Forward it to Bob's mailbox with a typed comment (spoken before the message).
    page.goto(f"{server.http_url}/mailboxes/1001?folder=old")
    row = page.locator("tr.message").first
    row.locator("summary", has_text="Forward").click()
    row.get_by_label("To mailboxes").fill("1002")
    row.get_by_label("Comment (typed)").fill("Please call her back")
    row.get_by_role("button", name="Forward", exact=True).click()
    page.wait_for_url("**/mailboxes/1001?folder=old&notice=*")
    (copy,) = server.wait_for_messages("1002", 1)
    assert copy["duration_seconds"] > message["duration_seconds"] + 1.0  # the comment

    # Delete it.
    page.locator("tr.message").first.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/mailboxes/1001?folder=old&notice=*")
    _wait(lambda: server.messages("1001")[0]["folder"] == "deleted", server)

    # Another organization's message does not exist for Alice.
    response = page.goto(f"{server.http_url}/api/v1/messages/{foreign['id']}")
    assert response is not None and response.status == 404
    response = page.goto(f"{server.http_url}/mailboxes/2001")
    assert response is not None and response.status == 404

    # Upload a greeting (MP3: converted on the server) and hear it on the next call.
    greeting_mp3 = tmp_path / "greeting.mp3"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(speech.wav), "-ar", "22050",
         str(greeting_mp3)],
        check=True,
    )  # fmt: skip
    page.goto(f"{server.http_url}/mailboxes/1001/settings")
    page.get_by_label("Greeting", exact=True).select_option("unavailable")
    page.get_by_label("Audio file").set_input_files(str(greeting_mp3))
    page.get_by_role("button", name="Save greeting").click()
    page.wait_for_selector("text=unavailable greeting saved")

    # Record the busy greeting in the browser (MediaRecorder; WebM/Opus decoded by ffmpeg).
    page.get_by_label("Greeting", exact=True).select_option("busy")
    page.get_by_role("button", name="Record in the browser").click()
    page.wait_for_selector("text=Recording…")
    time.sleep(1.5)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_selector("text=ready to save")
    page.get_by_role("button", name="Save greeting").click()
    page.wait_for_selector("text=busy greeting saved")

    silence = tmp_path / "silence.wav"
    from afterbeep.media.wav import encode_wav

    silence.write_bytes(encode_wav(None, np.zeros(8000 * 30, dtype=np.int16)))
    phone = baresip_factory(source_wav=silence, user="5550999", record=True)
    phone.dial(server.sip_uri("1001"))
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(speech.seconds + 2.0)
    phone.hangup()
    phone.wait_event("CALL_CLOSED", timeout=10)
    [heard] = phone.recordings("dec")
    heard_samples, _ = read_wav_any(heard)
    sent, _ = read_wav_any(speech.wav)
    score, _lag = best_correlation(heard_samples, sent)
    assert score > 0.7, f"the caller did not hear the uploaded greeting (score {score:.2f})"


def test_api_over_http_on_the_running_server(
    server: Server, sipp: Callable[..., SippResult], speech: Speech, tmp_path: Path
) -> None:
    """A script's view: a token from the CLI, the message a SIPp call left, its audio in two
    ranges that join into what the caller said."""
    import httpx

    server.cli("user", "add", "ops@example.com", "--name", "Ops", "--role", "admin",
               "--password-stdin", input_text=PASSWORD)  # fmt: skip
    token = server.cli("user", "token", "ops@example.com").stdout.strip()
    _deposit(sipp, server, speech, "1001")
    server.wait_for_messages("1001", 1)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.http_url, headers=headers, timeout=10) as client:
        assert client.get("/api/v1/messages/x").status_code == 422
        page = client.get("/api/v1/mailboxes/1001/messages").json()
        (message,) = page["items"]
        assert message["caller_name"] == "Carol Caller" and message["folder"] == "new"
        head = client.get(message["audio_url"], headers={"Range": "bytes=0-9999"})
        tail = client.get(message["audio_url"], headers={"Range": "bytes=10000-"})
        assert (head.status_code, tail.status_code) == (206, 206)
        (tmp_path / "message.wav").write_bytes(head.content + tail.content)
        unauthenticated = httpx.get(f"{server.http_url}/api/v1/mailboxes", timeout=10)
    assert unauthenticated.status_code == 401
    recorded, _ = read_wav_any(tmp_path / "message.wav")
    sent, _ = read_wav_any(speech.wav)
    score, _lag = best_correlation(recorded, sent)
    assert score > 0.9, f"the downloaded audio is not the message (score {score:.2f})"
