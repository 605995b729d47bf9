"""Storage: mailboxes, messages and missed calls in SQL; audio in a blob store."""

from afterbeep.store.blobs import FileBlobStore, RecordingFile
from afterbeep.store.errors import AlreadyExists, InvalidValue, NotFound, StoreError, Unavailable
from afterbeep.store.migrate import upgrade_database
from afterbeep.store.records import MailboxRecord, MessageRecord, MissedCallRecord
from afterbeep.store.repository import Store

__all__ = [
    "AlreadyExists",
    "FileBlobStore",
    "InvalidValue",
    "MailboxRecord",
    "MessageRecord",
    "MissedCallRecord",
    "NotFound",
    "RecordingFile",
    "Store",
    "StoreError",
    "Unavailable",
    "upgrade_database",
]
