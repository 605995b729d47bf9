"""Voice to text: an engine interface and its faster-whisper implementation."""
