"""The store's errors: callers (the CLI, the web layer, the flows) catch these only.

SQLAlchemy, driver and file-system errors are translated where they enter the store.
"""

from __future__ import annotations


class StoreError(Exception):
    """Something the store could not do; the message is meant for a person."""


class NotFound(StoreError):
    """No mailbox, message, greeting or blob under that name."""


class AlreadyExists(StoreError):
    """A unique name (a mailbox number) is taken."""


class InvalidValue(StoreError):
    """A value the store refuses: a bad PIN, time zone, blob key, database URL, …"""


class Unavailable(StoreError):
    """The database cannot be reached or refused the operation."""


def describe(exc: BaseException) -> str:
    """One line for a person: the driver's own message, without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None)  # a DBAPIError carries the driver's exception
    text = str(orig) if orig is not None else str(exc)
    return " ".join(text.split()) or type(exc).__name__
