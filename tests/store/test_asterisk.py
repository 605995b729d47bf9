"""Importing an Asterisk voicemail spool and voicemail.conf, built here from the documented
formats (app_voicemail: msgNNNN.txt + audio per folder, greetings beside the folders)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from afterbeep.domain import Codec, GreetingKind
from afterbeep.media import tones
from afterbeep.media.g711 import decode, encode
from afterbeep.media.wav import encode_wav, read_g711_wav
from afterbeep.store import NotFound, Store
from afterbeep.store.asterisk import caller_of, import_asterisk, parse_voicemail_conf

VOICEMAIL_CONF = """\
[general]
format=wav49|gsm|wav
serveremail=asterisk
attach=yes

[zonemessages]
eastern=America/New_York|'vm-received' Q 'digits/at' IMp

[default]
1001 => 4242,Alice Example,alice@example.com,alice-pager@example.com,attach=yes|tz=eastern
1002 => -12,Bob,bob@example.com ; a PIN we cannot take

[other]
2001 => 987654,Carol
"""

MESSAGE = """\
;
; Message Information file
;
[message]
origmailbox={mailbox}
context=macro-vm
macrocontext=ext-local
exten=s-NOANSWER
rdnis=unknown
priority=2
callerchan=SIP/trunk-00000012
callerid={callerid}
origdate=Tue Mar  5 01:02:03 PM UTC 2024
origtime={origtime}
category=
msg_id={origtime}-00000001
flag={flag}
duration=2
"""

T0 = 1709643723  # 2024-03-05 13:02:03 UTC


def _speech(seconds: float, freq: float) -> np.ndarray:
    return tones.tone(freq, seconds)


def _message(folder: Path, index: int, callerid: str, offset: int, flag: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / f"msg{index:04d}.txt"
    info.write_text(
        MESSAGE.format(mailbox="1001", callerid=callerid, origtime=T0 + offset, flag=flag)
    )
    return info


@pytest.fixture
def asterisk(tmp_path: Path) -> tuple[Path, Path]:
    conf = tmp_path / "voicemail.conf"
    conf.write_text(VOICEMAIL_CONF)
    spool = tmp_path / "spool"
    box = spool / "default" / "1001"
    inbox = _message(box / "INBOX", 0, '"Bob Caller" <5550100>', 0)
    inbox.with_suffix(".wav").write_bytes(encode_wav(None, _speech(2.0, 440)))  # 16-bit PCM
    old = _message(box / "Old", 0, "<+15550199>", 60)
    old.with_suffix(".ulaw").write_bytes(encode(Codec.PCMU, _speech(1.5, 660)))
    _message(box / "Work", 0, "unknown", 120)  # its audio is missing
    if shutil.which("sox"):
        urgent = _message(box / "Urgent", 0, '"Dora" <5550111>', 180, flag="Urgent")
        source = box / "tmp-source.wav"
        source.write_bytes(encode_wav(None, _speech(1.0, 500)))
        gsm = urgent.with_suffix(".gsm")
        subprocess.run(["sox", str(source), "-r", "8000", "-c", "1", str(gsm)],
                       check=True, capture_output=True)  # fmt: skip
        source.unlink()
    (box / "unavail.wav").write_bytes(encode_wav(None, _speech(1.0, 300)))
    return conf, spool


def test_voicemail_conf_and_caller_ids_parse() -> None:
    boxes = {box.number: box for box in parse_voicemail_conf(VOICEMAIL_CONF)}
    assert sorted(boxes) == ["1001", "1002", "2001"]
    alice = boxes["1001"]
    assert (alice.context, alice.pin, alice.name) == ("default", "4242", "Alice Example")
    assert alice.emails == ("alice@example.com", "alice-pager@example.com")
    assert alice.options == {"attach": "yes", "tz": "eastern"}
    assert (boxes["1002"].pin, boxes["2001"].context) == ("12", "other")
    assert caller_of('"Bob Caller" <5550100>') == ("Bob Caller", "5550100")
    assert caller_of("<+15550199>") == ("", "+15550199")
    assert caller_of("unknown") == ("", "")


async def test_import_a_spool_and_again(store: Store, asterisk: tuple[Path, Path]) -> None:
    conf, spool = asterisk
    report = await import_asterisk(store, conf, spool, contexts=("default",))
    has_sox = shutil.which("sox") is not None
    assert report.mailboxes_created == 2
    assert report.messages_imported == (3 if has_sox else 2)
    assert any("no audio file" in problem for problem in report.problems)
    assert any("mailbox 1002" in problem and "PIN" in problem for problem in report.problems)

    alice = await store.get_mailbox("1001")
    assert alice.emails == ("alice@example.com", "alice-pager@example.com")
    assert await store.verify_pin("1001", "4242")
    assert not (await store.get_mailbox("1002")).has_pin
    assert alice.greetings == (GreetingKind.UNAVAILABLE,)
    with pytest.raises(NotFound, match="2001"):
        await store.get_mailbox("2001")  # another context, not asked for

    messages = {m.folder: m for m in await store.list_messages("1001")}
    new = (
        messages["new"]
        if not has_sox
        else next(m for m in await store.list_messages("1001", "new") if not m.urgent)
    )
    assert (new.caller_name, new.caller_number) == ("Bob Caller", "5550100")
    assert new.received_at == dt.datetime.fromtimestamp(T0, dt.UTC)
    assert new.duration_seconds == pytest.approx(2.0)
    _codec, payload = read_g711_wav(await store.message_audio(new.id)) or (None, b"")
    heard = decode(Codec.PCMU, payload).astype(float)
    sent = _speech(2.0, 440).astype(float)
    assert np.corrcoef(heard, sent)[0, 1] > 0.99  # the same audio, through µ-law
    old = messages["old"]
    assert (old.caller_number, old.heard_at is not None) == ("+15550199", True)
    assert old.duration_seconds == pytest.approx(1.5)
    if has_sox:
        [urgent] = [m for m in await store.list_messages("1001", "new") if m.urgent]
        assert urgent.caller_name == "Dora"

    again = await import_asterisk(store, conf, spool, contexts=("default",))
    assert (again.mailboxes_created, again.messages_imported) == (0, 0)
    assert again.messages_skipped == report.messages_imported


def test_the_command(asterisk: tuple[Path, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from afterbeep.cli import main

    conf, spool = asterisk
    args = ["--data-dir", str(tmp_path / "data"), "import", "asterisk", "--conf", str(conf),
            "--spool", str(spool), "--context", "default"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2 mailbox(es) created" in result.stdout
    assert "warning: " in result.stderr and "no audio file" in result.stderr
    again = CliRunner().invoke(main, args)
    assert "0 mailbox(es) created, 0 message(s) imported" in again.stdout
