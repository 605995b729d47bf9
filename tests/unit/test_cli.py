"""The admin CLI against a temporary data folder (SQLite), through click's runner."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from afterbeep.cli import main
from afterbeep.config import Settings
from afterbeep.domain import CallerInfo, Codec, DiversionReason
from afterbeep.media.wav import encode_wav, read_g711_wav
from afterbeep.store import Store, upgrade_database
from afterbeep.store.migrate import head_revision

AFTERBEEP_ENV = (
    "AFTERBEEP_DATA_DIR",
    "AFTERBEEP_DATABASE_URL",
    "AFTERBEEP_SIP_LISTEN",
    "AFTERBEEP_HTTP_LISTEN",
    "AFTERBEEP_EXTERNAL_ADDRESS",
    "AFTERBEEP_RTP_PORTS",
    "AFTERBEEP_OPERATOR_URI",
    "AFTERBEEP_REJECT_UNKNOWN",
    "AFTERBEEP_ANSWER_DELAY",
    "AFTERBEEP_LOG_LEVEL",
    "AFTERBEEP_SMTP_HOST",
    "AFTERBEEP_SMTP_PORT",
    "AFTERBEEP_SMTP_SECURITY",
    "AFTERBEEP_DEFAULT_EMAIL",
    "AFTERBEEP_SMS_PROVIDER",
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in AFTERBEEP_ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir: Path) -> Any:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(main, ["--data-dir", str(data_dir), *args], input=input, env=env)

    return invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def one_line_error(result: Result) -> str:
    """A failed command: exit status 1 and exactly one line on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


def record_message(data_dir: Path, number: str, seconds: float = 2.5) -> uuid.UUID:
    """Leave a message as the deposit flow would, straight through the store."""

    async def run() -> uuid.UUID:
        url = Settings(data_dir=data_dir).database
        await upgrade_database(url)
        store = await Store.open(url, data_dir)
        try:
            mailbox = await store.find_mailbox(number)
            assert mailbox is not None
            caller = CallerInfo("+15550001111", "Grace Hopper", number, DiversionReason.BUSY, "c1")
            at = dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC)
            recording = store.start_recording(mailbox, caller, Codec.PCMU, at)
            recording.write(b"\x55" * int(seconds * 8000))
            message_id = await store.commit_recording(recording)
            await store.record_missed_call(mailbox, caller, at + dt.timedelta(hours=1))
            return message_id
        finally:
            await store.close()

    return asyncio.run(run())


def test_db_upgrade_on_a_fresh_folder(cli: Any, data_dir: Path) -> None:
    result = ok(cli("db", "upgrade"))
    assert f"revision {head_revision()}" in result.output
    assert (data_dir / "afterbeep.db").is_file()


def test_mailbox_add_list_show_set_remove(cli: Any) -> None:
    ok(
        cli(
            "mailbox",
            "add",
            "100",
            "--name",
            "Alice",
            "--email",
            "alice@example.com",
            "--email",
            "office@example.com",
            "--attach",
            "attach-delete",
            "--audio-format",
            "mp3",
            "--sms",
            "+1 555 0100",
            "--pin",
            "1234",
        )
    )
    ok(
        cli(
            "mailbox", "add", "200", "--name", "Bob", "--max-seconds", "60", "--min-seconds", "1",
            "--language", "fr", "--timezone", "Europe/Paris",
        )
    )  # fmt: skip

    table = ok(cli("mailbox", "list")).output
    assert "Alice" in table and "Bob" in table

    listed = json.loads(ok(cli("mailbox", "list", "--json")).output)
    assert [m["number"] for m in listed] == ["100", "200"]
    assert listed[0]["emails"] == ["alice@example.com", "office@example.com"]
    assert (listed[0]["attach_policy"], listed[0]["audio_format"]) == ("attach-delete", "mp3")
    assert (listed[0]["sms_number"], listed[0]["notify_missed"]) == ("+15550100", True)
    assert (listed[1]["emails"], listed[1]["attach_policy"]) == ([], "attach")
    assert listed[0]["has_pin"] is True
    assert "1234" not in json.dumps(listed)
    assert (listed[1]["max_message_seconds"], listed[1]["min_message_seconds"]) == (60, 1)
    assert (listed[1]["language"], listed[1]["timezone"]) == ("fr", "Europe/Paris")

    shown = json.loads(ok(cli("mailbox", "show", "200", "--json")).output)
    assert shown == listed[1]
    assert "Europe/Paris" in ok(cli("mailbox", "show", "200")).output

    ok(
        cli(
            "mailbox", "set", "100", "--name", "Alice S.", "--warning", "none", "--email", "",
            "--no-missed-calls", "--sms", "",
            "--clear-pin", "--max-silence", "5", "--max-messages", "10",
            "--temporary-expires", "2026-05-01T09:00+02:00",
        )
    )  # fmt: skip
    changed = json.loads(ok(cli("mailbox", "show", "100", "--json")).output)
    assert changed["name"] == "Alice S."
    assert changed["warning_mode"] == "none"
    assert changed["emails"] == []
    assert (changed["notify_missed"], changed["sms_number"]) == (False, None)
    assert changed["has_pin"] is False
    assert (changed["max_silence_seconds"], changed["max_messages"]) == (5, 10)
    assert changed["temporary_greeting_expires_at"] == "2026-05-01T07:00:00+00:00"

    ok(cli("mailbox", "remove", "100", "--yes"))
    assert [m["number"] for m in json.loads(ok(cli("mailbox", "list", "--json")).output)] == ["200"]


def test_remove_asks_first(cli: Any) -> None:
    ok(cli("mailbox", "add", "100", "--name", "Alice"))
    declined = cli("mailbox", "remove", "100", input="n\n")
    assert declined.exit_code == 1
    assert ok(cli("mailbox", "show", "100"))
    ok(cli("mailbox", "remove", "100", input="y\n"))
    one_line_error(cli("mailbox", "show", "100"))


def test_a_duplicate_add_fails_with_one_line(cli: Any) -> None:
    ok(cli("mailbox", "add", "100", "--name", "Alice"))
    error = one_line_error(cli("mailbox", "add", "100", "--name", "Bob"))
    assert error == "Error: mailbox 100 already exists"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("mailbox", "add", "100", "--name", "A", "--pin", "12"), "PIN"),
        (("mailbox", "add", "100", "--name", "A", "--timezone", "Nowhere/Land"), "time zone"),
        (("mailbox", "show", "404"), "no mailbox 404"),
        (("mailbox", "set", "404", "--name", "x"), "no mailbox 404"),
        (("mailbox", "set", "100"), "nothing to change"),
        (("mailbox", "remove", "404", "--yes"), "no mailbox 404"),
        (("messages", "show", "nope"), "invalid message id"),
        (("messages", "show", str(uuid.UUID(int=1))), "no message"),
        (("messages", "list", "404"), "no mailbox 404"),
        (("--database", "mysql://u@h/db", "mailbox", "list"), "unsupported database URL"),
        (("serve", "--rtp-ports", "10-20"), "--rtp-ports"),
        (("serve", "--sip-listen", "host:port"), "--sip-listen"),
    ],
)
def test_errors_are_one_line(cli: Any, args: tuple[str, ...], message: str) -> None:
    assert message in one_line_error(cli(*args))


def test_greetings(cli: Any, tmp_path: Path) -> None:
    ok(cli("mailbox", "add", "100", "--name", "Alice"))
    wav = tmp_path / "busy.wav"
    wav.write_bytes(encode_wav(None, b"\x00\x01" * 4000))  # 16-bit PCM, as recorded on a PC
    ok(cli("mailbox", "greeting", "100", "busy", str(wav)))
    assert json.loads(ok(cli("mailbox", "show", "100", "--json")).output)["greetings"] == ["busy"]
    ok(cli("mailbox", "greeting", "100", "busy", "--remove"))
    assert json.loads(ok(cli("mailbox", "show", "100", "--json")).output)["greetings"] == []

    not_wav = tmp_path / "greeting.mp3"
    not_wav.write_bytes(b"ID3\x03\x00")
    assert "WAV" in one_line_error(cli("mailbox", "greeting", "100", "busy", str(not_wav)))
    assert "--remove" in one_line_error(cli("mailbox", "greeting", "100", "busy"))


def test_messages_list_show_export(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    ok(cli("mailbox", "add", "100", "--name", "Alice"))
    message_id = record_message(data_dir, "100", seconds=2.5)

    listed = json.loads(ok(cli("messages", "list", "--json")).output)
    assert isinstance(listed, list) and len(listed) == 1
    message = listed[0]
    assert {
        "id", "mailbox", "caller_number", "caller_name", "called_number", "received_at",
        "duration_seconds", "folder", "reason", "urgent", "codec",
    } <= set(message)  # fmt: skip
    assert message["id"] == str(message_id)
    assert message["mailbox"] == "100"
    assert message["caller_number"] == "+15550001111"
    assert message["caller_name"] == "Grace Hopper"
    assert message["called_number"] == "100"
    assert message["received_at"] == "2026-04-01T08:00:00+00:00"
    assert message["duration_seconds"] == 2.5
    assert (message["folder"], message["reason"], message["urgent"]) == ("new", "busy", False)
    assert message["codec"] == "PCMU"
    assert json.loads(ok(cli("messages", "list", "100", "--folder", "new", "--json")).output)
    assert json.loads(ok(cli("messages", "list", "--folder", "saved", "--json")).output) == []
    assert "Grace Hopper" in ok(cli("messages", "list")).output

    assert json.loads(ok(cli("messages", "show", str(message_id), "--json")).output) == message
    assert "Grace Hopper" in ok(cli("messages", "show", str(message_id))).output

    out = tmp_path / "export.wav"
    ok(cli("messages", "export", str(message_id), "-o", str(out)))
    assert read_g711_wav(out.read_bytes()) == (Codec.PCMU, b"\x55" * 20000)

    missed = json.loads(ok(cli("missed", "list", "100", "--json")).output)
    assert [(m["mailbox"], m["caller_number"], m["reason"]) for m in missed] == [
        ("100", "+15550001111", "busy")
    ]
    assert "Grace Hopper" in ok(cli("missed", "list")).output


def test_serve_builds_settings_from_options_and_environment(
    cli: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import afterbeep.app

    seen: list[Settings] = []
    monkeypatch.setattr(afterbeep.app, "run", seen.append)
    env = {
        "AFTERBEEP_HTTP_LISTEN": "0.0.0.0:9000",
        "AFTERBEEP_RTP_PORTS": "40001-40100",
        "AFTERBEEP_REJECT_UNKNOWN": "true",
        "AFTERBEEP_EXTERNAL_ADDRESS": "203.0.113.7",
        "AFTERBEEP_SMTP_HOST": "mail.example.com",
        "AFTERBEEP_SMTP_SECURITY": "starttls",
    }
    ok(
        cli(
            "--database", "sqlite+aiosqlite:////tmp/x.db", "serve",
            "--sip-listen", "127.0.0.1:5080", "--operator-uri", "sip:operator@pbx",
            "--log-level", "debug", "--smtp-port", "587", "--smtp-user", "vm",
            "--default-email", "ops@example.com", "--duplicate-to-default",
            "--sms-provider", "twilio", "--sms-account", "AC1", "--sms-token", "t",
            "--sms-from", "+15550000", "--phone-region", "de", env=env,
        )
    )  # fmt: skip
    [settings] = seen
    assert settings.data_dir == data_dir
    assert settings.database == "sqlite+aiosqlite:////tmp/x.db"
    assert (settings.sip_host, settings.sip_port) == ("127.0.0.1", 5080)
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 9000)
    assert settings.rtp_ports == (40002, 40100)
    assert settings.reject_unknown_mailbox is True
    assert settings.external_address == "203.0.113.7"
    assert settings.operator_uri == "sip:operator@pbx"
    assert settings.log_level == "DEBUG"
    notify = settings.notify
    assert (notify.smtp_host, notify.smtp_port) == ("mail.example.com", 587)
    assert (notify.smtp_security, notify.smtp_username) == ("starttls", "vm")
    assert (notify.default_email, notify.duplicate_to_default) == ("ops@example.com", True)
    assert (notify.sms_provider, notify.sms_account, notify.sms_from) == (
        "twilio", "AC1", "+15550000",
    )  # fmt: skip
    assert notify.phone_region == "DE"


def test_serve_defaults(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import afterbeep.app

    seen: list[Settings] = []
    monkeypatch.setattr(afterbeep.app, "run", seen.append)
    ok(cli("serve"))
    [settings] = seen
    assert (settings.sip_host, settings.sip_port) == ("0.0.0.0", 5060)
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.rtp_ports == (20000, 30000)
    assert settings.reject_unknown_mailbox is False
    assert settings.external_address is None
    assert settings.notify.smtp_host is None  # e-mail jobs fail visibly until one is set
    assert (settings.notify.sms_provider, settings.notify.max_attempts) == ("none", 30)


def test_jobs_webhooks_and_message_deletion(cli: Any, data_dir: Path) -> None:
    ok(cli("mailbox", "add", "100", "--name", "Alice", "--email", "alice@example.com"))
    added = ok(cli("webhook", "add", "https://hooks.example.com/vm", "--mailbox", "100",
                   "--event", "message.deleted")).output  # fmt: skip
    assert "signing secret: " in added
    [hook] = json.loads(ok(cli("webhook", "list", "--json")).output)
    assert (hook["url"], hook["mailbox"], hook["events"]) == (
        "https://hooks.example.com/vm", "100", ["message.deleted"],
    )  # fmt: skip
    assert "secret" not in json.dumps(hook)
    assert "must start with http" in one_line_error(cli("webhook", "add", "ftp://x/y"))

    message_id = record_message(data_dir, "100")
    ok(cli("messages", "delete", str(message_id)))
    assert json.loads(ok(cli("messages", "list", "--json")).output) == []
    assert "no message" in one_line_error(cli("messages", "delete", str(message_id)))

    # Without a server running, the CLI queues the events themselves (a server fans them out).
    jobs = json.loads(ok(cli("jobs", "list", "--json")).output)
    assert sorted(job["key"].split(":")[0] for job in jobs) == [
        "call.missed", "message.created", "message.deleted",
    ]  # fmt: skip
    assert all(job["status"] == "pending" for job in jobs)
    assert "no jobs" in ok(cli("jobs", "list", "--status", "failed")).output
    assert "retrying 0 job(s)" in ok(cli("jobs", "retry", "--all-failed")).output
    assert "give job IDs or --all-failed" in one_line_error(cli("jobs", "retry"))

    ok(cli("webhook", "remove", str(hook["id"])))
    assert "no webhooks" in ok(cli("webhook", "list")).output


def test_mailbox_export_and_import(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    ok(cli("mailbox", "add", "100", "--name", "Alice"))
    message_id = record_message(data_dir, "100")
    archive = tmp_path / "alice.zip"
    assert (
        "1 message(s)"
        in ok(cli("messages", "export", "--mailbox", "100", "-o", str(archive))).output
    )
    assert "give a message ID or --mailbox" in one_line_error(cli("messages", "export", "-o", "x"))

    ok(cli("mailbox", "remove", "100", "--yes"))
    out = ok(cli("messages", "import", str(archive))).output
    assert "mailbox 100 (created): 1 message(s) imported, 0 already there" in out
    [listed] = json.loads(ok(cli("messages", "list", "100", "--json")).output)
    assert listed["id"] == str(message_id)
    assert "1 already there" in ok(cli("messages", "import", str(archive))).output


def test_retention_purge_and_check_commands(cli: Any, data_dir: Path) -> None:
    assert "warning_days            3" in ok(cli("org", "show")).output  # the default
    ok(cli("org", "set", "--retention-days", "14", "--deleted-retention-days", "forever"))
    ok(cli("org", "set", "--warning-days", "never"))
    shown = ok(cli("org", "show")).output
    assert "retention_days          14" in shown and "forever" in shown
    assert "warning_days            never" in shown
    ok(cli("mailbox", "add", "100", "--name", "Alice", "--retention-days", "30", "--legal-hold"))
    box = json.loads(ok(cli("mailbox", "show", "100", "--json")).output)
    assert (box["retention_days"], box["legal_hold"]) == (30, True)
    ok(cli("mailbox", "set", "100", "--retention-days", "inherit", "--no-legal-hold"))
    box = json.loads(ok(cli("mailbox", "show", "100", "--json")).output)
    assert (box["retention_days"], box["legal_hold"]) == (None, False)
    assert "whole number or inherit" in one_line_error(
        cli("mailbox", "set", "100", "--retention-days", "soon")
    )
    ok(cli("mailbox", "set", "100", "--max-minutes", "30"))
    box = json.loads(ok(cli("mailbox", "show", "100", "--json")).output)
    assert box["max_storage_minutes"] == 30
    ok(cli("mailbox", "set", "100", "--max-minutes", "none"))
    box = json.loads(ok(cli("mailbox", "show", "100", "--json")).output)
    assert box["max_storage_minutes"] is None
    assert "max_storage_minutes" in one_line_error(
        cli("mailbox", "set", "100", "--max-minutes", "0")
    )

    record_message(data_dir, "100")  # received 2026-04-01: older than 14 days
    assert "deleted 1 message(s) from 1 mailbox(es)" in ok(cli("purge")).output
    result = ok(cli("check"))
    assert "0 message(s), 0 audio file(s)" in result.output


def test_backup_then_restore_into_a_fresh_data_folder(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    ok(cli("mailbox", "add", "100", "--name", "Alice", "--pin", "2468"))
    record_message(data_dir, "100")
    archive = tmp_path / "backup.zip"
    result = ok(cli("backup", "-o", str(archive)))
    assert "1 audio file(s)" in result.output and archive.exists()

    fresh = tmp_path / "fresh"
    runner = CliRunner()
    restored = runner.invoke(main, ["--data-dir", str(fresh), "restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert "1 audio file(s)" in restored.output
    listed = runner.invoke(main, ["--data-dir", str(fresh), "messages", "list", "--json"])
    [message] = json.loads(listed.output)
    assert message["mailbox"] == "100"
    again = runner.invoke(main, ["--data-dir", str(fresh), "restore", str(archive)])
    assert again.exit_code == 1 and "empty" in again.stderr  # never over existing data


def test_organizations_users_owners_and_tokens(cli: Any) -> None:
    ok(cli("org", "add", "acme", "--name", "Acme Inc"))
    assert "already exists" in one_line_error(cli("org", "add", "acme", "--name", "Again"))
    orgs = json.loads(ok(cli("org", "list", "--json")).output)
    assert [o["slug"] for o in orgs] == ["acme", "default"]
    added = ok(
        cli(
            "user", "add", "Carol@Acme.example", "--name", "Carol", "--role", "admin",
            "--org", "acme", "--password-stdin",
            input="a long enough secret\n",
        )
    )  # fmt: skip
    assert "added user carol@acme.example (admin of acme)" in added.output
    short = cli("user", "add", "x@acme.example", "--name", "X", "--password-stdin", input="short\n")
    assert "10 to 1024 characters" in one_line_error(short)
    ok(
        cli(
            "mailbox",
            "add",
            "2001",
            "--name",
            "Carol",
            "--org",
            "acme",
            "--owner",
            "carol@acme.example",
        )
    )
    shown = json.loads(ok(cli("mailbox", "show", "2001", "--json")).output)
    users = json.loads(ok(cli("user", "list", "--json")).output)
    assert shown["owner_user_id"] == users[0]["id"]
    ok(cli("mailbox", "set", "2001", "--owner", "none"))
    assert json.loads(ok(cli("mailbox", "show", "2001", "--json")).output)["owner_user_id"] is None
    token = ok(cli("user", "token", "carol@acme.example")).output.strip()
    assert token.startswith("abk_") and len(token) > 40
    ok(
        cli(
            "user", "password", "carol@acme.example", "--password-stdin", input="another long one\n"
        )
    )
    ok(cli("user", "remove", "carol@acme.example"))
    assert json.loads(ok(cli("user", "list", "--json")).output) == []
    assert "no organization" in one_line_error(
        cli("mailbox", "add", "3001", "--name", "Y", "--org", "nowhere")
    )
