"""`hyperion run study.yaml` (a study from a file, its objective a Python function or a command) and
`hyperion agent STUDY --storage URL` (one more worker of a stored study, for job arrays and machines
sharing PostgreSQL). Both are the one StudyConfig that tune() builds, run by the same loop."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hyperion_core.errors import ConfigurationError, HyperionError

#: What a study file may hold besides a study's options: how to run a trial.
RUNNER_KEYS = ("objective", "command", "shell", "workdir")


def add_parsers(commands: Any) -> None:
    run = commands.add_parser("run", help="run the study a file describes (YAML, TOML or JSON)")
    run.add_argument("file", help="the study file: options of tune(), and `objective: module:function` or `command:`")
    run.add_argument("--storage", help="storage URL (overrides the file's)")
    run.add_argument("--study", help="the study's name (overrides the file's study_name)")
    run.add_argument("--max-trials", type=int, help="overrides the file's max_trials")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the study in this many processes (join=True; needs a storage); 0 stores it for `hyperion agent`s",
    )
    run.add_argument("--summary", action=argparse.BooleanOptionalAction, default=True, help="print the summary")
    run.set_defaults(handler=_run)
    agent = commands.add_parser("agent", help="work a stored study (one more worker) until it is done")
    agent.add_argument("study", help="the study's name")
    agent.add_argument(
        "--storage", default=os.environ.get("HYPERION_STORAGE"), help="storage URL (or $HYPERION_STORAGE)"
    )
    agent.add_argument(
        "--max-trials", type=int, help="raise the study-wide max_trials to this (every worker counts towards it)"
    )
    agent.set_defaults(handler=_agent)


# -- the two commands ---------------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    from hyperion.cli import config_file

    path = Path(args.file)
    data, lines = config_file.read(path)
    runner = {key: data.pop(key) for key in RUNNER_KEYS if key in data}
    overrides = {"storage": args.storage, "study_name": args.study, "max_trials": args.max_trials}
    data.update({k: v for k, v in overrides.items() if v is not None})
    data.setdefault("study_name", path.stem)
    if args.workers < 0:
        raise ConfigurationError(
            f"--workers takes 0 (store the study for agents elsewhere) or more, got {args.workers}"
        )
    if args.workers != 1:
        if not data.get("storage"):
            raise ConfigurationError(
                "--workers needs a storage the workers share: --storage sqlite:///study.db (or storage: in the file)"
            )
        data["join"] = True
    stored = {**data, **runner, "base_dir": str(path.resolve().parent)}
    stored.pop("storage", None)  # never kept in the database (it may hold a password)
    data["runner"] = stored
    if args.summary:
        data.setdefault("reporters", _shown())
    _import_constraints(data, path.resolve().parent, str(path))
    config = config_file.validate(data, lambda key: config_file.where(path, lines, key))
    objective = objective_of(runner, config.study_name, path.resolve().parent, str(path))
    _check_command(objective, config)
    if args.workers == 1:
        _tune(config, objective)
        return 0
    if args.workers == 0:
        from hyperion_core.ask import Study
        from hyperion_core.text import redact_url

        Study.from_config(config.model_copy(update={"reporters": []})).close()
        print(
            f"stored study '{config.study_name}' in {redact_url(str(config.storage))}: start workers with "
            f"`hyperion agent {config.study_name} --storage URL` (or $HYPERION_STORAGE)"
        )
        return 0
    return _workers(config, objective, args.workers)


def _agent(args: argparse.Namespace) -> int:
    from hyperion.cli import config_file
    from hyperion.cli.studies import storage_url_problem
    from hyperion_core.plugins import registry

    if (problem := storage_url_problem(args.storage)) is not None:
        raise HyperionError(problem)
    storage = registry().storage(args.storage, read_only=True)
    try:
        info = storage.describe_study(args.study)
    finally:
        storage.close()
    runner = dict(info["config"].get("runner") or {})
    if not runner:
        raise HyperionError(
            f"study '{args.study}' was not started by `hyperion run`, so it keeps no objective for an agent to run; "
            "start more workers of it with tune(..., join=True) in Python"
        )
    base_dir = Path(runner.pop("base_dir", "."))
    data = {k: v for k, v in runner.items() if k not in RUNNER_KEYS}
    data.update(storage=args.storage, study_name=args.study, join=True, runner=info["config"]["runner"])
    if args.max_trials is not None:
        data["max_trials"] = args.max_trials
    data["reporters"] = _shown(summary=False)  # on a terminal, its progress; a job's log stays quiet
    _import_constraints(data, base_dir, f"study '{args.study}'")
    config = config_file.validate(data)
    objective = objective_of(runner, args.study, base_dir, f"study '{args.study}'")
    _check_command(objective, config)
    _tune(config, objective)
    return 0


def _check_command(objective: Any, config: Any) -> None:
    """A command's placeholders must name parameters of the space (as the trial gets them: nested paths)."""
    from hyperion.command import Command, trial_names

    if isinstance(objective, Command):
        objective.check(trial_names(config.space))


def _shown(summary: bool = True) -> list[str]:
    """What the Python API shows with show_progress/show_summary: progress on a terminal, then the summary."""
    return (["progress"] if sys.stdout.isatty() else []) + (["summary"] if summary else [])


def _tune(config: Any, objective: Any) -> Any:
    from hyperion_core.tune import run_study

    _terminate_cleanly()
    return run_study(config, objective)


def _terminate_cleanly() -> None:
    """SIGTERM (a job scheduler ending or preempting the task) ends the study as Ctrl-C does: running
    trials are recorded as interrupted (the next worker runs them again) and their programs end."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _workers(config: Any, objective: Any, count: int) -> int:
    """Start the study here (so every worker finds it), then `count` agents; wait for them all."""
    from hyperion_core.ask import Study
    from hyperion_core.result import load_study

    _terminate_cleanly()  # SIGTERM to this process: the agents get it too (below), and end as Ctrl-C ends them
    Study.from_config(config.model_copy(update={"reporters": []})).close()  # creates (or checks) the stored study
    command = [sys.executable, "-m", "hyperion", "agent", config.study_name]
    env = {**os.environ, "HYPERION_STORAGE": str(config.storage)}  # not in argv, where `ps` shows a password
    agents = [subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env) for _ in range(count)]
    codes: list[int] = []
    restarts = count  # a worker killed by a signal (OOM killer, a preempted node) is replaced, this often at most
    try:
        while agents:
            time.sleep(0.2)
            for agent in list(agents):
                code = agent.poll()
                if code is None:
                    continue
                agents.remove(agent)
                if code < 0 and restarts > 0:  # its trial is interrupted; the next worker runs it again
                    restarts -= 1
                    print(f"hyperion: a worker was killed ({_signal(code)}); starting another", file=sys.stderr)
                    agents.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env))
                else:
                    codes.append(code)
    except KeyboardInterrupt:
        for agent in agents:
            agent.terminate()
        raise
    result = load_study(config.study_name, storage=str(config.storage))
    study = result["study"]
    best = result["best"]
    print(
        f"{study['name']}: {study['trials']} trials by {count} workers, {study['completed']} completed, "
        f"{study['failed']} failed, {study['killed']} killed"
        + (f"; best {study['metric']} = {best['value']:.6g} ({best['trial_id']})" if best else "")
    )
    failed = [code for code in codes if code != 0]
    if failed:
        print(f"hyperion: {len(failed)} of {count} workers ended with an error (exit codes {failed})", file=sys.stderr)
        return 1
    return 0


def _signal(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


# -- the objective ------------------------------------------------------------------------------------
def objective_of(runner: dict[str, Any], study: str, base_dir: Path, where: str) -> Any:
    """The trial's objective: `objective: module:function` (or path/to/file.py:function), or `command:`."""
    if ("objective" in runner) == ("command" in runner):
        raise ConfigurationError(
            f"{where}: give the objective as `objective: module:function` (a Python function) or as "
            "`command: python train.py --lr {lr}` (a program), one of the two"
        )
    if "command" in runner:
        from hyperion.command import Command

        return Command(
            runner["command"],
            shell=bool(runner.get("shell", False)),
            study=study,
            workdir=runner.get("workdir", ".hyperion/runs"),
            base_dir=base_dir,
        )
    return _import(runner["objective"], base_dir, where)


def _import_constraints(data: dict[str, Any], base_dir: Path, where: str) -> None:
    """`parameter_constraints: [module:function, ...]` (or one): the functions, imported as the objective is."""
    given = data.get("parameter_constraints")
    if given is None:
        return
    specs = given if isinstance(given, list) else [given]
    data["parameter_constraints"] = [_import(spec, base_dir, where, "parameter_constraints") for spec in specs]


def _import(spec: Any, base_dir: Path, where: str, what: str = "objective") -> Any:
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigurationError(f"{where}: {what} takes 'module:function' or 'file.py:function', got {spec!r:.100}")
    module_name, _, name = spec.rpartition(":")
    if str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))  # the file's own modules import as they would beside it
    try:
        if module_name.endswith(".py"):
            file = (base_dir / module_name).resolve()
            loaded = importlib.util.spec_from_file_location(file.stem, file)
            if loaded is None or loaded.loader is None or not file.exists():
                raise ConfigurationError(f"{where}: {what} file {str(file)!r} does not exist")
            module = importlib.util.module_from_spec(loaded)
            sys.modules[file.stem] = module  # so executor='process' workers can unpickle what it defines
            loaded.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"{where}: cannot import the {what} module {module_name!r}: {exc}") from None
    objective = getattr(module, name, None)
    if not callable(objective):
        raise ConfigurationError(f"{where}: {module_name!r} has no function {name!r} ({what}: {spec})")
    return objective
