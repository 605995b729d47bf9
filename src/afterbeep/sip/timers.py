"""A heap of timers driven by an explicit clock: the asyncio shell arms one loop timer for
``next_deadline()`` and calls ``run_due(now)``; tests step a fake clock instead of sleeping."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Timer:
    when: float
    callback: Callable[[float], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        # The heap keeps the entry until its time comes (up to 32 s): let go of what the
        # callback holds (a session, a call) now.
        self.callback = _ignore


def _ignore(now: float) -> None:
    pass


class TimerHeap:
    """Entries are ``(when, seq, timer)`` tuples: the heap compares them in C (``seq`` is
    unique, so a Timer is never compared). With Timer J and L holding every transaction for
    32 s, the heap holds tens of thousands of timers at a few hundred calls a second."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    def schedule(self, when: float, callback: Callable[[float], None]) -> Timer:
        timer = Timer(when, callback)
        heapq.heappush(self._heap, (when, next(self._seq), timer))
        return timer

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self, now: float) -> None:
        heap = self._heap
        while heap and (heap[0][2].cancelled or heap[0][0] <= now):
            timer = heapq.heappop(heap)[2]
            if not timer.cancelled:
                timer.cancelled = True
                timer.callback(now)
