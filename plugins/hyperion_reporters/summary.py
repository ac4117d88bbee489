"""A summary at the end of a study (rich): counts, time, the best trial and a table of the top ones."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Reporter
from hyperion_core.state import StudyState
from hyperion_core.terminal import Text
from hyperion_core.terminal import console as terminal_console
from hyperion_core.text import first_line
from hyperion_reporters._format import number, params, seconds

_MAX_PARAM_COLUMNS = 6


class SummaryReporter(Reporter):
    def __init__(self, top: int = 10, console: Console | None = None) -> None:
        self.top = top
        self.console = console or terminal_console()

    def close(self, study: StudyState) -> None:
        c = study.counts
        interrupted = sum(1 for t in study.trials if t.state is TrialState.INTERRUPTED)
        # User text (names, params, errors, model rationales) goes in as Text, never parsed as markup.
        line = Text.assemble(
            (study.name, "bold"),
            f": {len(study.trials)} trials: {c['completed']} completed, {c['failed']} failed, {c['killed']} killed",
        )
        if interrupted:
            line.append(f", {interrupted} interrupted")
        line.append(f" in {seconds(study.duration)}")
        if study.joined:
            line.append(f" (joined; {study.resumed} trials were there)")
        elif study.resumed:
            line.append(f" (resumed, {study.resumed} trials loaded)")
        self.console.print(line)
        for note in study.notes:
            self.console.print(Text(f"  note: {note}"))
        if study.multi_objective and study.front:
            self._front(study)
            return
        best = study.best
        if best is None:
            infeasible = c["completed"] and any((t.violation or 0) > 0 for t in study.trials)
            self.console.print(
                Text("no trial met the constraints" if infeasible else "no trial completed", style="red")
            )
            errors = [t for t in study.trials if t.state is TrialState.FAILED and t.error]
            if errors:
                self.console.print(Text(f"  first error ({errors[0].trial_id}): {first_line(errors[0].error, 500)}"))
            return
        arrow = "max" if study.mode == "max" else "min"
        self.console.print(
            Text.assemble(
                f"best {study.metric} ({arrow}) = ", (number(best.value), "bold cyan"), f" at {best.trial_id}"
            )
        )
        self.console.print(Text(f"  params: {params(best.params, limit=400)}"))
        if best.rationale:
            self.console.print(Text(f"  rationale: {first_line(best.rationale, 400)}"))
        if any(t.depth for t in study.trials):
            self._tree(study, best)
        table = Table(title=Text(f"top {min(self.top, c['completed'])} trials"), title_justify="left")
        for column in ("#", "trial", study.metric):  # never cut: identifiers and the value
            table.add_column(
                Text(column), justify="left" if column == "trial" else "right", no_wrap=True, min_width=len(column)
            )
        show_depth = any(t.depth for t in study.trials)
        if show_depth:
            table.add_column("depth", justify="right")
            table.add_column("parent")
        # One column per searched parameter while they fit; one compact column beyond that.
        names = study.space.names
        wide = len(names) <= _MAX_PARAM_COLUMNS
        for name in names if wide else ["params"]:
            table.add_column(Text(name))
        table.add_column("time", justify="right")
        for rank, trial in enumerate(study.top(self.top), 1):
            row = [str(rank), trial.trial_id, number(trial.value)]
            if show_depth:
                row += [str(trial.depth), trial.parent_id or "-"]
            if wide:
                row += [number(trial.params.get(name)) for name in names]
            else:
                row.append(params({k: trial.params[k] for k in names}))
            row.append(seconds(trial.duration))
            table.add_row(*(Text(cell) for cell in row))
        self.console.print(table)

    def _tree(self, study: StudyState, best: Trial) -> None:
        """The search tree in two lines: per depth, how many trials and the best; the best's lineage."""
        depths: dict[int, list[Trial]] = {}
        for trial in study.trials:
            depths.setdefault(trial.depth, []).append(trial)
        parts = []
        for depth in sorted(depths):
            done = [t for t in depths[depth] if t.state is TrialState.COMPLETED and t.value is not None]
            top = min(done, key=study.sort_key).value if done else None
            parts.append(f"{depth}: {len(depths[depth])} trials, best {number(top)}")
        self.console.print(Text("  tree by depth: " + " | ".join(parts)))
        chain: list[str] = []
        link: Trial | None = best
        while link is not None:
            chain.append(f"{link.trial_id} ({number(link.value)})")
            link = study.trial_by_id(link.parent_id)
        self.console.print(Text("  lineage of the best: " + " → ".join(reversed(chain))))

    def _front(self, study: StudyState) -> None:
        """Several objectives: the Pareto front, by the first objective."""
        front = study.top()
        self.console.print(Text(f"Pareto front ({study.goal}): {len(front)} trials"))
        table = Table(title=Text(f"front (first {min(self.top, len(front))})"), title_justify="left")
        table.add_column(Text("trial"), no_wrap=True, min_width=10)
        for metric in study.goal.metrics:
            table.add_column(Text(metric), justify="right", no_wrap=True, min_width=len(metric))
        table.add_column(Text("params"))
        for trial in front[: self.top]:
            cells = [trial.trial_id, *(number(v) for v in trial.values or []), params(trial.params)]
            table.add_row(*(Text(c) for c in cells))
        self.console.print(table)
