"""Typed settings, built once in ``main()`` from options and ``AFTERBEEP_*`` variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from afterbeep.domain import LoginPolicy


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


SMTP_SECURITY_MODES = ("auto", "none", "starttls", "tls")
MWI_TRUSTED_DEFAULT = ("127.0.0.0/8", "::1/128")  # who may SUBSCRIBE when not configured


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """E-mail, SMS, webhooks and the workers that deliver them."""

    smtp_host: str | None = None  # None: e-mail notifications fail visibly until one is set
    smtp_port: int = 25
    smtp_security: str = "auto"  # auto (STARTTLS when offered) | none | starttls | tls
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "afterbeep@localhost"
    smtp_timeout: float = 30.0
    smtp_ca_file: Path | None = None  # CA certificates to trust (a private mail server's CA)
    default_email: str | None = None  # gets what mailboxes without an address would get
    duplicate_to_default: bool = False  # and, when set, a copy of every message notice
    web_base_url: str | None = None  # e-mails link to {web_base_url}/messages/{id}
    templates_dir: Path | None = None  # operator's templates, replacing bundled ones by name
    phone_region: str = "US"  # how numbers without a country code are read
    sms_provider: str = "none"  # none | webhook | twilio
    sms_url: str | None = None  # the webhook provider's URL, or Twilio's API base URL
    sms_token: str | None = None  # bearer token (webhook) or auth token (Twilio)
    sms_account: str | None = None  # Twilio account SID
    sms_from: str | None = None  # sender number or name
    workers: int = 8  # deliveries in flight at once
    retry_base: float = 5.0  # seconds before the first retry; doubles each time
    retry_cap: float = 600.0  # longest wait between tries: a mail server back is used soon
    max_attempts: int = 30  # then the job is failed: 2 to 4 hours of tries with the defaults
    lease: float = 30.0  # seconds a claimed job is held before another worker may take it
    transcription: bool = True  # when an engine and model are installed
    transcribe_model: str | None = None  # a CTranslate2 Whisper model; default: tiny.en
    transcript_wait: float = 10.0  # seconds a new message's e-mail/SMS waits for its text


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("afterbeep-data")
    sip_host: str = "0.0.0.0"
    sip_port: int = 5060
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Addresses of the TLS-terminating proxies whose X-Forwarded-For/-Proto are believed
    # (cookies become Secure behind one; rate limits count the real client).
    http_trusted_proxies: str = ""
    external_address: str | None = None  # the address put in Contact/Via/SDP behind NAT
    rtp_ports: tuple[int, int] = (20000, 30000)
    database_url: str | None = None  # default: SQLite in the data folder
    # The dial-in access numbers: a call to one of them, not forwarded, reaches the menus.
    access_numbers: tuple[str, ...] = ("*98", "voicemail")
    min_pin_length: int = 4
    force_greetings: bool = True  # first login: record the name and greeting if missing
    login_policy: LoginPolicy = field(default_factory=LoginPolicy)
    # Generic voicemail numbers: a call to one of these takes its mailbox from the
    # Diversion / History-Info headers.
    voicemail_numbers: tuple[str, ...] = ("voicemail", "vm")
    operator_uri: str | None = None  # where "0" during the greeting transfers to
    reject_unknown_mailbox: bool = False  # True: 404 before answering; False: prompt, hang up
    answer_delay: float = 0.0  # seconds to ring before answering (lets a PBX still pick up)
    # Message-waiting lamps: who may SUBSCRIBE (CIDRs; counts are private and there is no
    # SIP authentication yet), and phones sent unsolicited NOTIFYs ("NUMBER=sip:uri").
    mwi_trusted: tuple[str, ...] = MWI_TRUSTED_DEFAULT
    mwi_contacts: tuple[str, ...] = ()
    log_level: str = "INFO"
    notify: NotifySettings = field(default_factory=NotifySettings)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'afterbeep.db').resolve()}"
