"""What the web layer is given by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from afterbeep.domain import Codec
from afterbeep.store.repository import Store
from afterbeep.web.live import Hub

# Speaks a typed comment (text, codec, language) as G.711 payload: the prompts' synthesizer.
Speak = Callable[[str, Codec, str], Awaitable[bytes]]


@dataclass(slots=True)
class WebContext:
    store: Store
    hub: Hub
    speak: Speak | None = None
    metrics: Callable[[], str] | None = None
    ready: Callable[[], bool] = lambda: True  # False while start-up work (prompts) runs


def context(request: Request) -> WebContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, WebContext)
    return ctx
