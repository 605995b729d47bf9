"""The prompt catalogue: every sentence the caller can hear, by language and name.

Prompts are recorded WAV files shipped in ``afterbeep/prompts/<language>/<name>.wav``
(rendered offline by ``tools/render_prompts.py``); an operator can drop a folder of their own
recordings that replaces them, prompt by prompt. Audio is converted to the call's codec once
and cached.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from afterbeep.domain import Codec
from afterbeep.media import tones
from afterbeep.media.g711 import encode
from afterbeep.media.wav import to_telephone

# The text of each prompt: what the recordings must say (and what the renderer speaks).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "person_at": "The person at extension",
        "not_available": "is not available.",
        "leave_message": "Please leave your message after the tone. When you are done, "
        "hang up, or press pound.",
        "no_such_mailbox": "Sorry, there is no mailbox at this number. Goodbye.",
        "message_saved": "Your message has been recorded. Goodbye.",
        "operator_unavailable": "The operator cannot be reached. Please leave a message.",
        "transferring": "Please hold while I transfer your call.",
        "mailbox_full": "Sorry, this mailbox is full and cannot take any more messages. "
        "Please try again later. Goodbye.",
        "digit_0": "zero",
        "digit_1": "one",
        "digit_2": "two",
        "digit_3": "three",
        "digit_4": "four",
        "digit_5": "five",
        "digit_6": "six",
        "digit_7": "seven",
        "digit_8": "eight",
        "digit_9": "nine",
        "digit_star": "star",
        "digit_pound": "pound",
    },
}
DIGIT_NAMES = {str(d): f"digit_{d}" for d in range(10)} | {"*": "digit_star", "#": "digit_pound"}
GAP_SECONDS = 0.15  # between concatenated prompts (digits read one by one)


class PromptError(LookupError):
    pass


class Prompts:
    def __init__(self, override_dir: Path | None = None, default_language: str = "en") -> None:
        self._override = override_dir
        self._default = default_language
        self._cache: dict[tuple[str, str, Codec], bytes] = {}

    def get(self, name: str, codec: Codec, language: str = "en") -> bytes:
        """The prompt as G.711 payload in ``codec`` (the default language if not translated)."""
        key = (language, name, codec)
        audio = self._cache.get(key)
        if audio is None:
            audio = to_telephone(self._load(name, language), codec)
            self._cache[key] = audio
        return audio

    def sequence(self, names: list[str], codec: Codec, language: str = "en") -> bytes:
        gap = encode(codec, tones.silence(GAP_SECONDS))
        return gap.join(self.get(name, codec, language) for name in names)

    def say_digits(self, number: str, codec: Codec, language: str = "en") -> bytes:
        names = [DIGIT_NAMES[d] for d in number if d in DIGIT_NAMES]
        return self.sequence(names, codec, language)

    def _load(self, name: str, language: str) -> bytes:
        for lang in dict.fromkeys((language, self._default)):
            if self._override is not None:
                path = self._override / lang / f"{name}.wav"
                if path.is_file():
                    return path.read_bytes()
            shipped = resources.files("afterbeep.prompts").joinpath(lang, f"{name}.wav")
            if shipped.is_file():
                return shipped.read_bytes()
        raise PromptError(f"no recording for prompt {name!r} ({language})")
