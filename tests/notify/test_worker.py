"""The outbox worker's retry schedule (its runs are tested in test_delivery)."""

from __future__ import annotations

import random

from afterbeep.notify.worker import RetryPolicy


def test_backoff_doubles_up_to_its_cap_with_jitter_within_half_a_step() -> None:
    policy = RetryPolicy(base=5.0, cap=600.0, max_attempts=30)
    rand = random.Random(7)
    for attempts, step in [(1, 5), (2, 10), (3, 20), (7, 320), (8, 600), (29, 600)]:
        delays = [policy.delay(attempts, rand) for _ in range(200)]
        assert all(step / 2 <= delay <= step for delay in delays), (attempts, min(delays))
        assert max(delays) - min(delays) > step / 4  # spread out, not in lockstep


def test_the_default_schedule_outlasts_an_hour_long_outage() -> None:
    policy = RetryPolicy()
    shortest = sum(0.5 * min(policy.cap, policy.base * 2 ** (a - 1)) for a in range(1, 30))
    assert shortest > 1.5 * 3600
