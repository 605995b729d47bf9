"""Collect garbage after each test, so that a socket or transport a test leaves open is
reported (a ResourceWarning, an error under ``filterwarnings = error``) by that test, not by
whichever later test the garbage collector happens to run in."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    yield
    gc.collect()
