"""Bundled executors: thread (the default) and process."""

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_executors(register: Register) -> None:
    from hyperion_executors.process import ProcessExecutor
    from hyperion_executors.thread import ThreadExecutor

    register("thread", ThreadExecutor)
    register("process", ProcessExecutor)
