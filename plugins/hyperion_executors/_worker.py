"""The child side of the process executor: `python -m hyperion_executors._worker FD`.

It reads ("init", sys_path, objective_bytes) once, then runs ("run", ...) jobs one after another.
A reader thread handles ("stop", number) while a trial runs, so should_stop() is a cheap flag.
"""

from __future__ import annotations

import functools
import os
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any


def main(fd: int) -> None:
    # Ctrl-C in the terminal reaches the whole process group: the parent handles it and ends the
    # workers; a worker printing its own KeyboardInterrupt traceback would only add noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    kind, sys_path, payload = conn.recv()
    assert kind == "init"
    for entry in reversed(sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    send_lock = threading.Lock()

    def send(message: Any) -> None:
        with send_lock:
            conn.send(message)

    try:
        import cloudpickle

        from hyperion_core.context import TrialContext, run_trial

        objective = cloudpickle.loads(payload)
    except BaseException as exc:  # tell the parent why, then exit: every trial here would fail
        send(("init_failed", f"the worker process could not load the objective: {type(exc).__name__}: {exc}"))
        return
    send(("ready",))

    jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stopped: set[int] = set()  # a stop may arrive before its trial starts here: keep it by number

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent is gone: end the process, do not linger
                os._exit(0)
            if message is None:
                jobs.put(None)
                return
            if message[0] == "stop":
                stopped.add(message[1])
            else:
                jobs.put(message)

    threading.Thread(target=read, daemon=True).start()
    while True:
        job = jobs.get()
        if job is None:
            return
        spec = job[1]
        ctx = TrialContext(spec, send, functools.partial(stopped.__contains__, spec.number))
        run_trial(objective, ctx, send)
        stopped.discard(spec.number)


if __name__ == "__main__":
    main(int(sys.argv[1]))
