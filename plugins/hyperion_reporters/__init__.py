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
