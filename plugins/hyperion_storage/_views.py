"""Read-only views of a study for the dashboard, the report and `hyperion.plot`, aggregated in SQL.

Every query is bounded: a view returns at most a fixed number of rows however large the study (long
studies are thinned by trial number, `number % stride = 0`), so a page costs the same memory for a
study of a thousand trials as for one of a million. Each runs under the storage's operation bound.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hyperion_core.errors import StorageError
from hyperion_core.views import ComputedViews
from hyperion_storage._bounded import BoundedMixin
from hyperion_storage._codec import goal_of

T = TypeVar("T")


class ViewsMixin(ComputedViews, BoundedMixin):
    """Every view of the StudyViews contract, overridden with bounded SQL (the computed ones would read
    the whole study)."""

    _sa: Any
    _schema: Any
    _pg: bool
    engine: Any
    url: str
    _open_by: Any
    _checkpoints: Any

    # -- helpers ---------------------------------------------------------------------------------------
    def _json(self, column: Any, key: str) -> Any:
        """The SQL expression for one top-level field of a JSON text column, as text (SQLite: native)."""
        sa = self._sa
        if self._pg:
            from sqlalchemy.dialects.postgresql import JSONB

            return sa.cast(column, JSONB)[key].astext
        return sa.func.json_extract(column, '$."' + key.replace('"', "") + '"')

    def _param(self, key: str) -> Any:
        return self._json(self._schema.trials.c.params, key)

    def _view(self, study_name: str, what: str, read: Callable[[Any, Any], T]) -> T:
        def run() -> T:
            with self.engine.connect() as conn:
                row = (
                    conn.execute(self._sa.select(self._schema.studies).where(self._schema.studies.c.name == study_name))
                    .mappings()
                    .first()
                )
                if row is None:
                    raise StorageError(f"no study named '{study_name}' in {self.url}")
                return read(conn, row)

        return self._run(f"read the {what} of study '{study_name}'", run)

    def _stride(self, conn: Any, study_id: int, cap: int, *where: Any) -> int:
        t = self._schema.trials
        n = conn.execute(self._sa.select(self._sa.func.count()).where(t.c.study_id == study_id, *where)).scalar()
        return max(1, -(-int(n or 0) // cap))

    # -- views -----------------------------------------------------------------------------------------
    def seq_view(self, study_name: str) -> int:
        """The study's change counter: it grows with every write, so a page polls this one number."""
        s = self._schema

        def read() -> int:
            with self.engine.connect() as conn:
                seq = conn.execute(self._sa.select(s.studies.c.seq).where(s.studies.c.name == study_name)).scalar()
            if seq is None:
                raise StorageError(f"no study named '{study_name}' in {self.url}")
            return int(seq)

        return self._run(f"read study '{study_name}'", read)

    def study_view(self, study_name: str) -> dict[str, Any]:
        """The study's header: goal, space, counts by state, best feasible trial, times, and `seq` (it
        changes with every write, so a page asks for new figures only when something happened)."""
        sa, s = self._sa, self._schema
        t = s.trials

        def read(conn: Any, row: Any) -> dict[str, Any]:
            study_id = row["id"]
            counts = dict(
                conn.execute(
                    sa.select(t.c.state, sa.func.count()).where(t.c.study_id == study_id).group_by(t.c.state)
                ).all()
            )
            span = conn.execute(
                sa.select(sa.func.min(t.c.started), sa.func.max(t.c.finished)).where(t.c.study_id == study_id)
            ).first()
            best, goal = None, goal_of(row)
            if not goal.several:
                order = t.c.value.desc() if goal.direction == "max" else t.c.value.asc()
                feasible = sa.or_(t.c.violation.is_(None), t.c.violation <= 0)
                hit = conn.execute(
                    sa.select(t.c.number, t.c.value)
                    .where(t.c.study_id == study_id, t.c.state == "completed", t.c.value.is_not(None), feasible)
                    .order_by(order, t.c.number)
                    .limit(1)
                ).first()
                best = None if hit is None else {"number": hit[0], "value": hit[1]}
            open_by = self._open_by(conn, study_id, row["owner"], row["heartbeat"], time.time())
            first, last = (span[0], span[1]) if span else (None, None)
            return {
                "name": row["name"],
                "metrics": list(goal.metrics),
                "modes": list(goal.directions),
                "space": json.loads(row["space"]),
                "created": row["created"],
                "updated": row["updated"],
                "seq": row["seq"],
                "open_by": open_by,
                "state": "running" if open_by else "finished" if counts else "empty",
                "counts": {
                    k: counts.get(k, 0) for k in ("completed", "failed", "killed", "running", "interrupted", "paused")
                },
                "trials": sum(counts.values()),
                "best": best,
                "duration_s": (last - first) if first is not None and last is not None else None,
            }

        return self._view(study_name, "header", read)

    def history_view(self, study_name: str, cap: int = 20_000) -> dict[str, Any]:
        """Each finished trial's value (thinned to `cap` points), and the best-so-far steps computed
        with a window function (only the trials that improved on every earlier one)."""
        sa, t = self._sa, self._schema.trials

        def read(conn: Any, row: Any) -> dict[str, Any]:
            study_id, goal = row["id"], goal_of(row)
            stride = self._stride(conn, study_id, cap)
            points = conn.execute(
                sa.select(t.c.number, t.c.state, t.c.value, t.c.violation)
                .where(t.c.study_id == study_id, t.c.number % stride == 0)
                .order_by(t.c.number)
            ).all()
            best: list[Any] = []
            if not goal.several:
                running = (sa.func.max if goal.direction == "max" else sa.func.min)(t.c.value).over(order_by=t.c.number)
                inner = (
                    sa.select(t.c.number, t.c.value, running.label("best"))
                    .where(
                        t.c.study_id == study_id,
                        t.c.state == "completed",
                        t.c.value.is_not(None),
                        sa.or_(t.c.violation.is_(None), t.c.violation <= 0),
                    )
                    .subquery()
                )
                best = conn.execute(
                    sa.select(inner.c.number, inner.c.value)
                    .where(inner.c.value == inner.c.best)
                    .order_by(inner.c.number)
                ).all()
            # A stopped trial has no value: its last reported value of the metric stands in, on the plot only.
            metric = goal.metric
            stopped = [n for n, st, v, _ in points if st == "killed" and v is None]
            reported: dict[int, Any] = {}
            if stopped:
                rep = self._schema.reports
                for number, metrics in conn.execute(
                    sa.select(rep.c.trial_number, rep.c.metrics)
                    .where(rep.c.study_id == study_id, rep.c.trial_number.in_(stopped[:5_000]))
                    .order_by(rep.c.trial_number, rep.c.step)
                ):
                    value = json.loads(metrics).get(metric)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        reported[number] = value  # the latest step wins (ordered by step)
            return {
                "stride": stride,
                "points": [
                    {
                        "number": n,
                        "state": st,
                        "value": v,
                        "feasible": viol is None or viol <= 0,
                        "reported": reported.get(n),
                    }
                    for n, st, v, viol in points
                ],
                "best": [{"number": n, "value": v} for n, v in best],
            }

        return self._view(study_name, "history", read)

    def sample_view(self, study_name: str, cap: int = 2_000) -> dict[str, Any]:
        """Completed trials (every `stride`-th when there are more than `cap`) with their parameters."""
        sa, t = self._sa, self._schema.trials

        def read(conn: Any, row: Any) -> dict[str, Any]:
            study_id = row["id"]
            done = t.c.state == "completed"
            stride = self._stride(conn, study_id, cap, done)
            # thinned by position among the completed trials, so a stride never lands on no rows
            ranked = (
                sa.select(
                    t.c.number,
                    t.c.value,
                    t.c.objective_values,
                    t.c.violation,
                    t.c.params,
                    sa.func.row_number().over(order_by=t.c.number).label("i"),
                )
                .where(t.c.study_id == study_id, done)
                .subquery()
            )
            rows = conn.execute(
                sa.select(ranked).where((ranked.c.i - 1) % stride == 0).order_by(ranked.c.number)
            ).mappings()
            return {
                "stride": stride,
                "trials": [
                    {
                        "number": r["number"],
                        "value": r["value"],
                        "values": json.loads(r["objective_values"]) if r["objective_values"] else None,
                        "feasible": r["violation"] is None or r["violation"] <= 0,
                        "params": json.loads(r["params"]),
                    }
                    for r in rows
                ],
            }

        return self._view(study_name, "trials", read)

    def curves_view(
        self, study_name: str, metric: str, max_trials: int = 100, max_points: int = 50_000
    ) -> dict[str, Any]:
        """Reported values of `metric` per step for up to `max_trials` trials: the best completed half and
        the latest killed half (with the step they were killed at)."""
        sa, s = self._sa, self._schema
        t, r = s.trials, s.reports

        def read(conn: Any, row: Any) -> dict[str, Any]:
            study_id, goal = row["id"], goal_of(row)
            has_reports = sa.exists().where(r.c.study_id == study_id, r.c.trial_number == t.c.number)
            base = sa.select(t.c.number, t.c.state, t.c.kill_reason, t.c.last_step, t.c.value).where(
                t.c.study_id == study_id, has_reports
            )
            order = t.c.value.desc() if goal.direction == "max" else t.c.value.asc()
            half = max_trials // 2
            chosen = conn.execute(base.where(t.c.state == "completed").order_by(order).limit(half)).all()
            chosen += conn.execute(base.where(t.c.state != "completed").order_by(t.c.number.desc()).limit(half)).all()
            numbers = [c[0] for c in chosen]
            curves: dict[int, dict[str, Any]] = {
                n: {"number": n, "state": st, "kill_reason": kr, "last_step": ls, "steps": [], "values": []}
                for n, st, kr, ls, _ in chosen
            }
            if numbers:
                rows = conn.execute(
                    sa.select(r.c.trial_number, r.c.step, r.c.metrics)
                    .where(r.c.study_id == study_id, r.c.trial_number.in_(numbers))
                    .order_by(r.c.trial_number, r.c.step)
                    .limit(max_points)
                )
                for number, step, metrics in rows:
                    value = json.loads(metrics).get(metric)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        curves[number]["steps"].append(step)
                        curves[number]["values"].append(value)
            total = conn.execute(
                sa.select(sa.func.count(sa.distinct(r.c.trial_number))).where(r.c.study_id == study_id)
            )
            return {"metric": metric, "trials_with_reports": total.scalar() or 0, "curves": list(curves.values())}

        return self._view(study_name, "reports", read)

    def timeline_view(self, study_name: str, cap: int = 5_000) -> list[dict[str, Any]]:
        """When each trial ran and on which worker (the joined run that ran it; None: the one run), the
        latest `cap` trials."""
        sa, t = self._sa, self._schema.trials

        def read(conn: Any, row: Any) -> list[dict[str, Any]]:
            rows = conn.execute(
                sa.select(t.c.number, t.c.state, t.c.started, t.c.finished, t.c.owner)
                .where(t.c.study_id == row["id"])
                .order_by(t.c.number.desc())
                .limit(cap)
            ).all()
            return [
                {"number": n, "state": st, "started": start, "finished": end, "worker": owner}
                for n, st, start, end, owner in reversed(rows)
            ]

        return self._view(study_name, "timeline", read)

    def lineage_view(self, study_name: str, cap: int = 5_000) -> list[dict[str, Any]]:
        """The trials of a tree search (parent, depth, value, rationale), at most `cap`."""
        sa, t = self._sa, self._schema.trials

        def read(conn: Any, row: Any) -> list[dict[str, Any]]:
            if not conn.execute(
                sa.select(t.c.number).where(t.c.study_id == row["id"], t.c.parent_id.is_not(None)).limit(1)
            ).first():
                return []
            rows = conn.execute(
                sa.select(t.c.number, t.c.trial_id, t.c.parent_id, t.c.depth, t.c.state, t.c.value, t.c.rationale)
                .where(t.c.study_id == row["id"])
                .order_by(t.c.number)
                .limit(cap)
            ).mappings()
            return [dict(r) for r in rows]

        return self._view(study_name, "lineage", read)
