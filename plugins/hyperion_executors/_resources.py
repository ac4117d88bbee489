"""resources_per_trial for the executors on one machine: how many trials fit at once, and which GPUs
each worker slot gets (CUDA_VISIBLE_DEVICES is set per worker process from the visible devices)."""

from __future__ import annotations

import os
import shutil
import subprocess

from hyperion_core.errors import ConfigurationError


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else what nvidia-smi lists."""
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        return [d.strip() for d in declared.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


class Allocation:
    """What each worker slot of a local executor gets, and how many slots there can be."""

    def __init__(self, resources: dict[str, float] | None, executor: str) -> None:
        resources = dict(resources or {})
        cpu = resources.pop("cpu", None)
        gpu = resources.pop("gpu", 0)
        if resources:
            raise ConfigurationError(
                f"executor='{executor}' knows the resources cpu and gpu, not {', '.join(sorted(resources))} "
                "(custom resources need executor='ray')"
            )
        self.capacity: int | None = None
        self.gpus_per_trial = 0
        self.devices: list[str] = []
        if cpu is not None:
            self.capacity = max(1, int((os.cpu_count() or 1) // cpu)) if cpu > 0 else None
        if gpu:
            if float(gpu) != int(gpu):
                raise ConfigurationError(
                    f"executor='{executor}' gives each trial whole GPUs, got gpu={gpu}; for fractions use executor='ray'"
                )
            self.gpus_per_trial = int(gpu)
            self.devices = visible_gpus()
            if self.gpus_per_trial > len(self.devices):
                seen = ", ".join(self.devices) or "none"
                raise ConfigurationError(
                    f"resources_per_trial asks for {self.gpus_per_trial} GPU(s) per trial but this machine shows "
                    f"{len(self.devices)} (visible: {seen}; CUDA_VISIBLE_DEVICES limits them)"
                )
            by_gpu = len(self.devices) // self.gpus_per_trial
            self.capacity = by_gpu if self.capacity is None else min(self.capacity, by_gpu)

    def env(self, slot: int) -> dict[str, str]:
        """The environment a worker in `slot` runs with (its own GPUs)."""
        if not self.gpus_per_trial:
            return {}
        mine = self.devices[slot * self.gpus_per_trial : (slot + 1) * self.gpus_per_trial]
        return {"CUDA_VISIBLE_DEVICES": ",".join(mine)}
