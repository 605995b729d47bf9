"""The prompt catalogue end to end: overrides, shipped recordings, espeak-ng, caches.

These tests run the real espeak-ng (the Debian package); the only stand-in is a wrapper that
counts how often it is called.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from afterbeep.domain import Codec
from afterbeep.flows.prompts import TEXTS, PromptError, Prompts
from afterbeep.media import tones
from afterbeep.media.g711 import decode
from afterbeep.media.wav import encode_wav, read_wav, to_telephone
from afterbeep.speech.phrases import message_counts
from afterbeep.speech.tts import Espeak, TtsError

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt install espeak-ng)"
)


class CountingSynthesizer:
    """The real espeak-ng, counting its calls."""

    def __init__(self, inner: Espeak | None = None) -> None:
        self.inner = inner or Espeak()
        self.calls: list[tuple[str, str]] = []

    def voice_key(self, language: str) -> str:
        return self.inner.voice_key(language)

    def synthesize(self, text: str, language: str) -> bytes:
        self.calls.append((language, text))
        return self.inner.synthesize(text, language)

    async def synthesize_async(self, text: str, language: str) -> bytes:
        self.calls.append((language, text))
        return await self.inner.synthesize_async(text, language)


def _rms(payload: bytes, codec: Codec) -> float:
    samples = decode(codec, payload).astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))


def _files(folder: Path, pattern: str) -> list[Path]:
    return list(folder.rglob(pattern))


def _tone_wav(frequency: float) -> bytes:
    return encode_wav(None, tones.tone(frequency, 0.5))


def test_russian_prompt_is_synthesized_and_cached_on_disk(tmp_path: Path) -> None:
    tts = CountingSynthesizer()
    prompts = Prompts(cache_dir=tmp_path, synthesizer=tts)
    audio = prompts.get("vm_goodbye", Codec.PCMU, "ru")  # "До свидания."
    assert tts.calls == [("ru", TEXTS["ru"]["vm_goodbye"])]
    assert 0.3 * 8000 < len(audio) < 3 * 8000  # one short phrase at 8000 bytes per second
    assert _rms(audio, Codec.PCMU) > 500  # speech, not silence
    assert prompts.get("vm_goodbye", Codec.PCMU, "ru") is audio  # memory cache
    cached = list((tmp_path / "ru").glob("*.wav"))
    assert len(cached) == 1
    assert not list(tmp_path.rglob("*.tmp"))  # written atomically, nothing left behind
    samples, rate = read_wav(cached[0].read_bytes())
    assert rate == 8000 and len(samples) == len(audio)

    # A new process (new instance) loads the file instead of synthesizing again.
    again = CountingSynthesizer()
    reloaded = Prompts(cache_dir=tmp_path, synthesizer=again)
    assert reloaded.get("vm_goodbye", Codec.PCMU, "ru") == audio
    assert reloaded.get("vm_goodbye", Codec.PCMA, "ru")
    assert again.calls == []


def test_cache_key_includes_the_voice(tmp_path: Path) -> None:
    Prompts(cache_dir=tmp_path, synthesizer=Espeak()).get("vm_goodbye", Codec.PCMU, "ru")
    slower = CountingSynthesizer(Espeak(speed=120))
    Prompts(cache_dir=tmp_path, synthesizer=slower).get("vm_goodbye", Codec.PCMU, "ru")
    assert len(slower.calls) == 1
    assert len(list((tmp_path / "ru").glob("*.wav"))) == 2


def test_english_dial_in_prompts_are_shipped_recordings() -> None:
    tts = CountingSynthesizer()
    prompts = Prompts(synthesizer=tts)
    for name in TEXTS["en"]:
        assert prompts.get(name, Codec.PCMU, "en"), name
    assert tts.calls == []


def test_override_wins_over_shipped_and_synthesis(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "ru").mkdir()
    (tmp_path / "en" / "leave_message.wav").write_bytes(_tone_wav(440))
    (tmp_path / "ru" / "vm_goodbye.wav").write_bytes(_tone_wav(660))
    tts = CountingSynthesizer()
    prompts = Prompts(tmp_path, synthesizer=tts)
    assert prompts.get("leave_message", Codec.PCMA) == to_telephone(_tone_wav(440), Codec.PCMA)
    assert prompts.get("vm_goodbye", Codec.PCMU, "ru") == to_telephone(_tone_wav(660), Codec.PCMU)
    assert tts.calls == []
    # Prompt by prompt: the operator's folder leaves the other prompts alone.
    assert prompts.get("message_saved", Codec.PCMU) == Prompts().get("message_saved", Codec.PCMU)


def test_unknown_language_falls_back_to_the_default() -> None:
    tts = CountingSynthesizer()
    prompts = Prompts(synthesizer=tts)
    assert prompts.get("vm_goodbye", Codec.PCMU, "fr") == prompts.get("vm_goodbye", Codec.PCMU)
    assert tts.calls == []


def test_regional_tag_uses_the_catalogue_language(tmp_path: Path) -> None:
    tts = CountingSynthesizer()
    prompts = Prompts(cache_dir=tmp_path, synthesizer=tts)
    assert prompts.get("vm_goodbye", Codec.PCMU, "de-AT") == prompts.get(
        "vm_goodbye", Codec.PCMU, "de"
    )
    assert tts.calls == [("de", "Auf Wiederhören.")]


def test_unknown_prompt_name() -> None:
    with pytest.raises(PromptError, match="vm_nonsense"):
        Prompts().get("vm_nonsense", Codec.PCMU, "ru")


async def test_speak_caches_in_memory(tmp_path: Path) -> None:
    tts = CountingSynthesizer()
    prompts = Prompts(cache_dir=tmp_path, synthesizer=tts)
    text = message_counts("ru", 2, 1)
    first = await prompts.speak(text, Codec.PCMU, "ru")
    assert _rms(first, Codec.PCMU) > 500
    assert await prompts.speak(text, Codec.PCMU, "ru") == first
    assert tts.calls == [("ru", text)]
    assert not _files(tmp_path, "*.wav")  # one-off sentences stay off the disk


async def test_speak_persist_uses_the_disk_cache(tmp_path: Path) -> None:
    text = message_counts("el", 3, 0)
    first = await Prompts(cache_dir=tmp_path).speak(text, Codec.PCMA, "el", persist=True)
    tts = CountingSynthesizer()
    again = await Prompts(cache_dir=tmp_path, synthesizer=tts).speak(
        text, Codec.PCMA, "el", persist=True
    )
    assert again == first
    assert tts.calls == []


async def test_speak_memory_is_bounded() -> None:
    tts = CountingSynthesizer()
    prompts = Prompts(synthesizer=tts, memory_entries=2)
    for text in ("one", "two", "three", "three", "one"):
        await prompts.speak(text, Codec.PCMU, "en")
    # "one" was the least recently used when "three" arrived: it was dropped and redone.
    assert [text for _, text in tts.calls] == ["one", "two", "three", "one"]


async def test_missing_espeak_is_a_clear_error(tmp_path: Path) -> None:
    missing = Espeak(binary=str(tmp_path / "no-espeak-ng"))
    with pytest.raises(TtsError, match="espeak-ng not found"):
        missing.synthesize("hello", "en")
    with pytest.raises(TtsError, match="espeak-ng not found"):
        await missing.synthesize_async("hello", "en")
    prompts = Prompts(synthesizer=missing)
    with pytest.raises(PromptError, match="espeak-ng not found"):
        await prompts.speak("hello", Codec.PCMU, "en")
    # A static prompt falls back to the default language's recording (and says why in the log).
    assert prompts.get("vm_goodbye", Codec.PCMU, "ru") == Prompts().get("vm_goodbye", Codec.PCMU)
    russian_only = Prompts(default_language="ru", synthesizer=missing)
    with pytest.raises(PromptError, match="espeak-ng not found"):
        russian_only.get("vm_goodbye", Codec.PCMU, "ru")


async def test_espeak_failure_is_a_clear_error() -> None:
    failing = Espeak(binary=shutil.which("false") or "/bin/false")
    with pytest.raises(TtsError, match="espeak-ng failed: exit status 1"):
        failing.synthesize("hello", "en")
    with pytest.raises(TtsError, match="espeak-ng failed: exit status 1"):
        await failing.synthesize_async("hello", "en")
    # A program that answers with something else than a WAV file.
    with pytest.raises(TtsError, match="not a WAV file"):
        Espeak(binary=shutil.which("echo") or "/bin/echo").synthesize("hello", "en")


def test_text_is_never_an_option() -> None:
    # Without "--" espeak-ng would take "-v" as an option and fail.
    samples, rate = read_wav(Espeak().synthesize("-v", "en"))
    assert rate == 8000 and len(samples) > 800


async def test_warm_renders_every_prompt_of_a_language(tmp_path: Path) -> None:
    tts = CountingSynthesizer()
    prompts = Prompts(cache_dir=tmp_path, synthesizer=tts)
    await prompts.warm(["fi"])
    assert sorted(text for _, text in tts.calls) == sorted(TEXTS["fi"].values())
    assert {language for language, _ in tts.calls} == {"fi"}
    for name in TEXTS["fi"]:
        for codec in Codec:
            assert prompts.get(name, codec, "fi"), name
    assert len(tts.calls) == len(TEXTS["fi"])  # get() found everything warmed
    assert len(_files(tmp_path / "fi", "*.wav")) == len(set(TEXTS["fi"].values()))


async def test_warm_english_needs_no_synthesis() -> None:
    tts = CountingSynthesizer()
    await Prompts(synthesizer=tts).warm(["en"])
    assert tts.calls == []


async def test_synthesized_english_is_intelligible() -> None:
    """Whisper (tiny.en, bundled) hears the key words of a synthesized sentence."""
    engine = pytest.importorskip("afterbeep.transcribe.engine")
    if engine.default_model() is None:
        pytest.skip("no bundled Whisper model")
    wav = await Espeak().synthesize_async(message_counts("en", 2, 1), "en")
    samples, rate = read_wav(wav)
    heard = engine.WhisperTranscriber().transcribe(samples, rate, "en").lower()
    assert "new" in heard and "old" in heard
    assert "two" in heard or "2" in heard
