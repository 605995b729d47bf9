"""afterbeep: a hosted voicemail and answering service over SIP/RTP."""

__version__ = "0.1.0"
