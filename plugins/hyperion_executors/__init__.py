"""Bundled executors: thread (the default), process, and ray (optional extra)."""

from typing import Any

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_executors(register: Register) -> None:
    from hyperion_executors.process import ProcessExecutor
    from hyperion_executors.thread import ThreadExecutor

    register("thread", ThreadExecutor)
    register("process", ProcessExecutor)
    register("ray", _ray)


def _ray(
    address: str | None = None,
    runtime_env: dict[str, Any] | None = None,
    init_kwargs: dict[str, Any] | None = None,
    resources_per_trial: dict[str, Any] | None = None,
) -> object:
    """executor="ray" (the optional extra `ray`); Ray is imported only when it is chosen."""
    from hyperion_executors.ray_executor import RayExecutor

    return RayExecutor(address, runtime_env, init_kwargs, resources_per_trial)
