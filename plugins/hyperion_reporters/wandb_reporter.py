"""`reporters=["wandb"]`: Weights & Biases, one run per trial grouped by study (the study's name is the
run group), with the trial's parameters as config, every report as history at its step, and the final
metrics, state and kill reason in the summary. One run per trial, rather than one run with a table,
because that is what W&B compares best: its charts put the trials' learning curves side by side and its
parallel-coordinates panel reads the configs. Offline mode (WANDB_MODE=offline) works as it does in W&B.
A trial's run is written when the trial ends."""

from __future__ import annotations

from typing import Any

from hyperion_core.models import Event, Trial
from hyperion_core.protocols import Reporter
from hyperion_core.state import StudyState
from hyperion_reporters._tracker import TrackerReporter

_DONE = ("trial_completed", "trial_failed", "trial_killed")


class WandbReporter(TrackerReporter, Reporter):
    """project: the W&B project (default: the study's name). entity, mode ("online", "offline",
    "disabled"; default: W&B's, e.g. WANDB_MODE) and dir pass through to wandb.init."""

    name = "wandb"
    package = "wandb"
    extra = "wandb"

    def __init__(
        self, project: str | None = None, entity: str | None = None, mode: str | None = None, dir: str | None = None
    ) -> None:
        super().__init__()
        self.project, self.entity, self.mode, self.dir = project, entity, mode, dir

    def on_event(self, event: Event, study: StudyState) -> None:
        if event.kind in _DONE and event.trial_number is not None:
            trial = study.trials[event.trial_number]
            self._later(f"logging {trial.trial_id}", lambda: self._trial(study, trial))

    def close(self, study: StudyState) -> None:
        self._finish("the last run", lambda: None)

    def _trial(self, study: StudyState, trial: Trial) -> None:
        import wandb

        run = wandb.init(
            project=self.project or study.name,
            entity=self.entity,
            mode=self.mode,  # type: ignore[arg-type]
            dir=self.dir,
            group=study.name,
            name=trial.trial_id,
            job_type="trial",
            config={**trial.params, "hyperion.trial": trial.trial_id},
            reinit="create_new",
        )
        try:
            for step, metrics in study.history.get(trial.number, []):
                run.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=step)
            summary: dict[str, Any] = {
                k: v for k, v in trial.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            summary["hyperion.state"] = trial.state.value
            if trial.value is not None:
                summary[study.metric] = trial.value
            if trial.kill_reason:
                summary["hyperion.kill_reason"] = trial.kill_reason[:2000]
            if trial.error:
                summary["hyperion.error"] = trial.error.splitlines()[0][:2000]
            run.summary.update(summary)
        finally:
            run.finish(exit_code=0 if trial.state.value == "completed" else 1)
