"""The trial table's views in SQL: a page of trials sorted and filtered (state, parameter ranges and
values), the numbers a filter keeps (every figure follows the table's filter), and one trial in full."""

from __future__ import annotations

import json
from typing import Any

from hyperion_core.errors import StorageError
from hyperion_core.views import MAX_PAGE, MAX_TRIAL_EVENTS, SORTS, check_ranges, checkpoint_row, source_of
from hyperion_storage._codec import number_column
from hyperion_storage._views import ViewsMixin


class TableMixin(ViewsMixin):
    def _filter(
        self,
        row: Any,
        state: str | None,
        ranges: dict[str, tuple[float | None, float | None]] | None,
        equals: dict[str, str] | None,
    ) -> list[Any]:
        """The WHERE terms of a trial filter: a state, parameter ranges (numbers only), parameter values."""
        sa, t = self._sa, self._schema.trials
        where = [t.c.study_id == row["id"]]
        if state:
            where.append(t.c.state == state)
        check_ranges(json.loads(row["space"]), ranges)
        for key, (lo, hi) in (ranges or {}).items():
            value = sa.cast(self._param(key), sa.Float)
            where.append(self._param(key).is_not(None))
            if lo is not None:
                where.append(value >= lo)
            if hi is not None:
                where.append(value <= hi)
        for key, text in (equals or {}).items():
            where.append(sa.cast(self._param(key), sa.String) == text)
        return where

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
        sa, t = self._sa, self._schema.trials

        def read(conn: Any, row: Any) -> list[int]:
            where = self._filter(row, state, ranges, equals)
            rows = conn.execute(sa.select(t.c.number).where(*where).order_by(t.c.number).limit(cap))
            return [int(n) for (n,) in rows]

        return self._view(study_name, "filtered trials", read)

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
        sa, t = self._sa, self._schema.trials
        if sort not in SORTS:
            raise StorageError(f"cannot sort trials by {sort!r}; use one of {', '.join(SORTS)}")
        limit = min(max(1, limit), MAX_PAGE)

        def read(conn: Any, row: Any) -> dict[str, Any]:
            where = self._filter(row, state, ranges, equals)
            column = {"duration": t.c.finished - t.c.started}.get(sort, getattr(t.c, sort, t.c.number))
            order = [(column.desc() if descending else column.asc()).nulls_last(), t.c.number]
            total = conn.execute(sa.select(sa.func.count()).where(*where)).scalar() or 0
            rows = conn.execute(
                sa.select(
                    t.c.number,
                    t.c.trial_id,
                    t.c.state,
                    t.c.value,
                    t.c.objective_values,
                    t.c.params,
                    t.c.last_step,
                    t.c.kill_reason,
                    t.c.error,
                    t.c.started,
                    t.c.finished,
                )
                .where(*where)
                .order_by(*order)
                .offset(max(0, offset))
                .limit(limit)
            ).mappings()
            return {"total": total, "offset": offset, "rows": [_light(r) for r in rows]}

        return self._view(study_name, "trial table", read)

    def trial_view(self, study_name: str, number: int, max_reports: int = 10_000) -> dict[str, Any] | None:
        """One trial in full: its row, its reports, its events, and the LLM call that proposed it."""
        sa, s = self._sa, self._schema
        t, r, e = s.trials, s.reports, s.events

        def read(conn: Any, row: Any) -> dict[str, Any] | None:
            study_id = row["id"]
            trial = conn.execute(sa.select(t).where(t.c.study_id == study_id, t.c.number == number)).mappings().first()
            if trial is None:
                return None
            reports = conn.execute(
                sa.select(r.c.step, r.c.metrics, r.c.time)
                .where(r.c.study_id == study_id, r.c.trial_number == number)
                .order_by(r.c.step)
                .limit(max_reports)
            ).all()
            events = [
                {"kind": k, "time": tm, **json.loads(d)}
                for k, d, tm in conn.execute(
                    sa.select(e.c.kind, e.c.data, e.c.time)
                    .where(e.c.study_id == study_id, e.c.trial_number == number)
                    .order_by(e.c.id)
                    .limit(MAX_TRIAL_EVENTS)
                )
            ]
            sources = []  # the study event that proposed it: "<kind> <id>"
            if (found := source_of(next((ev.get("source") for ev in events if ev.get("source")), None))) is not None:
                kind, ident = found
                sources = [
                    {"kind": kind, "time": tm, **json.loads(d)}
                    for d, tm in conn.execute(
                        sa.select(e.c.data, e.c.time)
                        .where(e.c.study_id == study_id, e.c.kind == kind, e.c.trial_number.is_(None))
                        .where(sa.cast(self._json(e.c.data, "id"), sa.String) == ident)
                        .limit(1)
                    )
                ]
            out = _light(trial)
            out.update(
                metrics=json.loads(trial["metrics"]),
                artifacts=json.loads(trial["artifacts"]),
                parent_id=trial["parent_id"],
                depth=trial["depth"],
                rationale=trial["rationale"],
                worker=trial["owner"],
                violation=trial["violation"],
                reports=[{"step": st, "time": tm, "metrics": json.loads(m)} for st, m, tm in reports],
                events=events,
                source_events=sources,
                checkpoints=[checkpoint_row(c) for c in self._checkpoints(conn, study_id, number)],
            )
            return out

        return self._view(study_name, "trial", read)


def _light(r: Any) -> dict[str, Any]:
    """A trial row's summary for the pages (its numeric columns checked as the codec checks them)."""
    finished, started = number_column(r, "finished"), number_column(r, "started") or 0.0
    return {
        "number": r["number"],
        "trial_id": r["trial_id"],
        "state": r["state"],
        "value": number_column(r, "value"),
        "values": json.loads(r["objective_values"]) if r["objective_values"] else None,
        "params": json.loads(r["params"]),
        "last_step": r["last_step"],
        "kill_reason": r["kill_reason"],
        "error": r["error"],
        "started": started,
        "finished": finished,
        "duration_s": None if finished is None else finished - started,
    }
