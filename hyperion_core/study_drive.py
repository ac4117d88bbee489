"""tune()'s driver of the study loop: fill the slots, wait for the executor (every wait bounded), apply
what came, tick, until the study is done or stopped."""

from __future__ import annotations

import queue
import time
from typing import TYPE_CHECKING

from hyperion_core.models import Changes
from hyperion_core.protocols import Message

if TYPE_CHECKING:
    from hyperion_core.study import StudyLoop

IDLE_WAKE_S = 5.0  # the longest the loop sleeps at once (a liveness re-check and heartbeat, not a poll)


def drive(loop: StudyLoop) -> None:
    state, stopper = loop.state, loop.stopper
    deadline = time.monotonic() + loop.max_time_s if loop.max_time_s is not None else None
    while True:
        now = time.monotonic()
        if deadline is not None and not stopper.stopping and now >= deadline:
            stopper.stop_everything(f"max_time_s={loop.max_time_s:g} reached")
        if not stopper.stopping:
            started = loop.fill()
            if not state.running and not started and not loop.done:
                if loop.strategy.pending:
                    pass  # it is thinking off-thread and will wake us
                elif not loop.fill():  # asked once more: still nothing
                    state.note(
                        f"the strategy proposed nothing while no trial was running (after "
                        f"{len(state.trials)} trials); ended the study instead of waiting forever",
                        warn=True,
                    )
                    break
        if not state.running and (stopper.stopping or loop.done):
            break
        loop.outbox.flush()
        loop.coordinator.sync()  # joined: the others' trials (alone: nothing)
        inline = loop._inline_executor
        if loop.inline and inline is not None and inline.run_queued(loop._apply_inline):
            if loop._inline_error is not None:
                raise loop._inline_error
            loop.tick()
            continue
        due = stopper.next_deadline()
        timeouts = [due - now] if due is not None else []
        if deadline is not None and not stopper.stopping:
            timeouts.append(deadline - now)
        # Every wait is bounded (design.md, principle 3), whatever the deadlines say.
        timeout = min(max(0.0, min(timeouts)), IDLE_WAKE_S) if timeouts else IDLE_WAKE_S
        try:
            message: Message | None = loop.queue.get(timeout=timeout)
        except queue.Empty:
            message = None
            loop.session.write(Changes())  # idle: lets a storage keep its heartbeat
        if message is not None:
            loop.apply(message)
            while True:  # drain what is already there: a burst costs one tick
                try:
                    loop.apply(loop.queue.get_nowait())
                except queue.Empty:
                    break
        loop.tick()
