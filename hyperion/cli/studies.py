"""`hyperion studies list|show|export|delete` over any storage URL."""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path
from typing import Any

from hyperion_core.errors import HyperionError
from hyperion_core.goal import Goal
from hyperion_core.models import Trial, TrialState
from hyperion_core.plugins import registry
from hyperion_core.terminal import inert
from hyperion_core.text import dumps, first_line, redact_url


def with_storage(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give a command the --storage option (default: $HYPERION_STORAGE)."""
    p.add_argument(
        "--storage",
        default=os.environ.get("HYPERION_STORAGE"),
        help="storage URL, e.g. sqlite:///experiments.db (default: $HYPERION_STORAGE)",
    )
    return p


def storage_url_problem(url: str | None) -> str | None:
    """What is wrong with a --storage value before opening it (None: nothing seen)."""
    if not url:
        return "name the storage: --storage sqlite:///experiments.db (or set HYPERION_STORAGE)"
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).exists():
        return f"no database at {url[len('sqlite:///') :]!r}"
    if "://" not in url:
        return f"--storage must be a URL such as sqlite:///experiments.db, got {redact_url(url)!r}"
    return None


def add_parser(commands: Any) -> None:
    studies = commands.add_parser("studies", help="inspect, export and delete stored studies")
    sub = studies.add_subparsers(dest="studies_command", metavar="COMMAND")

    listing = with_storage(sub.add_parser("list", help="one line per study"))
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show = with_storage(sub.add_parser("show", help="best trial, counts and the top trials of a study"))
    show.add_argument("name")
    show.add_argument("--top", type=_positive, default=10, help="how many trials to list (default 10)")
    export = with_storage(sub.add_parser("export", help="every trial of a study as CSV or JSON"))
    export.add_argument("name")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", "-o", help="write to this file instead of standard output")
    delete = with_storage(sub.add_parser("delete", help="delete a study and everything recorded for it"))
    delete.add_argument("name")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.add_argument(
        "--force", action="store_true", help="delete even while a tune() runs it (that run then stops with an error)"
    )
    studies.set_defaults(handler=run, studies_parser=studies)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    if not args.studies_command:
        args.studies_parser.print_help(sys.stderr)
        return 2
    if (problem := storage_url_problem(args.storage)) is not None:
        return _fail(problem)
    url = args.storage
    try:
        storage = registry().storage(url, read_only=args.studies_command != "delete")
        try:
            return {"list": _list, "show": _show, "export": _export, "delete": _delete}[args.studies_command](
                storage, args
            )
        finally:
            storage.close()
    except HyperionError as exc:
        return _fail(str(exc))


def _fail(message: str) -> int:
    print(f"hyperion: {inert(message)}", file=sys.stderr)
    return 1


def _console() -> Any:
    from hyperion_core.terminal import console

    return console()


def _text(value: Any, style: str = "") -> Any:
    """User text (study names, parameter values) as a rich Text: shown as written, never read as markup."""
    from hyperion_core.terminal import Text

    return Text(value if isinstance(value, str) else _number(value), style=style)


def _list(storage: Any, args: argparse.Namespace) -> int:
    studies = storage.list_studies()
    if args.json:
        print(dumps(studies, indent=2))
        return 0
    from rich.table import Table

    rows = [
        [
            s["name"],
            str(Goal.from_json(s)),
            "running" if s.get("open_by") else "-",
            str(s["trials"]),
            str(s["completed"]),
            str(s["failed"]),
            str(s["killed"]),
            str(s["interrupted"] + s["running"]),
            _number(s["best"]),
        ]
        for s in studies
    ]
    columns = ["study", "goal", "state", "trials", "completed", "failed", "killed", "interrupted", "best"]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    # Numbers are never cut: on a narrow terminal the least useful columns go first, and names wrap.
    console = _console()
    keep = list(range(len(columns)))
    for drop in ("interrupted", "killed", "failed", "state", "completed", "goal"):
        if sum(widths[i] + 3 for i in keep) + 12 <= console.width:
            break
        keep.remove(columns.index(drop))
    table = Table(title=_text(f"studies in {storage.url}"), title_justify="left")
    for i in keep:
        if columns[i] in ("study", "goal"):
            table.add_column(columns[i], justify="left", overflow="fold")
        else:
            table.add_column(columns[i], justify="right", no_wrap=True, min_width=widths[i])
    rows = [[row[i] for i in keep] for row in rows]
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    console.print(table)
    return 0


def _study(storage: Any, name: str) -> dict[str, Any]:
    for study in storage.list_studies():
        if study["name"] == name:
            found: dict[str, Any] = study
            return found
    names = ", ".join(s["name"] for s in storage.list_studies()) or "none"
    raise HyperionError(f"no study named '{name}' in {storage.url}; studies there: {names}")


def _show(storage: Any, args: argparse.Namespace) -> int:
    from rich.table import Table

    study = _study(storage, args.name)
    trials = storage.load_trials(args.name)
    goal = Goal.from_json(study)
    if goal.several:
        return _show_front(study, goal, trials, args.top)
    done = [t for t in trials if t.state is TrialState.COMPLETED and t.value is not None and not (t.violation or 0) > 0]
    done.sort(key=lambda t: goal.loss(t.value))
    console = _console()
    from hyperion_core.terminal import Text

    console.print(
        Text.assemble(
            (study["name"], "bold"),
            f" ({goal}): {study['trials']} trials, "
            f"{study['completed']} completed, {study['failed']} failed, {study['killed']} killed, "
            f"{study['interrupted'] + study['running']} interrupted",
        )
    )
    if not done:
        console.print("no trial completed")
        return 0
    best = done[0]
    console.print(Text.assemble(f"best {goal.metric} = ", (_number(best.value), "bold cyan"), f" at {best.trial_id}"))
    console.print(_text("  params: " + ", ".join(f"{k}={_number(v)}" for k, v in best.params.items())))
    names = list(best.params)
    table = Table(title=f"top {min(args.top, len(done))} trials", title_justify="left")
    for column in ("#", "trial", goal.metric, *names):
        table.add_column(_text(column))
    for rank, trial in enumerate(done[: args.top], 1):
        cells = [str(rank), trial.trial_id, _number(trial.value), *(_number(trial.params.get(n)) for n in names)]
        table.add_row(*(_text(c) for c in cells))
    console.print(table)
    return 0


def _show_front(study: dict[str, Any], goal: Goal, trials: list[Trial], top: int) -> int:
    """Several objectives: the counts and the Pareto front (feasible completed trials no other dominates)."""
    from rich.table import Table

    from hyperion_core.pareto import front_indices

    done = [t for t in trials if t.state is TrialState.COMPLETED and t.values and not (t.violation or 0) > 0]
    console = _console()
    console.print(
        _text(
            f"{study['name']} ({goal}): {study['trials']} trials, {study['completed']} completed, "
            f"{study['failed']} failed, {study['killed']} killed"
        )
    )
    if not done:
        console.print("no trial completed")
        return 0
    front = [done[i] for i in front_indices(goal.losses([t.values or [] for t in done]))]
    front.sort(key=lambda t: goal.loss((t.values or [None])[0]))
    table = Table(title=f"Pareto front: {len(front)} trials (first {min(top, len(front))})", title_justify="left")
    names = list(front[0].params)
    for column in ("trial", *goal.metrics, *names):
        table.add_column(_text(column))
    for trial in front[:top]:
        cells = [
            trial.trial_id,
            *(_number(v) for v in trial.values or []),
            *(_number(trial.params.get(n)) for n in names),
        ]
        table.add_row(*(_text(c) for c in cells))
    console.print(table)
    return 0


def _export(storage: Any, args: argparse.Namespace) -> int:
    _study(storage, args.name)
    trials = storage.load_trials(args.name)
    if args.format == "json":
        text = dumps([t.to_dict() for t in trials], indent=2) + "\n"  # standard JSON: no NaN or Infinity
    else:
        text = _csv(trials)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {args.output!r}: {exc.strerror or exc}")
        print(f"wrote {len(trials)} trials to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _csv(trials: list[Trial]) -> str:
    params = list(dict.fromkeys(k for t in trials for k in t.params))
    metrics = list(dict.fromkeys(k for t in trials for k in t.metrics))
    base = [
        "trial_id",
        "number",
        "state",
        "value",
        "score",
        "parent_id",
        "depth",
        "started",
        "finished",
        "duration_s",
        "error",
        "kill_reason",
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(c) for c in base + [f"params.{p}" for p in params] + [f"metrics.{m}" for m in metrics]])
    for t in trials:
        row = t.to_dict()
        writer.writerow(
            _cell(cell)
            for cell in [row[c] if c != "error" else first_line(row[c], 10_000) for c in base]
            + [t.params.get(p) for p in params]
            + [t.metrics.get(m) for m in metrics]
        )
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: user text that starts like a formula (=, +, -, @, a tab or a
    carriage return) gets a leading apostrophe, so `=1+2` or `@SUM(A1)` is never evaluated. Numbers stay."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _delete(storage: Any, args: argparse.Namespace) -> int:
    study = _study(storage, args.name)
    if study.get("open_by") and not args.force:
        return _fail(
            f"study '{args.name}' is open in a running tune() ({study['open_by']}); stop it first, "
            "or delete anyway with --force (that run then stops with an error)"
        )
    if not args.yes:
        prompt = f"Delete study '{args.name}' and its {study['trials']} trials from {storage.url}? [y/N] "
        try:
            answer = input(prompt)
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            return _fail("not deleted (answer y, or pass --yes)")
    storage.delete_study(args.name, force=args.force)
    print(inert(f"deleted study '{args.name}' ({study['trials']} trials)"), file=sys.stderr)
    return 0


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, float) else str(value)
