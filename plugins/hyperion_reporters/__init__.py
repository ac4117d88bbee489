"""Bundled reporters: progress (live), summary (a table at the end), jsonl (an event log file)."""

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_reporters(register: Register) -> None:
    from hyperion_reporters.jsonl import JsonlReporter
    from hyperion_reporters.progress import ProgressReporter
    from hyperion_reporters.summary import SummaryReporter

    register("progress", ProgressReporter)
    register("summary", SummaryReporter)
    register("jsonl", JsonlReporter)
    register("mlflow", _mlflow)
    register("wandb", _wandb)


def _mlflow(tracking_uri: str | None = None, experiment: str | None = None) -> object:
    """reporters=["mlflow"] (the optional extra `mlflow`); MLflow is imported when the study starts."""
    from hyperion_reporters.mlflow_reporter import MLflowReporter

    return MLflowReporter(tracking_uri, experiment)


def _wandb(
    project: str | None = None, entity: str | None = None, mode: str | None = None, dir: str | None = None
) -> object:
    """reporters=["wandb"] (the optional extra `wandb`)."""
    from hyperion_reporters.wandb_reporter import WandbReporter

    return WandbReporter(project, entity, mode, dir)
