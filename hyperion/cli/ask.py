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
        p.add_argument("--study", required=True, help="the study's name")
        return p

    ask = common(commands.add_parser("ask", help="print the next trial of a stored study as JSON"))
    ask.add_argument(
        "--strategy", default=None, help="the strategy that proposes it (default: the study's own, else random)"
    )
    ask.add_argument("--max-trials", type=int, default=None, help="ask for nothing once the study has this many")
    new = ask.add_mutually_exclusive_group()
    new.add_argument("--config", help="a study file (YAML, TOML or JSON): creates the study if it is not stored yet")
    new.add_argument(
        "--space",
        help='the space as JSON (or a file holding it), e.g. \'{"lr": {"float": [0.0001, 0.1], "log": true}}\': '
        "creates the study if it is not stored yet",
    )
    ask.add_argument("--metric", help="with --space: the metric to optimise (default: score)")
    ask.add_argument("--mode", choices=("min", "max"), help="with --space: min or max (default: max)")
    ask.set_defaults(handler=_ask)
    tell = common(commands.add_parser("tell", help="record the result of a trial that `hyperion ask` handed out"))
    tell.add_argument("--trial", type=int, required=True, help="the trial's number (from `hyperion ask`)")
    outcome = tell.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--score", type=float, help="the trial's value of the study's metric (e.g. its val_loss)")
    outcome.add_argument("--metrics", help="the trial's metrics as JSON, e.g. '{\"loss\": 0.3}'")
    outcome.add_argument("--failed", metavar="REASON", help="the trial failed, with this reason")
    tell.set_defaults(handler=_tell)


def _open(args: argparse.Namespace, **kwargs: Any) -> Any:
    """The stored study as a joined Study; with --config or --space (ask only), created when it is not
    there yet (and compared with what is stored when it is)."""
    from hyperion.cli.studies import storage_url_problem
    from hyperion_core.ask import Study
    from hyperion_core.plugins import registry
    from hyperion_core.protocols import SharedStorage
    from hyperion_core.space import Space

    config = _new_study(args, kwargs)
    problem = storage_url_problem(args.storage)
    if problem is not None and not (config is not None and problem.startswith("no database")):
        raise HyperionError(problem)  # only a study being created may create its database file
    storage = registry().storage(args.storage)
    if not isinstance(storage, SharedStorage):
        storage.close()
        raise HyperionError("hyperion ask/tell need a storage other processes share: sqlite:/// or postgresql://")
    if config is not None:
        return Study.from_config(config.model_copy(update={"storage": storage}))
    try:
        info = storage.describe_study(args.study)
    except HyperionError as exc:
        storage.close()
        if str(exc).startswith("no study named"):
            raise HyperionError(
                f'{exc}; create it with `hyperion ask --config study.yaml` or `--space \'{{"lr": {{"float": '
                '[0.0001, 0.1], "log": true}}\'`, or with tune() or Study()'
            ) from None
        raise
    if kwargs.get("strategy", "") is None:
        kwargs["strategy"] = info["config"].get("strategy") or "random"
    return Study(
        Space.described(info["space"]).definition,
        storage=storage,
        study_name=args.study,
        metric=info["metrics"],
        mode=info["modes"],
        constraints=info["config"].get("constraints"),  # the stored study's own: a resume compares them
        join=True,
        **kwargs,
    )


def _new_study(args: argparse.Namespace, kwargs: dict[str, Any]) -> Any:
    """The configuration to create the study from (--config FILE, or --space with --metric/--mode), or None."""
    from hyperion.cli import config_file

    given = {"strategy": kwargs.get("strategy"), "max_trials": kwargs.get("max_trials")}
    fixed = {"study_name": args.study, "join": True}
    if getattr(args, "config", None):
        return config_file.load(args.config, **given, **fixed)
    if getattr(args, "space", None):
        text = args.space
        if not text.lstrip().startswith("{"):  # a file holding the space alone
            space, _ = config_file.read(text)
        else:
            try:
                space = json.loads(text)
            except json.JSONDecodeError as exc:
                raise HyperionError(f"--space is not JSON: {exc}") from None
        options = {"space": space, "metric": args.metric, "mode": args.mode, **given, **fixed}
        return config_file.validate({k: v for k, v in options.items() if v is not None})
    return None


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
