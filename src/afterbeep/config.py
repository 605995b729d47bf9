"""Typed settings, built once in ``main()`` from options and ``AFTERBEEP_*`` variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def parse_hostport(value: str, default_port: int) -> tuple[str, int]:
    """'127.0.0.1:5060' → ('127.0.0.1', 5060); '[::1]:5060' and a bare host work too."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if value.count(":") == 1:
        host, port = value.split(":")
        return host or "0.0.0.0", int(port)
    return value or "0.0.0.0", default_port


def parse_port_range(value: str) -> tuple[int, int]:
    """'20000-30000' → (20000, 30000); both ends inclusive, the low end made even."""
    low_s, _, high_s = value.partition("-")
    low, high = int(low_s), int(high_s or low_s)
    if not (1024 <= low <= high <= 65535):
        raise ValueError(f"invalid RTP port range {value!r}")
    return low + (low % 2), high


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("afterbeep-data")
    sip_host: str = "0.0.0.0"
    sip_port: int = 5060
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    external_address: str | None = None  # the address put in Contact/Via/SDP behind NAT
    rtp_ports: tuple[int, int] = (20000, 30000)
    database_url: str | None = None  # default: SQLite in the data folder
    # The dial-in access numbers (retrieval menus come with the dial-in issue).
    access_numbers: tuple[str, ...] = ("*98", "voicemail")
    # Generic voicemail numbers: a call to one of these takes its mailbox from the
    # Diversion / History-Info headers.
    voicemail_numbers: tuple[str, ...] = ("voicemail", "vm")
    operator_uri: str | None = None  # where "0" during the greeting transfers to
    reject_unknown_mailbox: bool = False  # True: 404 before answering; False: prompt, hang up
    answer_delay: float = 0.0  # seconds to ring before answering (lets a PBX still pick up)
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'afterbeep.db').resolve()}"
