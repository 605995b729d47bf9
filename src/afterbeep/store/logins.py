"""Dial-in logins: PIN checks with brute-force lockout that outlives calls and restarts.

Failures are counted twice: against the mailbox (an attacker rotating sources still locks it)
and against the source, the signalling address with the presented caller ID (an attacker
sweeping mailboxes is stopped without locking each one). Caller IDs can be forged and a
carrier trunk brings everyone from one address, hence the pair: neither alone may lock out
the people behind a trunk. ``max_failures`` in a row lock for ``first_lock`` seconds, each
later lock twice as long (to ``max_lock``); failures older than ``forget_after`` no longer
count. A wrong mailbox and a wrong PIN look the same to the caller, and take the same time:
an unknown mailbox is checked against a dummy hash. The owner hears of each lock
(``mailbox.locked``) through the notification channels.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from afterbeep.domain import Login, LoginPolicy, LoginResult
from afterbeep.store.models import LoginFailure, Mailbox
from afterbeep.store.outbox import NewJob

if TYPE_CHECKING:
    from afterbeep.store.repository import Store

__all__ = ["LoginPolicy", "Logins"]


class Logins:
    def __init__(self, store: Store, policy: LoginPolicy | None = None) -> None:
        self._store = store
        self.policy = policy or LoginPolicy()
        self._hasher = PasswordHasher()
        self._dummy_hash: str | None = None

    async def attempt(self, number: str, pin: str, source: str, now: dt.datetime) -> Login:
        """Check ``pin`` for mailbox ``number`` on behalf of ``source``; count a failure."""
        source_key = f"source:{source}"[:300]
        async with self._store._session() as session:
            if _locked(await session.get(LoginFailure, source_key), now):
                return Login(LoginResult.SOURCE_LOCKED)
            mailbox = await session.scalar(select(Mailbox).where(Mailbox.number == number))
            mailbox_key = None if mailbox is None else f"mailbox:{mailbox.id}"
            mailbox_locked = mailbox_key is not None and _locked(
                await session.get(LoginFailure, mailbox_key), now
            )
            pin_hash = None if mailbox is None else mailbox.pin_hash
            must_change = mailbox is not None and mailbox.pin_must_change
        # Outside the session: argon2 takes tens of milliseconds of CPU.
        matches = await self.verify(pin_hash, pin)
        if matches and not mailbox_locked:
            # The count starts again; the number of locks stays, so that an attack resumed
            # after the owner's login meets the longer lock it had earned.
            async with self._store._session() as session:
                await session.execute(
                    update(LoginFailure)
                    .where(LoginFailure.key == mailbox_key)
                    .values(failures=0, locked_until=None)
                )
                await session.commit()
            return Login(LoginResult.OK, number, must_change)

        async with self._store._session() as session:
            source_locked = await self._fail(session, source_key, now)
            if (
                mailbox is not None
                and not mailbox_locked
                and await self._fail(session, f"mailbox:{mailbox.id}", now)
            ):
                await self._tell_owner(session, mailbox.id, source, now)
            await _commit(session)
        return Login(LoginResult.SOURCE_LOCKED if source_locked else LoginResult.WRONG)

    async def locked(self, keys: tuple[str, ...], now: dt.datetime) -> bool:
        """Whether any of ``keys`` is locked now (web logins use this counter too)."""
        async with self._store._session() as session:
            rows = await session.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys)))
            return any(_locked(row, now) for row in rows)

    async def fail(self, keys: tuple[str, ...], now: dt.datetime) -> bool:
        """Count one failure against each key; True when one of them locks now."""
        async with self._store._session() as session:
            locks = [await self._fail(session, key, now) for key in keys]
            await _commit(session)
        return any(locks)

    async def forget(self, key: str) -> None:
        """A success: the count starts again (earlier locks still lengthen the next one)."""
        async with self._store._session() as session:
            await session.execute(
                update(LoginFailure).where(LoginFailure.key == key).values(failures=0)
            )
            await session.commit()

    async def unlock(self, mailbox_id: int) -> None:
        """Forget a mailbox's failures and lock (an administrator vouches for the owner)."""
        async with self._store._session() as session:
            await session.execute(
                delete(LoginFailure).where(LoginFailure.key == f"mailbox:{mailbox_id}")
            )
            await session.commit()

    async def verify(self, pin_hash: str | None, pin: str) -> bool:
        """Whether ``pin`` (or a web password) matches ``pin_hash``. With no hash (an unknown
        mailbox or user) a dummy one is checked: a wrong name and a wrong secret take the same
        time."""
        if pin_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await asyncio.to_thread(self._hasher.hash, secrets.token_hex(8))
            pin_hash = self._dummy_hash
            pin = ""  # never matches: the work is done only to take the same time
        try:
            return bool(pin) and await asyncio.to_thread(self._hasher.verify, pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    async def _fail(self, session: AsyncSession, key: str, now: dt.datetime) -> bool:
        """Count one failure against ``key``; True when it locks now."""
        policy = self.policy
        row = await session.get(LoginFailure, key, with_for_update=True)
        if row is None:
            row = LoginFailure(key=key, failures=0, lockouts=0, last_failure_at=now)
            session.add(row)
        elif (now - row.last_failure_at).total_seconds() > policy.forget_after and not _locked(
            row, now
        ):
            row.failures = 0
            if (now - row.last_failure_at).total_seconds() > policy.max_lock:
                row.lockouts = 0  # a day of good behaviour: start over
        row.failures += 1
        row.last_failure_at = now
        if row.failures < policy.max_failures:
            return False
        seconds = min(policy.max_lock, policy.first_lock * 2**row.lockouts)
        row.locked_until = now + dt.timedelta(seconds=seconds)
        row.lockouts += 1
        row.failures = 0
        return True

    async def _tell_owner(
        self, session: AsyncSession, mailbox_id: int, source: str, now: dt.datetime
    ) -> None:
        row = await session.get(LoginFailure, f"mailbox:{mailbox_id}")
        assert row is not None and row.locked_until is not None
        event = NewJob(
            "event",
            f"mailbox.locked:{mailbox_id}:{now.isoformat()}",
            {
                "event": "mailbox.locked",
                "mailbox_id": mailbox_id,
                "at": now.isoformat(),
                "until": row.locked_until.isoformat(),
                "failures": self.policy.max_failures,
                "caller": source.rsplit("|", 1)[-1],
            },
        )
        await self._store._queue_event(session, event)


def _locked(row: LoginFailure | None, now: dt.datetime) -> bool:
    return row is not None and row.locked_until is not None and row.locked_until > now


async def _commit(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # Another node inserted the same key at the same moment: its count stands; losing
        # one failure of a burst is harmless.
        await session.rollback()
