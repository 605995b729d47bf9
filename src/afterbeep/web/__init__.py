"""The web: visual voicemail pages, the REST API (``/api/v1``), health and metrics."""
