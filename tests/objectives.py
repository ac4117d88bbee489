"""Objectives used by several tests. Module-level so the process executor can import them too."""

from __future__ import annotations

import ctypes
import os
import signal
import time

from hyperion import ObjectiveResult


def quadratic(ctx, x, y=0.0):
    return ObjectiveResult(score=-((x - 0.3) ** 2) - (y - 0.5) ** 2, metrics={"x_seen": x})


def reporting(ctx, x):
    for step in range(5):
        ctx.report(step=step, loss=x * (5 - step))
    return ObjectiveResult(score=x, metrics={"loss": x})


def crash(ctx, how):
    if how == "exit":
        os._exit(3)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "raise":
        raise RuntimeError("boom from the objective")
    return 1.0


def stubborn(ctx, x):
    """Never looks at should_stop(); sleeps in short bounded naps for at most 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return x


def cooperative(ctx, x):
    """Reports each step and ends as soon as it is asked to stop (bounded at 10 s)."""
    deadline = time.monotonic() + 10
    step = 0
    while time.monotonic() < deadline:
        ctx.report(step=step, score=x)
        if ctx.should_stop():
            return ObjectiveResult(score=x, metrics={"stopped_at": step})
        step += 1
        time.sleep(0.005)
    return x


def stubborn_reporter(ctx, x):
    """Reports, then ignores should_stop() (bounded at 60 s): only termination ends it early.
    The best point (x == 0) returns at once, so it is the yardstick the others are stopped against."""
    ctx.report(step=0, loss=x)
    ctx.report(step=1, loss=x)
    if x == 0:
        return x
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return x
