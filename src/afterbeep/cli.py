"""The ``afterbeep`` command: administration and ``serve``.

The composition root for the admin side: options and ``AFTERBEEP_*`` variables are read here,
never at import time elsewhere. Commands call the store's repository; none holds SQL. A
``StoreError`` or a bad value ends the command with one line on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from afterbeep.config import (
    MWI_TRUSTED_DEFAULT,
    SMTP_SECURITY_MODES,
    NotifySettings,
    Settings,
    parse_hostport,
    parse_port_range,
)
from afterbeep.domain import (
    AttachPolicy,
    AudioFormat,
    GreetingKind,
    LoginPolicy,
    Role,
    WarningMode,
)
from afterbeep.store.db import parse_database_url
from afterbeep.store.errors import StoreError
from afterbeep.store.migrate import current_revision, upgrade_database
from afterbeep.store.outbox import JobRecord, JobStatus
from afterbeep.store.records import MailboxRecord, MessageRecord, MissedCallRecord
from afterbeep.store.repository import MailboxChanges, MailboxOptions, Store
from afterbeep.store.webhooks import WEBHOOK_EVENTS, WebhookRecord

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class _Context:
    data_dir: Path
    database_url: str | None

    @property
    def database(self) -> str:
        return Settings(data_dir=self.data_dir, database_url=self.database_url).database


def _fail(message: str) -> click.ClickException:
    """One line on stderr ("Error: …"), exit status 1."""
    return click.ClickException(" ".join(message.split()))


def _with_store(ctx: _Context, action: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``action`` against the store, migrating first so a fresh data folder just works."""

    async def run() -> T:
        await upgrade_database(ctx.database)
        store = await Store.open(ctx.database, ctx.data_dir)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreError as exc:
        raise _fail(str(exc)) from None


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    for row in (headers, *rows):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _echo_fields(data: dict[str, Any]) -> None:
    width = max(len(key) for key in data)
    for key, value in data.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key.ljust(width)}  {'-' if shown in (None, '') else shown}")


def _when(value: dt.datetime) -> str:
    return value.isoformat(sep=" ", timespec="seconds")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    envvar="AFTERBEEP_DATA_DIR",
    default="./afterbeep-data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the SQLite database, audio and prompts.  [env: AFTERBEEP_DATA_DIR]",
)
@click.option(
    "--database",
    "database_url",
    envvar="AFTERBEEP_DATABASE_URL",
    metavar="URL",
    help="Database URL, e.g. postgresql+asyncpg://user@host/afterbeep; "
    "default: SQLite in the data folder.  [env: AFTERBEEP_DATABASE_URL]",
)
@click.version_option(package_name="afterbeep")
@click.pass_context
def main(ctx: click.Context, data_dir: Path, database_url: str | None) -> None:
    """afterbeep: a voicemail server over SIP/RTP."""
    ctx.obj = _Context(data_dir=data_dir, database_url=database_url or None)


# -- db ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(ctx: _Context) -> None:
    """Bring the database to the newest schema (every command does this first anyway)."""

    async def revision(store: Store) -> str | None:
        return await current_revision(store.engine)

    rev = _with_store(ctx, revision)
    shown = parse_database_url(ctx.database).render_as_string(hide_password=True)
    click.echo(f"database {shown} is at revision {rev}")


# -- mailbox -----------------------------------------------------------------------------------


def _mailbox_options(command: F) -> F:
    """The settings ``mailbox add`` and ``mailbox set`` share."""
    options = [
        click.option(
            "--email",
            "emails",
            metavar="ADDR",
            multiple=True,
            help="Where notifications go; repeat or separate by commas ('' for none).",
        ),
        click.option(
            "--pin",
            metavar="PIN",
            help="Dial-in PIN, 4 to 16 digits; the owner must change it at the next login.",
        ),
        click.option(
            "--pin-is-final",
            is_flag=True,
            help="With --pin: the owner need not change it (e.g. their own, imported).",
        ),
        click.option(
            "--caller-id-login/--no-caller-id-login",
            default=None,
            help="Calling in from the mailbox's own number skips the mailbox prompt.",
        ),
        click.option("--max-seconds", type=int, help="Longest message, in seconds."),
        click.option(
            "--min-seconds", type=int, help="Shorter messages are dropped as missed calls."
        ),
        click.option("--max-silence", type=int, help="Seconds of silence that end a message."),
        click.option("--max-messages", type=int, help="Messages kept before the box is full."),
        click.option(
            "--max-minutes",
            metavar="MINUTES|none",
            help="Recorded minutes kept before the box is full (none: no limit).",
        ),
        click.option("--language", metavar="TAG", help="Prompt language, e.g. en."),
        click.option("--timezone", metavar="TZ", help="IANA time zone, e.g. Europe/Paris."),
        click.option(
            "--warning",
            type=click.Choice([mode.value for mode in WarningMode]),
            help="What plays before the beep: the default prompt, the custom greeting, nothing.",
        ),
        click.option(
            "--attach",
            type=click.Choice([policy.value for policy in AttachPolicy]),
            help="E-mail: notify only, attach the audio, or attach it and delete the message.",
        ),
        click.option(
            "--audio-format",
            type=click.Choice([fmt.value for fmt in AudioFormat]),
            help="Format of attached audio.",
        ),
        click.option("--sms", metavar="NUMBER", help="SMS notifications to NUMBER ('' for none)."),
        click.option(
            "--missed-calls/--no-missed-calls",
            default=None,
            help="Notify calls that left no message.",
        ),
        click.option(
            "--retention-days",
            metavar="DAYS|inherit",
            help="Delete messages this many days after they came (inherit: the organization's).",
        ),
        click.option(
            "--deleted-retention-days",
            metavar="DAYS|inherit",
            help="The same for messages in the deleted folder.",
        ),
        click.option(
            "--legal-hold/--no-legal-hold",
            default=None,
            help="Under a legal hold, retention deletes nothing.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


# Options whose value is stored as given, by the store field they set.
_PLAIN_OPTIONS = {
    "attach": "attach_policy",
    "audio_format": "audio_format",
    "missed_calls": "notify_missed",
    "caller_id_login": "caller_id_login",
    "legal_hold": "legal_hold",
    "max_seconds": "max_message_seconds",
    "min_seconds": "min_message_seconds",
    "max_silence": "max_silence_seconds",
    "max_messages": "max_messages",
    "language": "language",
    "timezone": "timezone",
    "warning": "warning_mode",
}


def _fill_options(options: MailboxOptions, given: dict[str, Any]) -> None:
    """Copy the ``_mailbox_options`` that were given (``mailbox set`` leaves the others)."""
    fields = cast(dict[str, Any], options)
    for option, field in _PLAIN_OPTIONS.items():
        if given.get(option) is not None:
            fields[field] = given[option]
    if given.get("emails"):
        fields["emails"] = ",".join(given["emails"])
    if given.get("sms") is not None:
        fields["sms_number"] = given["sms"] or None
    for option in ("retention_days", "deleted_retention_days"):
        if given.get(option) is not None:
            fields[option] = _days(given[option], "inherit")
    if given.get("max_minutes") is not None:
        fields["max_storage_minutes"] = _days(given["max_minutes"], "none", "minutes")


@main.group()
def mailbox() -> None:
    """Add, list, change and remove mailboxes."""


@mailbox.command("add")
@click.argument("number")
@click.option("--name", required=True, help="Owner or label shown in listings.")
@_mailbox_options
@click.option(
    "--org", "organization", default="default", show_default=True, help="Its organization."
)
@click.option("--owner", metavar="EMAIL", help="The user who sees it on the web.")
@click.pass_obj
def mailbox_add(
    ctx: _Context,
    /,
    number: str,
    name: str,
    pin: str | None,
    organization: str,
    owner: str | None,
    **settings: Any,
) -> None:
    """Create mailbox NUMBER."""
    options: MailboxOptions = {}
    _fill_options(options, settings)
    if pin is not None:
        options["pin_must_change"] = not settings["pin_is_final"]

    async def add(store: Store) -> MailboxRecord:
        record = await store.add_mailbox(number, name, pin, organization=organization, **options)
        if owner is not None:
            user = await store.accounts.user_by_email(owner)
            await store.accounts.set_owner(record.number, user.id)
        return record

    record = _with_store(ctx, add)
    click.echo(f"added mailbox {record.number} ({record.name})")


@mailbox.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def mailbox_list(ctx: _Context, as_json: bool) -> None:
    """List every mailbox."""
    records = _with_store(ctx, lambda store: store.list_mailboxes())
    if as_json:
        _echo_json([record.to_json() for record in records])
        return
    if not records:
        click.echo("no mailboxes")
        return
    _echo_table(
        ("NUMBER", "NAME", "E-MAIL", "PIN", "NEW", "TOTAL"),
        [_mailbox_row(record) for record in records],
    )


def _mailbox_row(record: MailboxRecord) -> list[str]:
    return [
        record.number,
        record.name,
        ", ".join(record.emails) or "-",
        "yes" if record.has_pin else "no",
        str(record.new_messages),
        str(record.total_messages),
    ]


@mailbox.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def mailbox_show(ctx: _Context, number: str, as_json: bool) -> None:
    """Show mailbox NUMBER."""
    record = _with_store(ctx, lambda store: store.get_mailbox(number))
    if as_json:
        _echo_json(record.to_json())
    else:
        _echo_fields(record.to_json())


@mailbox.command("set")
@click.argument("number")
@click.option("--name", help="Owner or label shown in listings.")
@_mailbox_options
@click.option("--clear-pin", is_flag=True, help="Remove the PIN.")
@click.option(
    "--temporary-expires",
    metavar="TIME|never",
    help="When the temporary greeting stops playing (ISO 8601; UTC if no offset).",
)
@click.option("--owner", metavar="EMAIL|none", help="The user who sees it on the web.")
@click.pass_obj
def mailbox_set(
    ctx: _Context,
    /,
    number: str,
    name: str | None,
    pin: str | None,
    clear_pin: bool,
    temporary_expires: str | None,
    owner: str | None,
    **settings: Any,
) -> None:
    """Change settings of mailbox NUMBER."""
    changes: MailboxChanges = {}
    _fill_options(changes, settings)
    if pin is not None:
        changes["pin_must_change"] = not settings["pin_is_final"]
    if name is not None:
        changes["name"] = name
    if pin is not None and clear_pin:
        raise _fail("give either --pin or --clear-pin")
    if pin is not None:
        changes["pin"] = pin
    if clear_pin:
        changes["pin"] = None
    if temporary_expires is not None:
        changes["temporary_greeting_expires_at"] = _parse_expiry(temporary_expires)
    if not changes and owner is None:
        raise _fail("nothing to change: give at least one option (see --help)")

    async def update(store: Store) -> None:
        if changes:
            await store.update_mailbox(number, **changes)
        if owner is not None:
            user_id = None if owner == "none" else (await store.accounts.user_by_email(owner)).id
            await store.accounts.set_owner(number, user_id)

    _with_store(ctx, update)
    click.echo(f"updated mailbox {number}")


def _days(value: str, unset: str, unit: str = "days") -> int | None:
    """'14' → 14; the word ``unset`` ('inherit', 'forever', 'none') → None."""
    if value.strip().lower() == unset:
        return None
    try:
        return int(value)
    except ValueError:
        raise _fail(f"invalid number of {unit} {value!r}: give a whole number or {unset}") from None


def _parse_expiry(value: str) -> dt.datetime | None:
    if value.lower() in ("never", "none", ""):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"invalid time {value!r}: use ISO 8601, e.g. 2026-05-01T09:00+02:00") from None
    return when if when.utcoffset() is not None else when.replace(tzinfo=dt.UTC)


@mailbox.command("remove")
@click.argument("number")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def mailbox_remove(ctx: _Context, number: str, yes: bool) -> None:
    """Remove mailbox NUMBER with its messages, greetings and missed calls."""
    if not yes:
        record = _with_store(ctx, lambda store: store.get_mailbox(number))
        click.confirm(
            f"Remove mailbox {number} ({record.name}) and its {record.total_messages} message(s)?",
            abort=True,
        )
    _with_store(ctx, lambda store: store.remove_mailbox(number))
    click.echo(f"removed mailbox {number}")


@mailbox.command("greeting")
@click.argument("number")
@click.argument("kind", type=click.Choice([kind.value for kind in GreetingKind]))
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--remove", is_flag=True, help="Remove the greeting instead.")
@click.pass_obj
def mailbox_greeting(
    ctx: _Context, number: str, kind: str, file: Path | None, remove: bool
) -> None:
    """Set the KIND greeting of mailbox NUMBER from FILE (a WAV file), or --remove it."""
    if remove == (file is not None):
        raise _fail("give either a WAV file or --remove")
    if file is None:
        _with_store(ctx, lambda store: store.remove_greeting(number, kind))
        click.echo(f"removed the {kind} greeting of mailbox {number}")
        return
    try:
        audio = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    _with_store(ctx, lambda store: store.set_greeting(number, kind, audio))
    click.echo(f"set the {kind} greeting of mailbox {number}")


# -- messages ----------------------------------------------------------------------------------


@main.group()
def messages() -> None:
    """List, show, export, import and delete messages."""


@messages.command("list")
@click.argument("mailbox_number", metavar="[MAILBOX]", required=False)
@click.option("--folder", metavar="F", help="Only this folder (new, old, saved, deleted, …).")
@click.option("--search", metavar="TEXT", help="Only messages whose transcript or caller has it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def messages_list(
    ctx: _Context,
    mailbox_number: str | None,
    folder: str | None,
    search: str | None,
    as_json: bool,
) -> None:
    """List messages, newest first: all of them, or MAILBOX's."""
    records = _with_store(ctx, lambda store: store.list_messages(mailbox_number, folder, search))
    if as_json:
        _echo_json([record.to_json() for record in records])
        return
    if not records:
        click.echo("no messages")
        return
    _echo_table(
        ("ID", "RECEIVED (UTC)", "MAILBOX", "FROM", "LENGTH", "FOLDER"),
        [_message_row(record) for record in records],
    )


def _message_row(record: MessageRecord) -> list[str]:
    caller = record.caller_number
    if record.caller_name:
        caller = f"{record.caller_name} <{caller}>"
    return [
        str(record.id),
        _when(record.received_at),
        record.mailbox,
        caller,
        f"{record.duration_seconds:.1f}s",
        record.folder,
    ]


@messages.command("show")
@click.argument("message_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def messages_show(ctx: _Context, message_id: str, as_json: bool) -> None:
    """Show message ID."""
    record = _with_store(ctx, lambda store: store.get_message(message_id))
    if as_json:
        _echo_json(record.to_json())
    else:
        _echo_fields(record.to_json())


@messages.command("export")
@click.argument("message_id", metavar="[ID]", required=False)
@click.option("--mailbox", "mailbox_number", metavar="NUMBER", help="The whole mailbox, as a zip.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The WAV file to write ('-' for standard output), or the zip with --mailbox.",
)
@click.pass_obj
def messages_export(
    ctx: _Context, message_id: str | None, mailbox_number: str | None, output: Path
) -> None:
    """Write message ID as a WAV file (G.711, as received), or with --mailbox a whole mailbox
    (audio and JSON metadata, greetings too) as a zip that `messages import` reads back."""
    if (message_id is None) == (mailbox_number is None):
        raise _fail("give a message ID or --mailbox NUMBER")
    if mailbox_number is not None:
        from afterbeep.store.archive import export_mailbox

        count = _with_store(ctx, lambda store: export_mailbox(store, mailbox_number, output))
        click.echo(f"wrote {output}: mailbox {mailbox_number}, {count} message(s)")
        return
    assert message_id is not None
    audio = _with_store(ctx, lambda store: store.message_audio(message_id))
    try:
        with click.open_file(str(output), "wb") as stream:  # '-' is standard output
            stream.write(audio)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}") from None
    if str(output) != "-":
        click.echo(f"wrote {output} ({len(audio)} bytes)")


@messages.command("import")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mailbox", "mailbox_number", metavar="NUMBER", help="Into this mailbox instead.")
@click.pass_obj
def messages_import(ctx: _Context, archive: Path, mailbox_number: str | None) -> None:
    """Load a zip written by `messages export --mailbox` (again: existing messages are kept)."""
    from afterbeep.store.archive import import_mailbox

    result = _with_store(ctx, lambda store: import_mailbox(store, archive, mailbox_number))
    made = " (created)" if result.created else ""
    click.echo(
        f"mailbox {result.mailbox}{made}: {result.imported} message(s) imported, "
        f"{result.skipped} already there"
    )


@messages.command("delete")
@click.argument("message_ids", metavar="ID...", nargs=-1, required=True)
@click.pass_obj
def messages_delete(ctx: _Context, message_ids: tuple[str, ...]) -> None:
    """Delete messages and their audio (webhooks hear of it)."""

    async def delete_all(store: Store) -> None:
        for message_id in message_ids:
            await store.delete_message(message_id)

    _with_store(ctx, delete_all)
    click.echo(f"deleted {len(message_ids)} message(s)")


# -- missed calls ------------------------------------------------------------------------------


@main.group()
def missed() -> None:
    """Calls that reached a mailbox and left no message."""


@missed.command("list")
@click.argument("mailbox_number", metavar="[MAILBOX]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def missed_list(ctx: _Context, mailbox_number: str | None, as_json: bool) -> None:
    """List missed calls, newest first: all of them, or MAILBOX's."""
    records = _with_store(ctx, lambda store: store.list_missed_calls(mailbox_number))
    if as_json:
        _echo_json([record.to_json() for record in records])
        return
    if not records:
        click.echo("no missed calls")
        return
    _echo_table(
        ("AT (UTC)", "MAILBOX", "FROM", "REASON"),
        [_missed_row(record) for record in records],
    )


def _missed_row(record: MissedCallRecord) -> list[str]:
    caller = record.caller_number
    if record.caller_name:
        caller = f"{record.caller_name} <{caller}>"
    return [_when(record.at), record.mailbox, caller, record.reason.value]


# -- retention and consistency -----------------------------------------------------------------


@main.group()
def org() -> None:
    """Organizations (tenants) and the retention defaults (of the default organization)."""


@org.command("show")
@click.pass_obj
def org_show(ctx: _Context) -> None:
    """Show the retention defaults."""
    policy = _with_store(ctx, lambda store: store.organization_retention())
    days, deleted, warning = (
        policy.retention_days,
        policy.deleted_retention_days,
        policy.warning_days,
    )
    click.echo(f"retention_days          {'forever' if days is None else days}")
    click.echo(f"deleted_retention_days  {'forever' if deleted is None else deleted}")
    click.echo(f"warning_days            {'never' if warning is None else warning}")


@org.command("set")
@click.option("--retention-days", metavar="DAYS|forever", help="Keep messages this long.")
@click.option(
    "--deleted-retention-days", metavar="DAYS|forever", help="Keep deleted messages this long."
)
@click.option(
    "--warning-days",
    metavar="DAYS|never",
    help="Tell owners this long before retention deletes a message (default 3).",
)
@click.pass_obj
def org_set(
    ctx: _Context,
    retention_days: str | None,
    deleted_retention_days: str | None,
    warning_days: str | None,
) -> None:
    """Set the retention that mailboxes without their own follow."""

    async def update(store: Store) -> None:
        policy = await store.organization_retention()
        if retention_days is not None:
            policy = replace(policy, retention_days=_days(retention_days, "forever"))
        if deleted_retention_days is not None:
            deleted = _days(deleted_retention_days, "forever")
            policy = replace(policy, deleted_retention_days=deleted)
        if warning_days is not None:
            policy = replace(policy, warning_days=_days(warning_days, "never"))
        await store.set_organization_retention(policy)

    _with_store(ctx, update)
    click.echo("updated the organization's retention")


@org.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The organization's name.")
@click.pass_obj
def org_add(ctx: _Context, slug: str, name: str) -> None:
    """Create organization SLUG (a tenant: its users see only its mailboxes)."""
    record = _with_store(ctx, lambda store: store.accounts.add_organization(slug, name))
    click.echo(f"added organization {record.slug} ({record.name})")


@org.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def org_list(ctx: _Context, as_json: bool) -> None:
    """List the organizations."""
    records = _with_store(ctx, lambda store: store.accounts.organizations())
    if as_json:
        _echo_json([record.to_json() for record in records])
    else:
        _echo_table(("SLUG", "NAME"), [[r.slug, r.name] for r in records])


# -- web users ---------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """People who log in to the web app and the REST API."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's name.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.MEMBER.value,
    show_default=True,
    help="provider: every organization; admin: one organization; member: own mailboxes.",
)
@click.option(
    "--org", "organization", default="default", show_default=True, help="Their organization."
)
@click.option("--timezone", default="UTC", show_default=True, help="Times shown in this zone.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_obj
def user_add(
    ctx: _Context,
    email: str,
    name: str,
    role: str,
    organization: str,
    timezone: str,
    password_stdin: bool,
) -> None:
    """Create a user who logs in with EMAIL (asks for the password)."""
    secret = _read_password(password_stdin)
    record = _with_store(
        ctx,
        lambda store: store.accounts.add_user(email, name, secret, role, organization, timezone),
    )
    click.echo(f"added user {record.email} ({record.role.value} of {record.organization})")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def user_list(ctx: _Context, as_json: bool) -> None:
    """List the users."""
    records = _with_store(ctx, lambda store: store.accounts.users())
    if as_json:
        _echo_json([record.to_json() for record in records])
    else:
        _echo_table(
            ("EMAIL", "NAME", "ROLE", "ORGANIZATION"),
            [[r.email, r.name, r.role.value, r.organization] for r in records],
        )


@user.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_obj
def user_password(ctx: _Context, email: str, password_stdin: bool) -> None:
    """Set EMAIL's password (their browser sessions end)."""
    secret = _read_password(password_stdin)

    async def change(store: Store) -> None:
        found = await store.accounts.user_by_email(email)
        await store.accounts.update_user(found.id, secret=secret)

    _with_store(ctx, change)
    click.echo(f"changed the password of {email}")


@user.command("remove")
@click.argument("email")
@click.pass_obj
def user_remove(ctx: _Context, email: str) -> None:
    """Remove user EMAIL (their mailboxes stay, with no owner)."""

    async def remove(store: Store) -> None:
        await store.accounts.remove_user((await store.accounts.user_by_email(email)).id)

    _with_store(ctx, remove)
    click.echo(f"removed user {email}")


@user.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.pass_obj
def user_token(ctx: _Context, email: str, name: str) -> None:
    """Create an API token for EMAIL; prints it once (send it as 'Authorization: Bearer …')."""

    async def create(store: Store) -> str:
        found = await store.accounts.user_by_email(email)
        return (await store.accounts.create_token(found.id, name))[1]

    click.echo(_with_store(ctx, create))


@main.command()
@click.pass_obj
def purge(ctx: _Context) -> None:
    """Delete the messages that outlived their retention now (serve does it hourly)."""
    from afterbeep.store.retention import purge_expired

    result = _with_store(ctx, purge_expired)
    click.echo(f"deleted {result.deleted} message(s) from {result.mailboxes} mailbox(es)")


@main.command()
@click.option("--fix", is_flag=True, help="Delete orphan files and rows whose audio is gone.")
@click.pass_obj
def check(ctx: _Context, fix: bool) -> None:
    """Prove that audio and rows go together: exit status 1 if they do not."""
    from afterbeep.store.retention import check as run_check

    report = _with_store(ctx, lambda store: run_check(store, fix))
    click.echo(f"{report.messages} message(s), {report.files} audio file(s)")
    for message_id in report.missing_audio:
        click.echo(f"message without audio: {message_id}")
    for key in report.orphan_files:
        click.echo(f"audio without a message or greeting: {key}")
    if fix:
        click.echo(f"fixed {report.fixed}")
    elif not report.consistent:
        raise SystemExit(1)


# -- backup and restore ------------------------------------------------------------------------


@main.command()
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The zip file to write (written as FILE.partial, then renamed).",
)  # fmt: skip
@click.pass_obj
def backup(ctx: _Context, output: Path) -> None:
    """Back up the whole installation (database and audio) while it runs."""
    from afterbeep.store.backup import backup as run_backup

    result = _with_store(ctx, lambda store: run_backup(store, output))
    rows = sum(result.tables.values())
    click.echo(
        f"wrote {output}: {rows} row(s) in {len(result.tables)} table(s), "
        f"{result.files} audio file(s), {result.bytes} bytes"
    )
    if result.skipped:
        click.echo(f"left out {result.skipped} row(s) deleted while the backup ran")


@main.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def restore(ctx: _Context, archive: Path) -> None:
    """Restore a backup into an empty installation (a fresh data folder or database).

    A backup made on SQLite restores into PostgreSQL (--database) and back: the way to move
    from the embedded default to a database server.
    """
    from afterbeep.store.backup import restore as run_restore

    result = _with_store(ctx, lambda store: run_restore(store, archive))
    rows = sum(result.tables.values())
    click.echo(f"restored {rows} row(s) and {result.files} audio file(s) from {archive}")


# -- import from other systems -----------------------------------------------------------------


@main.group("import")
def import_group() -> None:
    """Move mailboxes and messages over from another voicemail system."""


@import_group.command("asterisk")
@click.option(
    "--conf",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="voicemail.conf (mailboxes, PINs, e-mail addresses).",
)
@click.option(
    "--spool",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The voicemail spool, e.g. /var/spool/asterisk/voicemail.",
)
@click.option("--context", "contexts", multiple=True, help="Only this context (repeatable).")
@click.pass_obj
def import_asterisk_command(
    ctx: _Context, conf: Path, spool: Path | None, contexts: tuple[str, ...]
) -> None:
    """Create the mailboxes of an Asterisk/FreePBX voicemail.conf and load their messages and
    greetings (run it again to add what is new)."""
    from afterbeep.store.asterisk import import_asterisk

    report = _with_store(ctx, lambda store: import_asterisk(store, conf, spool, contexts))
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(
        f"{report.mailboxes_created} mailbox(es) created, {report.messages_imported} "
        f"message(s) imported, {report.messages_skipped} already there"
    )


# -- notifications -----------------------------------------------------------------------------


def _env_option(name: str, env: str, help_text: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(name, envvar=env, help=f"{help_text}  [env: {env}]", **kwargs)


def _notify_options(command: F) -> F:
    """The e-mail, SMS and delivery settings ``serve`` and ``notify test`` share."""
    options = [
        _env_option(
            "--smtp-host", "AFTERBEEP_SMTP_HOST", "SMTP server for e-mail.", metavar="HOST"
        ),
        _env_option(
            "--smtp-port", "AFTERBEEP_SMTP_PORT", "SMTP port.", type=int, default=25,
            show_default=True,
        ),
        _env_option(
            "--smtp-security", "AFTERBEEP_SMTP_SECURITY",
            "auto: STARTTLS when offered; starttls: required; tls: implicit TLS (port 465).",
            type=click.Choice(SMTP_SECURITY_MODES), default="auto", show_default=True,
        ),
        _env_option(
            "--smtp-ca-file", "AFTERBEEP_SMTP_CA_FILE",
            "CA certificates (PEM) to trust for the SMTP server's TLS certificate.",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
        ),
        _env_option("--smtp-user", "AFTERBEEP_SMTP_USER", "SMTP login.", metavar="NAME"),
        _env_option(
            "--smtp-password", "AFTERBEEP_SMTP_PASSWORD", "SMTP password.", metavar="SECRET"
        ),
        _env_option(
            "--smtp-from", "AFTERBEEP_SMTP_FROM", "Sender address.", metavar="ADDR",
            default="afterbeep@localhost", show_default=True,
        ),
        _env_option(
            "--default-email", "AFTERBEEP_DEFAULT_EMAIL",
            "Gets the notices of mailboxes without an address.", metavar="ADDR",
        ),
        _env_option(
            "--duplicate-to-default/--no-duplicate-to-default", "AFTERBEEP_DUPLICATE_TO_DEFAULT",
            "Copy every message notice to the default address.", default=False,
        ),
        _env_option(
            "--web-url", "AFTERBEEP_WEB_URL", "Base URL of the web UI, for links in e-mails.",
            metavar="URL",
        ),
        _env_option(
            "--email-templates", "AFTERBEEP_EMAIL_TEMPLATES",
            "Folder of e-mail templates replacing the bundled ones by name.",
            type=click.Path(file_okay=False, exists=True, path_type=Path),
        ),
        _env_option(
            "--phone-region", "AFTERBEEP_PHONE_REGION",
            "Country of numbers dialled without a country code.", default="US",
            show_default=True, metavar="CC",
        ),
        _env_option(
            "--sms-provider", "AFTERBEEP_SMS_PROVIDER", "How SMS are sent.",
            type=click.Choice(["none", "webhook", "twilio"]), default="none", show_default=True,
        ),
        _env_option(
            "--sms-url", "AFTERBEEP_SMS_URL",
            "The webhook provider's URL, or Twilio's API base URL.", metavar="URL",
        ),
        _env_option(
            "--sms-token", "AFTERBEEP_SMS_TOKEN", "Bearer token (webhook) or auth token (Twilio).",
            metavar="SECRET",
        ),
        _env_option("--sms-account", "AFTERBEEP_SMS_ACCOUNT", "Twilio account SID.", metavar="SID"),
        _env_option(
            "--sms-from", "AFTERBEEP_SMS_FROM", "SMS sender number or name.", metavar="FROM"
        ),
        _env_option(
            "--retry-base", "AFTERBEEP_RETRY_BASE", "Seconds before a delivery's first retry.",
            type=click.FloatRange(min=0.01), default=5.0, show_default=True,
        ),
        _env_option(
            "--retry-cap", "AFTERBEEP_RETRY_CAP", "Longest wait between retries, in seconds.",
            type=click.FloatRange(min=0.01), default=600.0, show_default=True,
        ),
        _env_option(
            "--max-attempts", "AFTERBEEP_MAX_ATTEMPTS", "Tries before a delivery is failed.",
            type=click.IntRange(min=1), default=30, show_default=True,
        ),
        _env_option(
            "--transcription/--no-transcription", "AFTERBEEP_TRANSCRIPTION",
            "Turn new messages into text (faster-whisper, offline).", default=True,
            show_default=True,
        ),
        _env_option(
            "--transcribe-model", "AFTERBEEP_TRANSCRIBE_MODEL",
            "A CTranslate2 Whisper model folder (default: the bundled tiny.en, English only).",
            metavar="PATH",
        ),
        _env_option(
            "--transcript-wait", "AFTERBEEP_TRANSCRIPT_WAIT",
            "Seconds a new message's e-mail and SMS wait for its transcript.",
            type=click.FloatRange(min=0), default=10.0, show_default=True,
        ),
        _env_option(
            "--job-lease", "AFTERBEEP_JOB_LEASE",
            "Seconds before another worker takes over a dead worker's delivery.",
            type=click.FloatRange(min=0.5), default=30.0, show_default=True,
        ),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _notify_settings(options: dict[str, Any]) -> NotifySettings:
    return NotifySettings(
        smtp_host=options["smtp_host"] or None,
        smtp_port=options["smtp_port"],
        smtp_security=options["smtp_security"],
        smtp_ca_file=options["smtp_ca_file"],
        smtp_username=options["smtp_user"] or None,
        smtp_password=options["smtp_password"] or None,
        smtp_from=options["smtp_from"],
        default_email=options["default_email"] or None,
        duplicate_to_default=options["duplicate_to_default"],
        web_base_url=options["web_url"] or None,
        templates_dir=options["email_templates"],
        phone_region=options["phone_region"].upper(),
        sms_provider=options["sms_provider"],
        sms_url=options["sms_url"] or None,
        sms_token=options["sms_token"] or None,
        sms_account=options["sms_account"] or None,
        sms_from=options["sms_from"] or None,
        retry_base=options["retry_base"],
        retry_cap=options["retry_cap"],
        max_attempts=options["max_attempts"],
        lease=options["job_lease"],
        transcription=options["transcription"],
        transcribe_model=options["transcribe_model"] or None,
        transcript_wait=options["transcript_wait"],
    )


@main.group()
def notify() -> None:
    """Check the notification channels."""


@notify.command("test")
@click.argument("address")
@_notify_options
def notify_test(address: str, **options: Any) -> None:
    """Send a test e-mail to ADDRESS; print the server's reply or the exact error."""
    from afterbeep.notify.content import DeliveryError
    from afterbeep.notify.deliver import message_id_for
    from afterbeep.notify.email import compose_test_email
    from afterbeep.notify.smtp import send_email

    settings = _notify_settings(options)
    message = compose_test_email(
        sender=settings.smtp_from,
        to=[address],
        message_id=message_id_for(
            f"test:{dt.datetime.now(dt.UTC).isoformat()}", settings.smtp_from
        ),
    )
    try:
        reply = asyncio.run(send_email(settings, message))
    except DeliveryError as exc:
        raise _fail(f"not sent: {exc}") from None
    click.echo(f"sent to {address} via {settings.smtp_host}:{settings.smtp_port}: {reply}")


# -- jobs --------------------------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """The outbox: notifications waiting, delivered or failed."""


@jobs.command("list")
@click.option(
    "--status", type=click.Choice([status.value for status in JobStatus]), help="Only these."
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def jobs_list(ctx: _Context, status: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first, with the last error of each."""
    chosen = None if status is None else JobStatus(status)
    records = _with_store(ctx, lambda store: store.jobs.records(chosen, limit))
    if as_json:
        _echo_json([record.to_json() for record in records])
        return
    if not records:
        click.echo("no jobs")
        return
    _echo_table(
        ("ID", "KIND", "STATUS", "TRIES", "NEXT/DONE (UTC)", "KEY", "LAST ERROR"),
        [_job_row(record) for record in records],
    )


def _job_row(record: JobRecord) -> list[str]:
    when = record.finished_at if record.finished_at is not None else record.run_after
    return [
        str(record.id),
        record.kind,
        record.status.value,
        str(record.attempts),
        _when(when),
        record.key,
        record.last_error or "-",
    ]


@jobs.command("retry")
@click.argument("job_ids", metavar="[ID]...", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed job.")
@click.pass_obj
def jobs_retry(ctx: _Context, job_ids: tuple[int, ...], all_failed: bool) -> None:
    """Make failed jobs due again now, with fresh attempts (a running server picks them up)."""
    if bool(job_ids) == all_failed:
        raise _fail("give job IDs or --all-failed")
    ids = None if all_failed else list(job_ids)
    retried = _with_store(ctx, lambda store: store.jobs.retry(ids))
    if ids is not None and (missing := sorted(set(ids) - set(retried))):
        click.echo(f"not failed (or no such job): {', '.join(map(str, missing))}", err=True)
    click.echo(f"retrying {len(retried)} job(s)")


# -- webhooks ----------------------------------------------------------------------------------


@main.group()
def webhook() -> None:
    """HTTP endpoints told about new messages, deletions and missed calls."""


@webhook.command("add")
@click.argument("url")
@click.option("--mailbox", "mailbox_number", metavar="NUMBER", help="Only this mailbox's events.")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(WEBHOOK_EVENTS),
    help="Subscribe to this event (repeatable; default: all).",
)
@click.option("--secret", help="Signing secret (default: a new random one, printed once).")
@click.pass_obj
def webhook_add(
    ctx: _Context, url: str, mailbox_number: str | None, events: tuple[str, ...], secret: str | None
) -> None:
    """Send signed JSON events to URL."""
    record, signing_secret = _with_store(
        ctx,
        lambda store: store.webhooks.add(url, mailbox_number, events or WEBHOOK_EVENTS, secret),
    )
    click.echo(f"added webhook {record.id} → {record.url} ({', '.join(record.events)})")
    click.echo(f"signing secret: {signing_secret}")


@webhook.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def webhook_list(ctx: _Context, as_json: bool) -> None:
    """List webhooks (their secrets are not shown)."""
    records = _with_store(ctx, lambda store: store.webhooks.records())
    if as_json:
        _echo_json([record.to_json() for record in records])
        return
    if not records:
        click.echo("no webhooks")
        return
    _echo_table(("ID", "URL", "MAILBOX", "EVENTS"), [_webhook_row(r) for r in records])


def _webhook_row(record: WebhookRecord) -> list[str]:
    return [str(record.id), record.url, record.mailbox or "(all)", ", ".join(record.events)]


@webhook.command("remove")
@click.argument("webhook_id", metavar="ID", type=int)
@click.pass_obj
def webhook_remove(ctx: _Context, webhook_id: int) -> None:
    """Remove webhook ID."""
    _with_store(ctx, lambda store: store.webhooks.remove(webhook_id))
    click.echo(f"removed webhook {webhook_id}")


# -- serve -------------------------------------------------------------------------------------


def _hostport(option: str, value: str, default_port: int) -> tuple[str, int]:
    try:
        host, port = parse_hostport(value, default_port)
    except ValueError:
        raise _fail(f"invalid {option} {value!r}: use HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise _fail(f"invalid {option} {value!r}: port {port} is out of range")
    return host, port


@main.command()
@click.option(
    "--sip-listen",
    envvar="AFTERBEEP_SIP_LISTEN",
    default="0.0.0.0:5060",
    show_default=True,
    metavar="HOST:PORT",
    help="SIP address (UDP and TCP).  [env: AFTERBEEP_SIP_LISTEN]",
)
@click.option(
    "--http-listen",
    envvar="AFTERBEEP_HTTP_LISTEN",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="HTTP address of the web app, the REST API, /healthz and /metrics.  "
    "[env: AFTERBEEP_HTTP_LISTEN]",
)
@click.option(
    "--http-trust-proxy",
    "http_trust_proxy",
    envvar="AFTERBEEP_HTTP_TRUST_PROXY",
    default="",
    metavar="ADDRS",
    help="Comma-separated addresses of TLS proxies in front whose X-Forwarded-For and "
    "X-Forwarded-Proto are believed.  [env: AFTERBEEP_HTTP_TRUST_PROXY]",
)
@click.option(
    "--external-address",
    envvar="AFTERBEEP_EXTERNAL_ADDRESS",
    metavar="ADDR",
    help="Address put in SIP and SDP when behind NAT.  [env: AFTERBEEP_EXTERNAL_ADDRESS]",
)
@click.option(
    "--rtp-ports",
    envvar="AFTERBEEP_RTP_PORTS",
    default="20000-30000",
    show_default=True,
    metavar="LO-HI",
    help="RTP port range.  [env: AFTERBEEP_RTP_PORTS]",
)
@click.option(
    "--operator-uri",
    envvar="AFTERBEEP_OPERATOR_URI",
    metavar="URI",
    help="Where '0' during the greeting transfers to.  [env: AFTERBEEP_OPERATOR_URI]",
)
@click.option(
    "--reject-unknown/--answer-unknown",
    envvar="AFTERBEEP_REJECT_UNKNOWN",
    default=False,
    show_default=True,
    help="Answer calls to unknown mailboxes with 404, or with a prompt.  "
    "[env: AFTERBEEP_REJECT_UNKNOWN]",
)
@click.option(
    "--answer-delay",
    envvar="AFTERBEEP_ANSWER_DELAY",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to ring before answering.  [env: AFTERBEEP_ANSWER_DELAY]",
)
@click.option(
    "--access-number",
    "access_numbers",
    multiple=True,
    metavar="NUMBER",
    help="Dial-in number (repeatable; default *98 and voicemail). A call forwarded to it "
    "leaves a message instead.",
)
@click.option(
    "--min-pin-length",
    type=click.IntRange(4, 16),
    default=4,
    show_default=True,
    help="Shortest PIN an owner may choose by phone.",
)
@click.option(
    "--force-greetings/--no-force-greetings",
    default=True,
    show_default=True,
    help="At the first login, ask for the name and greeting when they are missing.",
)
@click.option(
    "--login-failures",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Wrong PINs (per mailbox, and per source) before a lock.",
)
@click.option(
    "--login-lock",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds of the first lock; each further lock doubles, up to a day.",
)
@click.option(
    "--mwi-trust",
    envvar="AFTERBEEP_MWI_TRUST",
    multiple=True,
    metavar="CIDR",
    help="Network allowed to SUBSCRIBE to message-waiting counts (repeatable; replaces the "
    "default 127.0.0.0/8 and ::1/128).  [env: AFTERBEEP_MWI_TRUST, space-separated]",
)
@click.option(
    "--mwi-notify",
    envvar="AFTERBEEP_MWI_NOTIFY",
    multiple=True,
    metavar="NUMBER=SIP-URI",
    help="Send mailbox NUMBER's message-waiting state to the phone at SIP-URI without a "
    "subscription, at start-up and on every change (repeatable).  "
    "[env: AFTERBEEP_MWI_NOTIFY, space-separated]",
)
@click.option(
    "--log-level",
    envvar="AFTERBEEP_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="[env: AFTERBEEP_LOG_LEVEL]",
)
@_notify_options
@click.pass_obj
def serve(
    ctx: _Context,
    /,
    sip_listen: str,
    http_listen: str,
    http_trust_proxy: str,
    external_address: str | None,
    rtp_ports: str,
    operator_uri: str | None,
    reject_unknown: bool,
    answer_delay: float,
    access_numbers: tuple[str, ...],
    min_pin_length: int,
    force_greetings: bool,
    login_failures: int,
    login_lock: float,
    mwi_trust: tuple[str, ...],
    mwi_notify: tuple[str, ...],
    log_level: str,
    **notify_options: Any,
) -> None:
    """Run the voicemail server (SIP, RTP, HTTP) until interrupted."""
    sip_host, sip_port = _hostport("--sip-listen", sip_listen, 5060)
    http_host, http_port = _hostport("--http-listen", http_listen, 8080)
    try:
        rtp_range = parse_port_range(rtp_ports)
    except ValueError:
        raise _fail(f"invalid --rtp-ports {rtp_ports!r}: use LOW-HIGH within 1024-65535") from None
    from afterbeep.net.mwi import parse_contacts, parse_networks

    try:
        parse_networks(mwi_trust)
        parse_contacts(mwi_notify)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    settings = Settings(
        data_dir=ctx.data_dir,
        database_url=ctx.database_url,
        sip_host=sip_host,
        sip_port=sip_port,
        http_host=http_host,
        http_port=http_port,
        http_trusted_proxies=http_trust_proxy,
        external_address=external_address or None,
        rtp_ports=rtp_range,
        operator_uri=operator_uri or None,
        reject_unknown_mailbox=reject_unknown,
        answer_delay=answer_delay,
        access_numbers=access_numbers or ("*98", "voicemail"),
        min_pin_length=min_pin_length,
        force_greetings=force_greetings,
        login_policy=LoginPolicy(max_failures=login_failures, first_lock=login_lock),
        mwi_trusted=tuple(mwi_trust) or MWI_TRUSTED_DEFAULT,
        mwi_contacts=tuple(mwi_notify),
        log_level=log_level.upper(),
        notify=_notify_settings(notify_options),
    )
    # Imported here: the admin commands need none of the network stack.
    from afterbeep.app import run

    try:
        run(settings)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    except (OSError, ValueError) as exc:  # an address in use, a broken template folder
        raise _fail(f"cannot serve: {exc}") from None
