"""Message-waiting lamps: the asyncio service around the SIP core's subscriptions.

It keeps the subscriptions (``sip.subscription``) per mailbox and decides who may subscribe:
only sources in the trusted networks (403 otherwise: a mailbox's counts are private and
afterbeep has no SIP authentication yet), only to mailboxes that exist (404). When the store
says a mailbox's messages changed (``on_counts_changed``: a message left, heard, filed,
deleted, purged), it reads the counts once after a short debounce and NOTIFYs every
subscription of that mailbox whose state changed, and sends an unsolicited NOTIFY to the
phones configured for it (``--mwi-notify NUMBER=SIP-URI``).

So that lamps are right after a restart: configured phones get a NOTIFY at start-up (and
again every ``resync`` seconds, for phones that rebooted), and subscriptions are kept in a
small JSON file in the data folder and taken back at start-up, then NOTIFYed with the counts
of now. Changes made by another process (the CLI, another node) reach subscribers at the
next resync, or at the subscriber's next refresh, which re-reads the counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from afterbeep.domain import MailboxProfile
from afterbeep.net.addresses import is_ip, route_address
from afterbeep.net.sip_transport import SipTransport
from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.mwi import lamp_counts, message_summary
from afterbeep.sip.subscription import (
    IncomingSubscribe,
    Subscription,
    SubscriptionEnded,
    SubscriptionEvent,
    SubscriptionRefreshed,
    SubscriptionState,
    UnsolicitedNotifyCompleted,
)
from afterbeep.sip.uri import NameAddr, SipUri

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Mailboxes(Protocol):
    """What the service needs from the store."""

    async def find_mailbox(self, number: str) -> MailboxProfile | None: ...

    async def folder_counts(self, number: str) -> dict[str, int]: ...

    def on_counts_changed(self, listener: Callable[[int], None]) -> None: ...


@dataclass(frozen=True, slots=True)
class MwiOptions:
    trusted: tuple[str, ...] = ("127.0.0.0/8", "::1/128")  # CIDRs allowed to SUBSCRIBE
    contacts: tuple[str, ...] = ()  # "NUMBER=sip:phone@host:port": unsolicited NOTIFYs
    # The user part of Message-Account (the number to call to hear the messages) and of the
    # From of unsolicited NOTIFYs: the dial-in access number; None: the mailbox number.
    account_user: str | None = None
    # Numbers that name no mailbox but "my voicemail": a SUBSCRIBE to one of them is for the
    # mailbox of the subscriber's own From user (phones configured with *98 as MWI URI).
    generic_numbers: tuple[str, ...] = ()
    state_file: Path | None = None  # where subscriptions are kept across restarts
    debounce: float = 0.05  # seconds: a burst of changes is one read and one NOTIFY
    resync: float = 300.0  # seconds between re-reads for every watched mailbox


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"invalid --mwi-trust {value!r}: use a CIDR such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


def parse_contacts(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``NUMBER=sip:phone@host:port`` → (number, uri)."""
    contacts = []
    for value in values:
        number, eq, uri = value.partition("=")
        number, uri = number.strip(), uri.strip()
        try:
            parsed = SipUri.parse(uri) if eq and number else None
        except SipSyntaxError:
            parsed = None
        if parsed is None or parsed.scheme != "sip" or not parsed.host:
            raise ValueError(f"invalid --mwi-notify {value!r}: use NUMBER=sip:phone@host:port")
        contacts.append((number, uri))
    return tuple(contacts)


class MwiService:
    def __init__(self, store: Mailboxes, sip: SipTransport, options: MwiOptions) -> None:
        self._store = store
        self._sip = sip
        self._options = options
        self._trusted = parse_networks(options.trusted)
        self._contacts = parse_contacts(options.contacts)
        self._loop = asyncio.get_running_loop()
        self._subscriptions: dict[int, set[Subscription]] = {}  # by mailbox id
        self._numbers: dict[int, str] = {}  # mailbox id → number, for those we watch
        self._contact_ids: dict[str, int] = {}  # a contact's number → its mailbox id
        self._sent: dict[str, bytes] = {}  # contact URI → the body it was last sent
        self._generation: dict[int, int] = {}  # changes seen per mailbox id
        self._dirty: set[int] = set()
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._resync_task: asyncio.Task[None] | None = None
        self._state_dirty = False
        self._saving: asyncio.Task[None] | None = None

    # ---- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take back kept subscriptions, NOTIFY the configured phones, start the resync."""
        self._store.on_counts_changed(self._changed)
        await self._restore()
        for number, _ in self._contacts:
            mailbox = await self._store.find_mailbox(number)
            if mailbox is None:
                log.warning("mwi: --mwi-notify for %s, which is no mailbox (yet)", number)
                continue
            self._contact_ids[number] = mailbox.id
            self._numbers[mailbox.id] = number
        watched = set(self._contact_ids.values()) | set(self._subscriptions)
        await self._publish_all(sorted(watched), resend=True)
        self._resync_task = self._loop.create_task(self._resync())

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        tasks = [*self._tasks, self._resync_task, self._saving]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        await self._save()  # what the next start takes back

    @property
    def subscriptions(self) -> int:
        return sum(len(subs) for subs in self._subscriptions.values())

    # ---- SIP events (from the transport's flush) ---------------------------------------------

    def on_event(self, event: SubscriptionEvent) -> None:
        if isinstance(event, IncomingSubscribe):
            subscription = event.subscription
            if not self._is_trusted(subscription.source.host):
                log.info(
                    "mwi: SUBSCRIBE for %r from %s refused: not in --mwi-trust",
                    subscription.resource, subscription.source.host,
                )  # fmt: skip
                self._sip.act(lambda now: self._sip.ua.reject_subscription(subscription, 403, now))
                return
            self._spawn(self._admit(subscription))
        elif isinstance(event, SubscriptionRefreshed):
            self._mark_dirty()
            mailbox_id = event.subscription.app
            if isinstance(mailbox_id, int):
                # The core resent the last state at once; re-read in case another process
                # changed the counts meanwhile (a NOTIFY follows only if they differ).
                self._changed(mailbox_id, count=False)
        elif isinstance(event, SubscriptionEnded):
            self._forget(event.subscription, event.reason)
        elif isinstance(event, UnsolicitedNotifyCompleted):
            response = event.response
            if response is None or response.status >= 300:
                answer = "no answer" if response is None else f"{response.status} {response.reason}"
                log.warning("mwi: NOTIFY to %s: %s", event.target, answer)

    # ---- subscriptions -----------------------------------------------------------------------

    async def _admit(self, subscription: Subscription) -> None:
        ua = self._sip.ua
        try:
            number = self._mailbox_number(subscription)
            mailbox = await self._store.find_mailbox(number) if number else None
            if mailbox is None:
                log.info("mwi: SUBSCRIBE for %r: no such mailbox", subscription.resource)
                self._sip.act(lambda now: ua.reject_subscription(subscription, 404, now))
                return
            generation = self._generation.get(mailbox.id, 0)
            body = await self._body(mailbox.number, subscription.local_host)
        except Exception:
            log.exception("mwi: SUBSCRIBE for %r failed", subscription.resource)
            self._sip.act(lambda now: ua.reject_subscription(subscription, 500, now))
            return
        subscription.app = mailbox.id
        self._numbers[mailbox.id] = mailbox.number
        self._subscriptions.setdefault(mailbox.id, set()).add(subscription)
        self._sip.act(lambda now: ua.accept_subscription(subscription, now, body))
        log.info(
            "mwi: %s subscribed to %s for %d s",
            subscription.source.host, mailbox.number, subscription.expires,
        )  # fmt: skip
        self._mark_dirty()
        if subscription.state is SubscriptionState.ACTIVE and (
            self._generation.get(mailbox.id, 0) != generation
        ):
            self._changed(mailbox.id, count=False)  # changed while we read: read again

    def _mailbox_number(self, subscription: Subscription) -> str:
        if subscription.resource not in self._options.generic_numbers:
            return subscription.resource
        try:
            return NameAddr.parse(subscription.remote_party).sip_uri().user or ""
        except SipSyntaxError:
            return ""

    def _forget(self, subscription: Subscription, reason: str) -> None:
        mailbox_id = subscription.app
        if isinstance(mailbox_id, int):
            subs = self._subscriptions.get(mailbox_id)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._subscriptions[mailbox_id]
        self._mark_dirty()
        log.info("mwi: subscription to %s ended (%s)", subscription.resource, reason)

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    # ---- changes -----------------------------------------------------------------------------

    def _changed(self, mailbox_id: int, count: bool = True) -> None:
        """The store's listener: coalesce changes for ``debounce`` seconds, then publish."""
        if count:
            self._generation[mailbox_id] = self._generation.get(mailbox_id, 0) + 1
        self._dirty.add(mailbox_id)
        if self._flush is None:
            self._flush = self._loop.call_later(self._options.debounce, self._flush_dirty)

    def _flush_dirty(self) -> None:
        self._flush = None
        dirty, self._dirty = self._dirty, set()
        self._spawn(self._publish_all(dirty))

    async def _publish_all(self, mailbox_ids: Iterable[int], resend: bool = False) -> None:
        for mailbox_id in mailbox_ids:
            try:
                await self._publish(mailbox_id, resend=resend)
            except Exception:
                log.exception("mwi: cannot publish the counts of mailbox %d", mailbox_id)

    async def _publish(self, mailbox_id: int, resend: bool = False) -> None:
        """NOTIFY what changed to the mailbox's subscribers and phones (all phones: resend)."""
        if mailbox_id not in self._numbers:
            await self._resolve_contacts()
        number = self._numbers.get(mailbox_id)
        subs = [
            sub
            for sub in self._subscriptions.get(mailbox_id, ())
            if sub.state is SubscriptionState.ACTIVE
        ]
        contacts = [uri for n, uri in self._contacts if self._contact_ids.get(n) == mailbox_id]
        if number is None or not (subs or contacts):
            return  # nobody watches this mailbox
        try:
            folders = await self._store.folder_counts(number)
        except Exception:
            if await self._store.find_mailbox(number) is not None:
                raise
            self._mailbox_gone(mailbox_id, number)
            return
        ua = self._sip.ua
        for sub in subs:
            body = self._summary(number, sub.local_host, folders)
            if body != sub.last_body:
                self._sip.act(functools.partial(ua.notify, sub, body))
                self._mark_dirty()  # its CSeq moved
        user = self._options.account_user or number
        for uri in contacts:
            host = await self._local_host_for(uri)
            body = self._summary(number, host, folders)
            if resend or self._sent.get(uri) != body:
                self._sent[uri] = body
                send = functools.partial(
                    ua.unsolicited_notify, uri, body, local_host=host, from_user=user
                )
                self._sip.act(send)

    def _mailbox_gone(self, mailbox_id: int, number: str) -> None:
        log.info("mwi: mailbox %s was removed: its subscriptions end", number)
        ua = self._sip.ua
        for sub in list(self._subscriptions.get(mailbox_id, ())):
            self._sip.act(functools.partial(ua.terminate_subscription, sub, reason="noresource"))
        self._numbers.pop(mailbox_id, None)
        for contact_number, contact_id in list(self._contact_ids.items()):
            if contact_id == mailbox_id:
                del self._contact_ids[contact_number]

    async def _resolve_contacts(self) -> None:
        """Contacts for mailboxes created after start-up."""
        for number, _ in self._contacts:
            if number not in self._contact_ids:
                mailbox = await self._store.find_mailbox(number)
                if mailbox is not None:
                    self._contact_ids[number] = mailbox.id
                    self._numbers[mailbox.id] = number

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self._options.resync)
            await self._resolve_contacts()
            watched = set(self._contact_ids.values()) | set(self._subscriptions)
            await self._publish_all(sorted(watched), resend=True)
            await self._save()

    # ---- bodies ------------------------------------------------------------------------------

    async def _body(self, number: str, local_host: str) -> bytes:
        return self._summary(number, local_host, await self._store.folder_counts(number))

    def _summary(self, number: str, local_host: str, folders: dict[str, int]) -> bytes:
        new, old = lamp_counts(folders)
        host = f"[{local_host}]" if ":" in local_host else local_host
        account = f"sip:{self._options.account_user or number}@{host}"
        return message_summary(account, new, old)

    async def _local_host_for(self, uri: str) -> str:
        advertised = self._sip.ua.advertised_host
        if advertised:
            return advertised
        host = SipUri.parse(uri).host
        if not is_ip(host):
            try:
                infos = await self._loop.getaddrinfo(host, None)
                host = str(infos[0][4][0])
            except OSError:
                return "127.0.0.1"  # the send will fail and be logged by the transport
        return route_address(host)

    # ---- kept across restarts ----------------------------------------------------------------

    async def _restore(self) -> None:
        path = self._options.state_file
        if path is None or not path.exists():
            return
        try:
            data = json.loads(await asyncio.to_thread(path.read_text, "utf-8"))
            elapsed = max(0.0, time.time() - float(data["saved_at"]))
            records = list(data["subscriptions"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("mwi: cannot read %s: %s", path, exc)
            return
        now = self._loop.time()
        restored = 0
        for record in records:
            try:
                snapshot = dict(record["dialog"])
                snapshot["expires_in"] = float(snapshot["expires_in"]) - elapsed
                subscription = Subscription.from_snapshot(snapshot, now)
                number = str(record["mailbox"])
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("mwi: skipping a kept subscription: %s", exc)
                continue
            if subscription.source.reliable:
                continue  # its connection is gone; the phone's refresh will find out
            mailbox = await self._store.find_mailbox(number)
            if mailbox is None or not self._sip.ua.notifier.restore(subscription, now):
                continue
            subscription.app = mailbox.id
            self._numbers[mailbox.id] = mailbox.number
            self._subscriptions.setdefault(mailbox.id, set()).add(subscription)
            restored += 1
        if restored:
            log.info("mwi: %d subscription(s) taken back from before the restart", restored)
        self._mark_dirty()

    def _snapshot(self) -> dict[str, Any]:
        now = self._loop.time()
        records = [
            {"mailbox": self._numbers.get(mailbox_id, sub.resource), "dialog": sub.snapshot(now)}
            for mailbox_id, subs in self._subscriptions.items()
            for sub in subs
            if sub.state is SubscriptionState.ACTIVE
        ]
        return {"saved_at": time.time(), "subscriptions": records}

    async def _save(self) -> None:
        path = self._options.state_file
        if path is None or not self._state_dirty:
            return
        self._state_dirty = False
        text = json.dumps(self._snapshot())
        try:
            await asyncio.to_thread(_write_atomically, path, text)
        except OSError as exc:
            log.warning("mwi: cannot keep subscriptions in %s: %s", path, exc)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)

    def _mark_dirty(self) -> None:
        """The kept subscriptions changed: write them soon (one write for a burst)."""
        self._state_dirty = True
        if self._options.state_file is not None and self._saving is None:
            self._saving = self._loop.create_task(self._save_soon())

    async def _save_soon(self) -> None:
        try:
            await asyncio.sleep(1.0)  # one write for a burst of changes
            await self._save()
        finally:
            self._saving = None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, "utf-8")
    with contextlib.suppress(AttributeError):
        os.chmod(temporary, 0o600)  # dialogs name phones and mailboxes: not for everyone
    os.replace(temporary, path)
