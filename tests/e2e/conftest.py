"""End-to-end fixtures: the real afterbeep server, SIPp, baresip and test speech.

Every test under tests/e2e is marked ``e2e`` (``pytest -m "not e2e"`` skips them all). A test
is skipped, with the reason, only when a tool it needs is missing: ``sipp`` (Debian package
sip-tester), ``baresip``, ``espeak-ng`` or ``sox`` (CI installs them all).

Fixtures:

- ``server``: a fresh server for the test, with mailbox 1001 (Alice, PIN 1234) and 1002 (Bob);
  ``server_factory(**Server kwargs)`` starts more (or differently configured) ones. Their stderr
  is printed at teardown, so a failing test shows it.
- ``sipp(scenario, target, **run_sipp kwargs) -> SippResult``: runs a scenario from
  ``sipp_scenarios`` (tests/e2e/scenarios) with its traces in the test's tmp folder.
- ``baresip_factory(**Baresip kwargs) -> Baresip``: started softphones, closed at teardown.
- ``speech``: a session-wide espeak-ng message (WAV, PCMU and PCMA captures, its length).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.support.audio import make_rtp_pcap, speech_wav, wav_duration
from tests.support.baresip import Baresip
from tests.support.server import Server, ServerFactory
from tests.support.sipp import SCENARIOS, SippResult, run_sipp

E2E_DIR = Path(__file__).resolve().parent
SPEECH_TEXT = (
    "This is a test message for afterbeep, please call me back at "
    "five five five, one two three four."
)
MAILBOXES = (("1001", "Alice", "1234"), ("1002", "Bob", None))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def require(*tools: str) -> None:
    """Skip the test when one of ``tools`` is not installed."""
    packages = {"sipp": "sip-tester", "espeak-ng": "espeak-ng", "sox": "sox", "baresip": "baresip"}
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        install = " ".join(packages.get(tool, tool) for tool in missing)
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install -y {install})")


# -- server ----------------------------------------------------------------------------------


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path / "servers")
    try:
        yield factory
    finally:
        report = factory.close()
        if report:
            print(f"\n{report}")  # shown by pytest when the test failed


@pytest.fixture
def server(server_factory: ServerFactory) -> Server:
    """A running server with mailboxes 1001 (Alice, PIN 1234) and 1002 (Bob)."""
    started = server_factory()
    for number, name, pin in MAILBOXES:
        started.add_mailbox(number, name, pin=pin)
    return started


# -- SIPp ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sipp_scenarios() -> Path:
    """tests/e2e/scenarios: deposit, deposit_hash, cancel, lost_ack, reinvite_hold, ..."""
    return SCENARIOS


@pytest.fixture
def sipp(tmp_path: Path) -> Callable[..., SippResult]:
    """``sipp("deposit", server.sip_address, service="1001", keys={...})``."""
    require("sipp")

    def run(scenario: str | Path, target: str, **kwargs: Any) -> SippResult:
        kwargs.setdefault("workdir", tmp_path / "sipp")
        return run_sipp(scenario, target, **kwargs)

    return run


# -- baresip ---------------------------------------------------------------------------------


@pytest.fixture
def baresip_factory(tmp_path: Path) -> Iterator[Callable[..., Baresip]]:
    """``baresip_factory(source_wav=..., user="5551234")``: a started softphone."""
    require("baresip")
    phones: list[Baresip] = []

    def make(**kwargs: Any) -> Baresip:
        phone = Baresip(tmp_path / f"baresip{len(phones)}", **kwargs)
        phones.append(phone)
        return phone.start()

    try:
        yield make
    finally:
        for phone in phones:
            phone.close()
            print(f"\n{phone.describe(2000)}")


# -- audio -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speech:
    """A spoken test message and the captures SIPp plays it from."""

    text: str
    wav: Path  # 8 kHz mono 16-bit
    pcap_pcmu: Path
    pcap_pcma: Path
    packets: int  # 20 ms RTP packets in each capture
    seconds: float  # length of the WAV

    @property
    def audio_ms(self) -> int:
        """How long SIPp plays a capture: the ``audio_ms`` scenario keyword."""
        return self.packets * 20

    def pcap(self, codec: str = "PCMU") -> Path:
        return self.pcap_pcma if codec.upper() == "PCMA" else self.pcap_pcmu

    def sipp_keys(self, codec: str = "PCMU") -> dict[str, str]:
        return {"audio_pcap": str(self.pcap(codec)), "audio_ms": str(self.audio_ms)}


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """About 5 s of espeak-ng speech, as a WAV and as PCMU/PCMA SIPp captures."""
    require("espeak-ng", "sox")
    folder = tmp_path_factory.mktemp("speech")
    wav = speech_wav(SPEECH_TEXT, folder / "message.wav")
    packets = make_rtp_pcap(wav, folder / "message-pcmu.pcap", "PCMU")
    make_rtp_pcap(wav, folder / "message-pcma.pcap", "PCMA")
    return Speech(
        text=SPEECH_TEXT,
        wav=wav,
        pcap_pcmu=folder / "message-pcmu.pcap",
        pcap_pcma=folder / "message-pcma.pcap",
        packets=packets,
        seconds=wav_duration(wav),
    )


@pytest.fixture(scope="session")
def speech_wav_file(speech: Speech) -> Path:
    return speech.wav


@pytest.fixture(scope="session")
def speech_pcap(speech: Speech) -> Path:
    return speech.pcap_pcmu


# Leaked sockets are reported by the test that leaked them.
from tests.support.leaks import collect_garbage_after_each_test  # noqa: E402, F401
