"""The sweeper: `python app.py --multirun hydra/sweeper=hyperion` (its options under hydra.sweeper)."""

# no `from __future__ import annotations`: Hydra loads plugin modules outside sys.modules, and OmegaConf reads
# the config dataclass's annotations as types
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.experimental.callback import Callback
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


@dataclass
class HyperionSweeperConf:
    _target_: str = "hydra_plugins.hyperion_sweeper.sweeper.HyperionSweeper"
    # the space, as a study file writes it: lr: {float: [1.0e-4, 1.0e-1], log: true}
    params: dict[str, Any] = field(default_factory=dict)
    strategy: str = "auto"
    max_trials: int = 20
    max_concurrent: int = 1
    metric: str = "score"
    mode: str = "min"
    seed: Any = None
    early_stopping: Any = None
    early_stopping_kwargs: Any = None
    storage: Any = None
    study_name: Any = None
    grace_period_s: float = 5.0


ConfigStore.instance().store(group="hydra/sweeper", name="hyperion", node=HyperionSweeperConf, provider="hyperion")


class HyperionSweeper(Sweeper):
    def __init__(self, **options: Any) -> None:
        self.options = options

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context

    def sweep(self, arguments: list[str]) -> Any:
        from hyperion.command import Command, trial_names
        from hyperion_core.config import StudyConfig, space_of
        from hyperion_core.space import nest
        from hyperion_core.tune import run_study

        options = dict(self.options)
        params = OmegaConf.to_container(OmegaConf.create(options.pop("params") or {}), resolve=True)
        if not params:
            raise ValueError("hydra.sweeper.params is empty: give the space, e.g. params: {lr: {float: [1e-4, 1e-1]}}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        study = options.pop("study_name", None) or str(self.config.hydra.job.name)
        grace_period_s = options.pop("grace_period_s")
        config = StudyConfig.of(
            space=space_of(nest(params)),
            study_name=study,
            **{k: v for k, v in options.items() if v is not None},
            reporters=["summary"],
        )
        words = [sys.executable, sys.argv[0], *arguments]
        words += [f"{name}={{{name}}}" for name in trial_names(config.space)]
        words += ["hydra.run.dir=.", f"+hydra.callbacks.hyperion_result._target_={ResultLine.__module__}.ResultLine"]
        command = Command(words, study=study, workdir=sweep_dir, base_dir=Path.cwd(), grace_period_s=grace_period_s)
        log.info(
            "Hyperion sweeper: %s, %d trials, %d at once, in %s",
            config.strategy,
            config.max_trials or 0,
            config.max_concurrent,
            sweep_dir,
        )
        result = run_study(config, command)
        (sweep_dir / "optimization_results.json").write_text(json.dumps(_jsonable(result), indent=2, default=str))
        return result


def _jsonable(result: Any) -> dict[str, Any]:
    return {"best": result["best"], "study": result["study"]}


class ResultLine(Callback):
    """In each trial's process: the task function's return value, printed as the trial's result."""

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        if job_return.status is not JobStatus.COMPLETED:
            return  # Hydra reports the error; the trial fails with it
        value = job_return.return_value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            print("hyperion.result", json.dumps({"score": float(value)}), flush=True)
        elif isinstance(value, dict):
            print("hyperion.result", json.dumps(value, default=float), flush=True)
