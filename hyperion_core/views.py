"""The study views that viewers read (the dashboard, `hyperion report`, `hyperion.plot`, `hyperion
ask`/`tell`), computed from a storage's core contract: `describe_study`, `load_trials`, `load_reports`,
`load_events` (design.md, section 4). Any storage that inherits `ComputedViews` has every view of the
`StudyViews` contract; the SQL storage overrides them with bounded SQL for speed.

Each view is bounded in what it returns (thinned by trial number past `cap`), as the SQL ones are; the
computation here reads the whole study, which suits storages of modest studies.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

from hyperion_core.errors import StorageError
from hyperion_core.goal import Goal
from hyperion_core.models import Checkpoint, Report, Trial, TrialState

#: The columns the trial table sorts by.
SORTS = ("number", "value", "duration", "state", "last_step")
#: The most rows of one page of the trial table.
MAX_PAGE = 200
#: The most events one trial view lists.
MAX_TRIAL_EVENTS = 100


def best_so_far(goal: Goal, done: Iterable[tuple[int, float | None]]) -> list[dict[str, Any]]:
    """The steps of the best-so-far line: each completed feasible trial (number, value), in number order,
    that is at least as good as every one before it (none with several objectives)."""
    best: list[dict[str, Any]] = []
    if goal.several:
        return best
    for number, value in done:
        if value is not None and (not best or not goal.better(best[-1]["value"], value)):
            best.append({"number": number, "value": value})
    return best


def _seq(trials: list[Trial]) -> int:
    key = repr([(t.number, t.state.value, t.last_step, t.finished) for t in trials])
    return zlib.crc32(key.encode()) + len(trials)


def feasible(trial: Trial) -> bool:
    return trial.violation is None or trial.violation <= 0


def light(trial: Trial) -> dict[str, Any]:
    """A trial's summary for the pages and the trial table."""
    return {
        "number": trial.number,
        "trial_id": trial.trial_id,
        "state": trial.state.value,
        "value": trial.value,
        "values": trial.values,
        "params": trial.params,
        "last_step": trial.last_step,
        "kill_reason": trial.kill_reason,
        "error": trial.error,
        "started": trial.started,
        "finished": trial.finished,
        "duration_s": trial.duration,
    }


def source_of(label: Any) -> tuple[str, str] | None:
    """A proposal's `source` ("llm_call 3"): the kind of the study event that produced it and its id."""
    if not isinstance(label, str) or " " not in label:
        return None
    kind, ident = label.split(" ", 1)
    return kind, ident


def equals_text(value: Any) -> str:
    """How a parameter value compares with a filter's text: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


class ComputedViews:
    """Every view of `hyperion_core.protocols.StudyViews`, from the core storage contract."""

    url: str

    # what the storage itself has (the core contract)
    def describe_study(self, study_name: str) -> dict[str, Any]:
        raise NotImplementedError

    def load_trials(self, study_name: str) -> list[Trial]:
        raise NotImplementedError

    def load_reports(self, study_name: str) -> list[Report]:
        raise NotImplementedError

    def load_events(self, study_name: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def load_checkpoints(self, study_name: str, trial_number: int | None = None) -> list[Checkpoint]:
        raise NotImplementedError

    # -- views -------------------------------------------------------------------------------------------
    def seq_view(self, study_name: str) -> int:
        """A number that changes whenever the study does (pages poll it)."""
        return _seq(self.load_trials(study_name))

    def study_view(self, study_name: str) -> dict[str, Any]:
        info = self.describe_study(study_name)
        goal = Goal.from_json(info)
        trials = self.load_trials(study_name)
        counts = {state.value: 0 for state in TrialState}
        for t in trials:
            counts[t.state.value] += 1
        ranked = [t for t in trials if t.state is TrialState.COMPLETED and t.value is not None and feasible(t)]
        best = None
        if ranked and not goal.several:
            top = min(ranked, key=lambda t: (goal.loss(t.value), t.number))
            best = {"number": top.number, "value": top.value}
        started = [t.started for t in trials if t.started]
        finished = [t.finished for t in trials if t.finished is not None]
        created = info.get("created") or min(started, default=0.0)
        running = counts["running"] > 0
        return {
            "name": study_name,
            "metrics": list(goal.metrics),
            "modes": list(goal.directions),
            "space": info["space"],
            "created": created,
            "updated": max([*started, *finished], default=created),
            "seq": _seq(trials),
            "open_by": "a run" if running else None,
            "state": "running" if running else "finished" if trials else "empty",
            "counts": {k: counts[k] for k in ("completed", "failed", "killed", "running", "interrupted", "paused")},
            "trials": len(trials),
            "best": best,
            "duration_s": (max(finished) - min(started)) if started and finished else None,
        }

    def history_view(self, study_name: str, cap: int = 20_000) -> dict[str, Any]:
        info = self.describe_study(study_name)
        goal = Goal.from_json(info)
        trials = self.load_trials(study_name)
        stride = max(1, -(-len(trials) // cap))
        best = best_so_far(
            goal, ((t.number, t.value) for t in trials if t.state is TrialState.COMPLETED and feasible(t))
        )
        shown = [t for t in trials if t.number % stride == 0]
        # a stopped trial has no value: its last reported value of the metric stands in, on the plot only
        stopped = {t.number for t in shown if t.state is TrialState.KILLED and t.value is None}
        reported: dict[int, Any] = {}
        if stopped:
            for report in sorted(self.load_reports(study_name), key=lambda r: (r.trial_number, r.step)):
                value = report.metrics.get(goal.metric)
                if report.trial_number in stopped and _is_number(value):
                    reported[report.trial_number] = value
        points = [
            {
                "number": t.number,
                "state": t.state.value,
                "value": t.value,
                "feasible": feasible(t),
                "reported": reported.get(t.number),
            }
            for t in shown
        ]
        return {"stride": stride, "points": points, "best": best}

    def sample_view(self, study_name: str, cap: int = 2_000) -> dict[str, Any]:
        done = [t for t in self.load_trials(study_name) if t.state is TrialState.COMPLETED]
        stride = max(1, -(-len(done) // cap))
        rows = [
            {"number": t.number, "value": t.value, "values": t.values, "feasible": feasible(t), "params": t.params}
            for t in done[::stride]
        ]
        return {"stride": stride, "trials": rows}

    def curves_view(
        self, study_name: str, metric: str, max_trials: int = 100, max_points: int = 50_000
    ) -> dict[str, Any]:
        info = self.describe_study(study_name)
        goal = Goal.from_json(info)
        trials = {t.number: t for t in self.load_trials(study_name)}
        reports: dict[int, list[Report]] = {}
        for report in self.load_reports(study_name):
            reports.setdefault(report.trial_number, []).append(report)
        with_reports = [trials[n] for n in reports if n in trials]
        half = max_trials // 2
        completed = sorted(
            (t for t in with_reports if t.state is TrialState.COMPLETED), key=lambda t: (goal.loss(t.value), t.number)
        )
        others = sorted((t for t in with_reports if t.state is not TrialState.COMPLETED), key=lambda t: -t.number)
        curves, points = [], 0
        for t in [*completed[:half], *others[:half]]:
            steps, values = [], []
            for report in sorted(reports[t.number], key=lambda r: r.step):
                value = report.metrics.get(metric)
                if points < max_points and _is_number(value):
                    steps.append(report.step)
                    values.append(value)
                    points += 1
            curves.append(
                {
                    "number": t.number,
                    "state": t.state.value,
                    "kill_reason": t.kill_reason,
                    "last_step": t.last_step,
                    "steps": steps,
                    "values": values,
                }
            )
        return {"metric": metric, "trials_with_reports": len(with_reports), "curves": curves}

    def timeline_view(self, study_name: str, cap: int = 5_000) -> list[dict[str, Any]]:
        trials = self.load_trials(study_name)[-cap:] if cap > 0 else []
        return [
            {"number": t.number, "state": t.state.value, "started": t.started, "finished": t.finished, "worker": None}
            for t in trials
        ]

    def lineage_view(self, study_name: str, cap: int = 5_000) -> list[dict[str, Any]]:
        trials = self.load_trials(study_name)
        if not any(t.parent_id for t in trials):
            return []
        keys = ("number", "trial_id", "parent_id", "depth", "value", "rationale")
        return [{**{k: getattr(t, k) for k in keys}, "state": t.state.value} for t in trials[:cap]]

    def trials_view(
        self,
        study_name: str,
        *,
        sort: str = "number",
        descending: bool = False,
        state: str | None = None,
        ranges: dict[str, tuple[float | None, float | None]] | None = None,
        equals: dict[str, str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        """One page of the trial table: sorted, filtered by state and by parameter ranges or values."""
        if sort not in SORTS:
            raise StorageError(f"cannot sort trials by {sort!r}; use one of {', '.join(SORTS)}")
        limit = min(max(1, limit), MAX_PAGE)
        rows = self._kept(study_name, state, ranges, equals)

        def column(t: Trial) -> Any:
            if sort == "duration":
                return t.duration
            value = getattr(t, sort)
            return value.value if isinstance(value, TrialState) else value

        known = sorted((t for t in rows if column(t) is not None), key=lambda t: (column(t), t.number))
        if descending:
            known.sort(key=lambda t: (column(t), -t.number), reverse=True)
        ordered = known + sorted((t for t in rows if column(t) is None), key=lambda t: t.number)
        page = ordered[max(0, offset) : max(0, offset) + limit]
        return {"total": len(rows), "offset": offset, "rows": [light(t) for t in page]}

    def numbers_view(
        self,
        study_name: str,
        *,
        state: str | None = None,
        ranges: dict[str, tuple[float | None, float | None]] | None = None,
        equals: dict[str, str] | None = None,
        cap: int = 100_000,
    ) -> list[int]:
        """The numbers of the trials a filter keeps (at most `cap`): every figure then shows only those."""
        return [t.number for t in self._kept(study_name, state, ranges, equals)][:cap]

    def _kept(
        self,
        study_name: str,
        state: str | None,
        ranges: dict[str, tuple[float | None, float | None]] | None,
        equals: dict[str, str] | None,
    ) -> list[Trial]:
        """The trials a filter keeps: a state, parameter ranges (numbers only), parameter values."""
        check_ranges(self.describe_study(study_name)["space"], ranges)
        rows = [t for t in self.load_trials(study_name) if not state or t.state.value == state]
        for key, (lo, hi) in (ranges or {}).items():
            rows = [t for t in rows if _within(t.params.get(key), lo, hi)]
        for key, text in (equals or {}).items():
            rows = [t for t in rows if key in t.params and equals_text(t.params[key]) == text]
        return rows

    def trial_view(self, study_name: str, number: int, max_reports: int = 10_000) -> dict[str, Any] | None:
        """One trial in full: its row, its reports, its events, and the study event that proposed it
        (its `source`, e.g. the LLM call)."""
        trial = next((t for t in self.load_trials(study_name) if t.number == number), None)
        if trial is None:
            return None
        reports = sorted((r for r in self.load_reports(study_name) if r.trial_number == number), key=lambda r: r.step)
        events = self.load_events(study_name)
        own = [_event(e) for e in events if e.get("trial_number") == number][:MAX_TRIAL_EVENTS]
        found = source_of(next((e.get("source") for e in own if e.get("source")), None))
        sources = []
        if found is not None:
            kind, ident = found
            sources = [
                _event(e)
                for e in events
                if e.get("trial_number") is None and e.get("kind") == kind and str(e.get("id")) == ident
            ][:1]
        return {
            **light(trial),
            "metrics": trial.metrics,
            "artifacts": trial.artifacts,
            "parent_id": trial.parent_id,
            "depth": trial.depth,
            "rationale": trial.rationale,
            "worker": None,
            "violation": trial.violation,
            "reports": [{"step": r.step, "time": r.time, "metrics": r.metrics} for r in reports[:max_reports]],
            "events": own,
            "source_events": sources,
            "checkpoints": [checkpoint_row(c) for c in self.load_checkpoints(study_name, number)],
        }


def checkpoint_row(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"step": checkpoint.step, "location": checkpoint.location, "size": checkpoint.size, "time": checkpoint.time}


def check_ranges(space: Any, ranges: dict[str, tuple[float | None, float | None]] | None) -> None:
    """A range compares numbers: only a Float or Int parameter has them."""
    for key in ranges or {}:
        entry = space.get(key) if isinstance(space, dict) else None
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind not in ("Float", "Int"):
            what = f"a {kind}" if kind else "not a parameter of this study"
            raise StorageError(
                f"filter {key}: a range lo:hi applies to Float and Int parameters; {key} is {what}"
                + ("; filter by one of its values instead" if kind in ("Choice", "Bool") else "")
            )


def _within(value: Any, lo: float | None, hi: float | None) -> bool:
    if not _is_number(value):
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _event(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "trial_number"}
