"""`reporters=["mlflow"]`: one MLflow parent run per study, a nested run per trial with its parameters,
every reported metric at its step, the final metrics, and its state and kill reason as tags; the best
trial is tagged on the parent. Resuming a study continues the same parent run. Works with a local file
store and a tracking server (`tracking_uri`, else MLFLOW_TRACKING_URI, else ./mlruns)."""

from __future__ import annotations

import time
from typing import Any

from hyperion_core.models import Event, Trial
from hyperion_core.protocols import Reporter
from hyperion_core.state import StudyState
from hyperion_reporters._tracker import TrackerReporter

_DONE = ("trial_completed", "trial_failed", "trial_killed")


class MLflowReporter(TrackerReporter, Reporter):
    """tracking_uri: where runs go (default: MLflow's own default). experiment: the experiment's name
    (default: the study's name)."""

    name = "mlflow"
    package = "mlflow"
    extra = "mlflow"

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        super().__init__()
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self.client: Any = None
        self.parent: str | None = None
        self.runs: dict[int, str] = {}  # trial number -> its nested run

    def on_event(self, event: Event, study: StudyState) -> None:
        if event.kind == "study_started":
            self._later("opening the study's run", lambda: self._open(study))
        elif event.kind in _DONE and event.trial_number is not None:
            trial = study.trials[event.trial_number]
            self._later(f"logging {trial.trial_id}", lambda: self._trial(study, trial))

    def _open(self, study: StudyState) -> None:
        import os

        # A tracking server that does not answer: fail in seconds, not after minutes of retries.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        name = self.experiment or study.name
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found is not None else self.client.create_experiment(name)
        self.experiment_id = experiment
        # A resumed study goes on in the parent run it had.
        runs = self.client.search_runs(
            [experiment],
            filter_string=f"tags.`hyperion.study` = '{_quote(study.name)}' and tags.`hyperion.parent` = 'yes'",
        )
        if runs:
            self.parent = runs[0].info.run_id
            self.client.update_run(self.parent, status="RUNNING")
        else:
            tags = {"hyperion.study": study.name, "hyperion.parent": "yes", "mlflow.runName": study.name}
            self.parent = self.client.create_run(experiment, tags=tags).info.run_id
            self.client.log_param(self.parent, "goal", ",".join(f"{mode} {metric}" for metric, mode in study.goal))

    def _trial(self, study: StudyState, trial: Trial) -> None:
        from mlflow.entities import Metric, Param, RunTag

        tags = {
            "mlflow.parentRunId": self.parent,
            "mlflow.runName": trial.trial_id,
            "hyperion.study": study.name,
            "hyperion.trial": trial.trial_id,
            "hyperion.state": trial.state.value,
        }
        if trial.kill_reason:
            tags["hyperion.kill_reason"] = trial.kill_reason[:5000]
        if trial.error:
            tags["hyperion.error"] = trial.error.splitlines()[0][:5000]
        run = self.client.create_run(self.experiment_id, tags=tags, start_time=int(trial.started * 1000))
        run_id = run.info.run_id
        self.runs[trial.number] = run_id
        now = int(time.time() * 1000)
        metrics = [
            Metric(str(name), float(value), now, int(step))
            for step, reported in study.history.get(trial.number, [])
            for name, value in reported.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        ]
        final = {**{k: v for k, v in trial.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}}
        if trial.value is not None:
            final.setdefault(study.metric, trial.value)
        metrics += [Metric(str(name), float(value), now, int(trial.last_step or 0)) for name, value in final.items()]
        params = [Param(name, str(value)[:500]) for name, value in trial.params.items()]
        for start in range(0, max(len(metrics), len(params), 1), 900):  # MLflow takes batches of up to 1000
            self.client.log_batch(
                run_id,
                metrics=metrics[start : start + 900],
                params=params[start : start + 900],
                tags=[RunTag(k, str(v)) for k, v in tags.items()] if start == 0 else [],
            )
        status = {"completed": "FINISHED", "failed": "FAILED", "killed": "KILLED"}[trial.state.value]
        self.client.set_terminated(run_id, status=status, end_time=int((trial.finished or time.time()) * 1000))

    def close(self, study: StudyState) -> None:
        def finish() -> None:
            if self.parent is None:
                return
            best = study.best
            if best is not None:
                self.client.set_tag(self.parent, "hyperion.best_trial", best.trial_id)
                if best.number in self.runs:
                    self.client.set_tag(self.runs[best.number], "hyperion.best", "yes")
                self.client.log_metric(self.parent, f"best_{study.metric}", float(best.value or 0.0))
            self.client.set_terminated(self.parent, status="FINISHED")

        self._finish("closing the study's run", finish)


def _quote(text: str) -> str:
    return text.replace("'", "\\'")
