"""Reporters: the live progress line, the summary table, the JSON-lines event log."""

from __future__ import annotations

import io
import json

from rich.console import Console

from hyperion import Float, ObjectiveResult, tune
from hyperion_reporters.jsonl import JsonlReporter
from hyperion_reporters.progress import ProgressReporter
from hyperion_reporters.summary import SummaryReporter


def objective(ctx, x):
    if x > 0.9:
        raise ValueError("too big")
    return ObjectiveResult(score=x, metrics={"loss": 1 - x})


def _console() -> Console:
    return Console(file=io.StringIO(), width=120, force_terminal=False, color_system=None)


def test_summary_shows_counts_best_and_top_trials_in_the_study_direction():
    console = _console()
    result = tune(
        objective,
        {"x": Float(0, 1)},
        max_trials=30,
        seed=4,
        metric="loss",
        mode="min",
        reporters=[SummaryReporter(top=5, console=console)],
    )
    out = console.file.getvalue()
    study = result["study"]
    assert f"30 trials: {study['completed']} completed, {study['failed']} failed, 0 killed" in out
    assert f"best loss (min) = {result['best']['value']:.6g} at {result['best']['trial_id']}" in out
    assert "top 5 trials" in out
    ranked = sorted((t for t in result["trials"] if t["state"] == "completed"), key=lambda t: t["value"])[:5]
    positions = [out.index(t["trial_id"], out.index("top 5")) for t in ranked]
    assert positions == sorted(positions)  # best first


def test_summary_when_nothing_completed_shows_the_first_error():
    console = _console()
    tune(lambda ctx, x: 1 / 0, {"x": Float(0, 1)}, max_trials=2, reporters=[SummaryReporter(console=console)])
    out = console.file.getvalue()
    assert "no trial completed" in out and "ZeroDivisionError" in out


def test_progress_line_shows_done_running_failed_and_best():
    console = _console()
    reporter = ProgressReporter(console=console)
    result = tune(objective, {"x": Float(0, 1)}, max_trials=40, seed=2, reporters=[reporter])
    text = reporter.__rich__().plain  # what the live display renders last
    assert f"{result['study']['trials']}/40" in text
    assert "running 0" in text
    assert f"failed {result['study']['failed']}" in text
    assert f"best score↑ {result['best']['value']:.6g} ({result['best']['trial_id']})" in text


def test_show_progress_and_show_summary_print(capsys):
    tune(objective, {"x": Float(0, 1)}, max_trials=3, show_summary=True, show_progress=True)
    captured = capsys.readouterr()
    assert "3 trials" in captured.out and "best score (max)" in captured.out
    assert "3/3" in captured.err


def test_jsonl_event_log(tmp_path):
    path = tmp_path / "events.jsonl"
    tune(objective, {"x": Float(0, 1)}, max_trials=5, reporters=[JsonlReporter(path)], seed=0)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "study_started"
    assert kinds.count("trial_started") == 5
    assert sum(k in ("trial_completed", "trial_failed") for k in kinds) == 5
    done = [e for e in events if e["kind"] == "trial_completed"]
    assert all("x" in e["params"] and e["value"] is not None for e in done)
