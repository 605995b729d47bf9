"""RFC 3842 message summaries: the body of a message-waiting NOTIFY.

What a phone's lamp shows is decided here, from the store's messages per folder:

- **new**: the ``new`` folder (messages nobody has heard yet);
- **old**: every other message that is still kept — ``old`` (heard), ``saved``, the dial-in
  folders ``work``, ``family``, ``friends`` and any custom folder — but not ``deleted``, which
  is the bin (retention empties it) and no longer "in the mailbox" for its owner.

So "old" is what the owner can still hear by dialling in. (Asterisk's ``app_voicemail``
counts only its Old folder, which makes filed messages vanish from a phone's count.) Urgent
counts are part of new and old; the store's per-folder counts carry none yet, so they are 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from afterbeep.sip.errors import SipSyntaxError

EVENT_PACKAGE = "message-summary"  # RFC 3842
CONTENT_TYPE = "application/simple-message-summary"  # RFC 3842
NEW_FOLDER = "new"
NOT_COUNTED = frozenset({"deleted"})

# RFC 3842's ABNF:
#   msg-summary-line = message-context-class HCOLON newmsgs SLASH oldmsgs
#                      [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]
_SUMMARY = re.compile(
    r"^\s*(\d{1,9})\s*/\s*(\d{1,9})\s*(?:\(\s*(\d{1,9})\s*/\s*(\d{1,9})\s*\))?\s*$"
)


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """One account's voice messages; the urgent counts are part of ``new``/``old``."""

    account: str  # Message-Account: the URI a subscriber calls to hear the messages
    new: int
    old: int
    urgent_new: int = 0
    urgent_old: int = 0

    def __post_init__(self) -> None:
        if min(self.new, self.old, self.urgent_new, self.urgent_old) < 0:
            raise ValueError("message counts cannot be negative")
        if self.urgent_new > self.new or self.urgent_old > self.old:
            raise ValueError("urgent messages are counted within new and old")
        if any(c in self.account for c in "\r\n") or (self.account and ":" not in self.account):
            raise ValueError(f"invalid account URI {self.account!r}")

    @property
    def waiting(self) -> bool:
        """RFC 3842: "yes" when there is at least one new message."""
        return self.new > 0

    def __bytes__(self) -> bytes:
        lines = [f"Messages-Waiting: {'yes' if self.waiting else 'no'}"]
        if self.account:
            lines.append(f"Message-Account: {self.account}")
        lines.append(f"Voice-Message: {self.new}/{self.old} ({self.urgent_new}/{self.urgent_old})")
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    @classmethod
    def parse(cls, body: bytes) -> MessageSummary:
        """The voice counts of a summary (other message classes are ignored)."""
        fields: dict[str, str] = {}
        for raw in body.decode("utf-8", "replace").splitlines():
            name, colon, value = raw.partition(":")
            if colon and name.strip():
                fields.setdefault(name.strip().lower(), value.strip())
        status = fields.get("messages-waiting", "").lower()
        if status not in ("yes", "no"):
            raise SipSyntaxError("message summary without a valid Messages-Waiting line")
        new = old = urgent_new = urgent_old = 0
        if "voice-message" in fields:
            match = _SUMMARY.match(fields["voice-message"])
            if match is None:
                raise SipSyntaxError(f"invalid Voice-Message {fields['voice-message'][:40]!r}")
            new, old = int(match[1]), int(match[2])
            urgent_new, urgent_old = int(match[3] or 0), int(match[4] or 0)
        try:
            return cls(fields.get("message-account", ""), new, old, urgent_new, urgent_old)
        except ValueError as exc:
            raise SipSyntaxError(str(exc)) from None


def message_summary(
    account_uri: str, new: int, old: int, urgent_new: int = 0, urgent_old: int = 0
) -> bytes:
    """An ``application/simple-message-summary`` body, CRLF-terminated lines::

    Messages-Waiting: yes
    Message-Account: sip:*98@vm.example.com
    Voice-Message: 2/8 (0/2)
    """
    return bytes(MessageSummary(account_uri, new, old, urgent_new, urgent_old))


def lamp_counts(folders: Mapping[str, int]) -> tuple[int, int]:
    """(new, old) from messages per folder, as the module docstring decides."""
    new = int(folders.get(NEW_FOLDER, 0))
    old = sum(
        int(count)
        for folder, count in folders.items()
        if folder != NEW_FOLDER and folder not in NOT_COUNTED
    )
    return new, old
