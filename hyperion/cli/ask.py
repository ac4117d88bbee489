"""`hyperion ask` and `hyperion tell`: ask-and-tell from a shell, for objectives that are not Python.

`ask` prints one trial as JSON and leaves it running in the storage; `tell` records its result. Both
join the study (join=True), so several shells, jobs and Python Studies can work it at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from hyperion_core.errors import HyperionError
from hyperion_core.text import dumps


def add_parsers(commands: Any) -> None:
    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--storage", default=os.environ.get("HYPERION_STORAGE"), help="storage URL (or $HYPERION_STORAGE)"
        )
        p.add_argument("--study", required=True, help="the study's name (create it with tune() or Study() first)")
        return p

    ask = common(commands.add_parser("ask", help="print the next trial of a stored study as JSON"))
    ask.add_argument(
        "--strategy", default=None, help="the strategy that proposes it (default: the study's own, else random)"
    )
    ask.add_argument("--max-trials", type=int, default=None, help="ask for nothing once the study has this many")
    ask.set_defaults(handler=_ask)
    tell = common(commands.add_parser("tell", help="record the result of a trial that `hyperion ask` handed out"))
    tell.add_argument("--trial", type=int, required=True, help="the trial's number (from `hyperion ask`)")
    outcome = tell.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--score", type=float, help="the trial's value of the study's metric (e.g. its val_loss)")
    outcome.add_argument("--metrics", help="the trial's metrics as JSON, e.g. '{\"loss\": 0.3}'")
    outcome.add_argument("--failed", metavar="REASON", help="the trial failed, with this reason")
    tell.set_defaults(handler=_tell)


def _open(args: argparse.Namespace, **kwargs: Any) -> Any:
    from hyperion.cli.studies import storage_url_problem
    from hyperion_core.ask import Study
    from hyperion_core.plugins import registry
    from hyperion_core.protocols import SharedStorage
    from hyperion_core.space import Space

    if (problem := storage_url_problem(args.storage)) is not None:  # never a new empty database file
        raise HyperionError(problem)
    storage = registry().storage(args.storage)
    if not isinstance(storage, SharedStorage):
        storage.close()
        raise HyperionError("hyperion ask/tell need a storage other processes share: sqlite:/// or postgresql://")
    try:
        info = storage.describe_study(args.study)
    except HyperionError:
        storage.close()
        raise
    if kwargs.get("strategy", "") is None:
        kwargs["strategy"] = info["config"].get("strategy") or "random"
    return Study(
        Space.described(info["space"]).definition,
        storage=storage,
        study_name=args.study,
        metric=info["metrics"],
        mode=info["modes"],
        join=True,
        **kwargs,
    )


def _ask(args: argparse.Namespace) -> int:
    study = _open(args, strategy=args.strategy, max_trials=args.max_trials)
    try:
        trial = study.ask()
    finally:
        study.close(keep_asked=True)
    print(dumps({"trial": trial.number, "trial_id": trial.trial_id, "params": trial.params}))
    return 0


def _tell(args: argparse.Namespace) -> int:
    from hyperion_core.checks import number
    from hyperion_core.models import ObjectiveResult

    if args.trial < 0:
        raise HyperionError(f"--trial takes a trial number (0 or more, as `hyperion ask` printed it), got {args.trial}")
    if args.failed is not None:
        result: Any = RuntimeError(args.failed)
    elif args.metrics is not None:
        try:
            metrics = json.loads(args.metrics)
        except json.JSONDecodeError as exc:
            raise HyperionError(f"--metrics is not JSON: {exc}") from None
        if not isinstance(metrics, dict):
            raise HyperionError("--metrics takes a JSON object, e.g. '{\"loss\": 0.3}'")
        score = metrics.pop("score", None)
        if score is not None and number(score) is None:
            raise HyperionError(f"--metrics: 'score' must be a number, got {score!r:.100}")
        result = ObjectiveResult(score=score, metrics=metrics)
    else:
        result = args.score
    with _open(args) as study:
        metric = study.result()["study"]["metric"]
        if isinstance(result, float) and isinstance(metric, str) and metric != "score":
            result = ObjectiveResult(score=result, metrics={metric: result})  # --score is the study's metric
        trial = study.adopt(args.trial)
        study.tell(trial, result)
        state = next(t for t in study.trials if t["number"] == args.trial)
    print(
        f"trial {args.trial}: {state['state']}" + (f" ({state['error'].splitlines()[0]})" if state["error"] else ""),
        file=sys.stderr,
    )
    return 0
