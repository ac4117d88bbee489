"""A summary at the end of a study (rich): counts, time, the best trial and a table of the top ones."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hyperion_core.models import Event, Trial, TrialState
from hyperion_core.protocols import Reporter
from hyperion_core.state import StudyState
from hyperion_reporters._format import number, params, seconds

_MAX_PARAM_COLUMNS = 6


class SummaryReporter(Reporter):
    def __init__(self, top: int = 10, console: Console | None = None) -> None:
        self.top = top
        self.console = console or Console()
        self.llm = {"calls": 0, "failed": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0, "latency": 0.0}

    def on_event(self, event: Event, study: StudyState) -> None:
        if event.kind == "llm_call":
            d, llm = event.data, self.llm
            llm["calls"] += 1
            llm["failed"] += 1 if d.get("error") else 0
            llm["tokens_in"] += d.get("tokens_in") or 0
            llm["tokens_out"] += d.get("tokens_out") or 0
            llm["cost"] += d.get("cost") or 0.0
            llm["latency"] += d.get("latency_s") or 0.0

    def close(self, study: StudyState) -> None:
        c = study.counts
        interrupted = sum(1 for t in study.trials if t.state is TrialState.INTERRUPTED)
        line = (
            f"[bold]{study.name}[/bold]: {len(study.trials)} trials: {c['completed']} completed, "
            f"{c['failed']} failed, {c['killed']} killed"
        )
        if interrupted:
            line += f", {interrupted} interrupted"
        line += f" in {seconds(study.duration)}"
        if study.resumed:
            line += f" (resumed, {study.resumed} trials loaded)"
        self.console.print(line)
        for note in study.notes:
            self.console.print(f"  note: {note}")
        if self.llm["calls"]:
            self._llm_line(study)
        best = study.best
        if best is None:
            self.console.print("[red]no trial completed[/red]")
            errors = [t for t in study.trials if t.state is TrialState.FAILED and t.error]
            if errors:
                self.console.print(f"  first error ({errors[0].trial_id}): {errors[0].error.splitlines()[0]}")
            return
        arrow = "max" if study.mode == "max" else "min"
        self.console.print(
            f"best {study.metric} ({arrow}) = [bold cyan]{number(best.value)}[/bold cyan] at {best.trial_id}"
        )
        self.console.print(f"  params: {params(best.params, limit=400)}")
        if best.rationale:
            self.console.print(f"  rationale: {best.rationale}")
        if any(t.depth for t in study.trials):
            self._tree(study, best)
        table = Table(title=f"top {min(self.top, c['completed'])} trials", title_justify="left")
        for column in ("#", "trial", study.metric):
            table.add_column(column, justify="left" if column == "trial" else "right")
        show_depth = any(t.depth for t in study.trials)
        if show_depth:
            table.add_column("depth", justify="right")
            table.add_column("parent")
        # One column per searched parameter while they fit; one compact column beyond that.
        names = study.space.names
        wide = len(names) <= _MAX_PARAM_COLUMNS
        for name in names if wide else ["params"]:
            table.add_column(name)
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
            table.add_row(*row)
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
        self.console.print("  tree by depth: " + " | ".join(parts))
        chain, trial = [], best
        while trial is not None:
            chain.append(f"{trial.trial_id} ({number(trial.value)})")
            trial = study.trial_by_id(trial.parent_id)
        self.console.print("  lineage of the best: " + " → ".join(reversed(chain)))

    def _llm_line(self, study: StudyState) -> None:
        llm = self.llm
        fallbacks = sum(1 for t in study.trials if t.rationale and "LLM fallback" in t.rationale)
        line = f"  LLM: {llm['calls']} calls"
        if llm["failed"]:
            line += f" ({llm['failed']} failed)"
        if llm["tokens_in"] or llm["tokens_out"]:
            line += f", {llm['tokens_in']:,} tokens in / {llm['tokens_out']:,} out"
        if llm["cost"]:
            line += f", ${llm['cost']:.4f}"
        line += f", {llm['latency'] / llm['calls']:.2f}s per call; {fallbacks} proposals fell back"
        self.console.print(line)
