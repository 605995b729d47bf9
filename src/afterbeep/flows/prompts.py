"""The prompt catalogue: every sentence the caller can hear, by language and name.

A static prompt is looked up in this order, for its language and then for the default one:

1. the operator's recording ``<override_dir>/<language>/<name>.wav``;
2. the recording shipped in ``afterbeep/prompts/<language>/<name>.wav`` (rendered offline by
   ``tools/render_prompts.py``; the English ones are Piper's natural voice);
3. ``TEXTS[language][name]`` spoken by the synthesizer (espeak-ng), kept on disk in
   ``cache_dir/<language>/<sha256>.wav`` when a cache folder is given.

Audio is converted to the call's codec once and kept in memory. Synthesis takes tens of
milliseconds per sentence, too long to do while a call waits: ``warm`` renders a language's
prompts off the event loop at startup, ``speak`` does the same for run-time sentences
(``afterbeep.speech.phrases``), and ``get`` synthesizes on the spot only for a prompt that
was not warmed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from afterbeep.domain import Codec
from afterbeep.flows.lru import Lru
from afterbeep.media import tones
from afterbeep.media.g711 import encode
from afterbeep.media.wav import WavError, to_telephone
from afterbeep.speech.catalogue import TEXTS
from afterbeep.speech.tts import Espeak, Synthesizer, TtsError

__all__ = ["DIGIT_NAMES", "GAP_SECONDS", "TEXTS", "PromptError", "Prompts"]

log = logging.getLogger(__name__)

DIGIT_NAMES = {str(d): f"digit_{d}" for d in range(10)} | {"*": "digit_star", "#": "digit_pound"}
GAP_SECONDS = 0.15  # between concatenated prompts (digits read one by one)
# Bump when the synthesized audio changes for the same engine, voice and text (trimming,
# level), so that stale renderings in a cache folder are not reused.
_RENDER_VERSION = "1"


class PromptError(LookupError):
    pass


class Prompts:
    """Prompt audio by name or text, in a call's codec and a mailbox's language.

    ``Prompts()`` and ``Prompts(override_dir)`` keep working as before. ``cache_dir`` keeps
    synthesized prompts across restarts; ``synthesizer`` replaces espeak-ng (tests wrap it);
    ``memory_entries`` bounds the in-memory cache of ``speak``.
    """

    def __init__(
        self,
        override_dir: Path | None = None,
        default_language: str = "en",
        *,
        cache_dir: Path | None = None,
        synthesizer: Synthesizer | None = None,
        memory_entries: int = 2000,
        parallel: int = 4,
    ) -> None:
        self._override = override_dir
        self._default = default_language
        self._cache_dir = cache_dir
        self._tts: Synthesizer = synthesizer if synthesizer is not None else Espeak()
        self._parallel = max(1, parallel)
        # Static prompts: a finite catalogue, so no bound.
        self._cache: dict[tuple[str, str, Codec], bytes] = {}
        # Run-time sentences: (language, text, codec), least recently used first.
        self._spoken: Lru[tuple[str, str, Codec], bytes] = Lru(memory_entries)
        self._warmed: set[str] = set()  # languages whose static prompts are all loaded

    def get(self, name: str, codec: Codec, language: str = "en") -> bytes:
        """The prompt as G.711 payload in ``codec`` (the default language if not translated)."""
        language = self._language(language)
        key = (language, name, codec)
        audio = self._cache.get(key)
        if audio is None:
            audio = self._convert(self._load(name, language), codec, name)
            self._cache[key] = audio
        return audio

    def sequence(self, names: list[str], codec: Codec, language: str = "en") -> bytes:
        return silence(GAP_SECONDS, codec).join(self.get(name, codec, language) for name in names)

    def say_digits(self, number: str, codec: Codec, language: str = "en") -> bytes:
        names = [DIGIT_NAMES[d] for d in number if d in DIGIT_NAMES]
        return self.sequence(names, codec, language)

    async def warm(self, languages: Iterable[str] | None = None) -> None:
        """Load every static prompt of ``languages`` (default: all of ``TEXTS``) in both
        codecs, synthesizing off the event loop what has no recording, so that ``get``
        never waits for synthesis."""
        chosen = TEXTS if languages is None else languages
        wanted = [
            language
            for language in dict.fromkeys(self._language(lang) for lang in chosen)
            if language not in self._warmed
        ]
        if not wanted:
            return  # the common case: every call asks for its mailbox's language
        semaphore = asyncio.Semaphore(self._parallel)

        async def one(language: str, name: str) -> None:
            if all((language, name, codec) in self._cache for codec in Codec):
                return
            async with semaphore:
                wav = await self._load_async(name, language)
            for codec in Codec:
                audio = await asyncio.to_thread(self._convert, wav, codec, name)
                self._cache[(language, name, codec)] = audio

        names = list(TEXTS[self._default] if self._default in TEXTS else TEXTS["en"])
        await asyncio.gather(*(one(lang, name) for lang in wanted for name in names))
        self._warmed.update(wanted)

    async def speak(
        self, text: str, codec: Codec, language: str, *, persist: bool = False
    ) -> bytes:
        """A run-time sentence (``speech.phrases``) synthesized as G.711 payload in ``codec``.

        Kept in memory (least recently used dropped first). ``persist`` also keeps it in the
        cache folder: worth it for sentences that recur ("You have one new message"), not
        for envelopes, which would fill the folder with one file per message.
        """
        language = self._language(language)
        key = (language, text, codec)
        audio = self._spoken.get(key)
        if audio is not None:
            return audio
        wav = self._disk_read(language, text) if persist else None
        if wav is None:
            try:
                wav = await self._tts.synthesize_async(text, language)
            except TtsError as exc:
                raise PromptError(f"cannot speak {language!r} text {text!r}: {exc}") from exc
            if persist:
                await asyncio.to_thread(self._disk_write, language, text, wav)
        audio = await asyncio.to_thread(to_telephone, wav, codec)
        self._spoken.put(key, audio)
        return audio

    # --- lookup ----------------------------------------------------------------------------

    def _language(self, language: str) -> str:
        """'de-AT' -> 'de' when only the catalogue language exists; other tags unchanged
        (an operator may keep recordings for a language afterbeep does not translate)."""
        if language in TEXTS:
            return language
        primary = language.replace("_", "-").split("-", 1)[0].lower()
        return primary if primary in TEXTS else language

    def _candidates(self, language: str) -> list[str]:
        return list(dict.fromkeys((language, self._default)))

    def _recorded(self, name: str, language: str) -> bytes | None:
        if self._override is not None:
            path = self._override / language / f"{name}.wav"
            if path.is_file():
                return path.read_bytes()
        shipped = resources.files("afterbeep.prompts").joinpath(language, f"{name}.wav")
        if shipped.is_file():
            return shipped.read_bytes()
        return None

    def _load(self, name: str, language: str) -> bytes:
        failures: list[str] = []
        for lang in self._candidates(language):
            recorded = self._recorded(name, lang)
            if recorded is not None:
                return recorded
            text = TEXTS.get(lang, {}).get(name)
            if text is None:
                continue
            wav = self._disk_read(lang, text)
            if wav is not None:
                return wav
            log.warning("prompt %s (%s) synthesized while a call waits: warm() it", name, lang)
            try:
                wav = self._tts.synthesize(text, lang)
            except TtsError as exc:
                failures.append(self._failed(name, lang, exc))
                continue
            self._disk_write(lang, text, wav)
            return wav
        raise PromptError(self._missing(name, language, failures))

    async def _load_async(self, name: str, language: str) -> bytes:
        failures: list[str] = []
        for lang in self._candidates(language):
            recorded = await asyncio.to_thread(self._recorded, name, lang)
            if recorded is not None:
                return recorded
            text = TEXTS.get(lang, {}).get(name)
            if text is None:
                continue
            wav = await asyncio.to_thread(self._disk_read, lang, text)
            if wav is not None:
                return wav
            try:
                wav = await self._tts.synthesize_async(text, lang)
            except TtsError as exc:
                failures.append(self._failed(name, lang, exc))
                continue
            await asyncio.to_thread(self._disk_write, lang, text, wav)
            return wav
        raise PromptError(self._missing(name, language, failures))

    @staticmethod
    def _failed(name: str, language: str, exc: TtsError) -> str:
        # Logged, then the default language is tried: a caller hearing English is better
        # served than one hearing nothing.
        log.warning("cannot synthesize prompt %s (%s): %s", name, language, exc)
        return f"{language}: {exc}"

    @staticmethod
    def _missing(name: str, language: str, failures: list[str]) -> str:
        why = f"; synthesis failed ({'; '.join(failures)})" if failures else ""
        return f"no recording or text for prompt {name!r} ({language}){why}"

    @staticmethod
    def _convert(wav: bytes, codec: Codec, name: str) -> bytes:
        try:
            return to_telephone(wav, codec)
        except WavError as exc:
            raise PromptError(f"prompt {name!r} is not a readable WAV file: {exc}") from exc

    # --- disk cache ------------------------------------------------------------------------

    def _cache_path(self, language: str, text: str) -> Path | None:
        if self._cache_dir is None:
            return None
        # The key names the voice and settings too: a new voice must not reuse old audio.
        key = f"{_RENDER_VERSION}\n{self._tts.voice_key(language)}\n{text}"
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._cache_dir / language / f"{digest}.wav"

    def _disk_read(self, language: str, text: str) -> bytes | None:
        path = self._cache_path(language, text)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _disk_write(self, language: str, text: str, wav: bytes) -> None:
        """Write atomically (temporary file, then rename): a reader never sees half a file."""
        path = self._cache_path(language, text)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(wav)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:  # the cache is an optimisation: a read-only folder is no error
            log.warning("cannot write prompt cache %s: %s", path, exc)


@functools.cache
def silence(seconds: float, codec: Codec) -> bytes:
    """Encoded silence, made once per length and codec (it goes between prompts on every call)."""
    return encode(codec, tones.silence(seconds))


@functools.cache
def beep(codec: Codec) -> bytes:
    """The record beep, encoded once per codec."""
    return encode(codec, tones.beep())


@functools.cache
def warning_tone(codec: Codec) -> bytes:
    """The "time is nearly up" pips, encoded once per codec."""
    return encode(codec, tones.warning_tone())
