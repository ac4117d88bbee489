"""join=True: many tune() processes working one study through the database (design.md, section 8).

Ownership moves from the study to the trial. The database hands out trial numbers (one counter on
the study row, so they stay unique and contiguous) and enforces `max_trials` study-wide. Each
process holds a run row (its lease, kept fresh by the heartbeat thread); every write is fenced on
it. Every write bumps the study's `seq`, and rows carry the `seq` of their last write, so each
process reads what the others changed since its last look with one indexed query. A run whose
heartbeat went stale is reaped by whoever notices first: its running trials become interrupted and
unowned, and the next claim hands them out again with their numbers and parameters.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hyperion_core.models import Report, Trial
from hyperion_core.protocols import Claim
from hyperion_storage._bounded import BoundedMixin, _Lost
from hyperion_storage._codec import ASKED, trial_of, trial_row
from hyperion_storage._lease import owner_alive

JOINED = "*joined*"  # a study's owner while joined processes work it
REAP_EVERY_S = 1.0  # how often a process looks for dead runs (an indexed query on a small table)


class JoinMixin(BoundedMixin):
    """The join=True half of SQLStorage (it provides engine, _sa, _schema, _ids, _run, _lease, _trials)."""

    _sa: Any
    _schema: Any
    engine: Any
    _ids: dict[str, int]
    _lease: Any
    _owner: str
    stale_after_s: float = 60.0
    _last_seq: dict[str, int]
    _reaped_at: float = 0.0

    def _bump_seq(self, conn: Any, study_id: int, *where: Any, **values: Any) -> int | None:
        """Take the study's next change number, with `values` set in the same statement (this also
        serialises the writers of one study). The one place the counter grows; None when `where` (a
        fence: the study is still this run's) no longer holds."""
        studies = self._schema.studies
        statement = (
            studies.update()
            .where(studies.c.id == study_id, *where)
            .values(seq=studies.c.seq + 1, **values)
            .returning(studies.c.seq)
        )
        seq = conn.execute(statement).scalar()
        return None if seq is None else int(seq)

    def _live_runs(self, conn: Any, study_id: int, now: float) -> list[str]:
        s = self._schema
        rows = conn.execute(self._sa.select(s.runs.c.owner, s.runs.c.heartbeat).where(s.runs.c.study_id == study_id))
        return [owner for owner, beat in rows if owner_alive(owner, beat, now, self.stale_after_s)]

    def _reap(self, conn: Any, study_id: int, now: float, seq: int) -> int:
        """Dead runs lose their lease; their running trials become interrupted and unowned."""
        sa, s = self._sa, self._schema
        reaped = 0
        rows = conn.execute(
            sa.select(s.runs.c.token, s.runs.c.owner, s.runs.c.heartbeat).where(s.runs.c.study_id == study_id)
        )
        for token, owner, beat in list(rows):
            if token == self._lease.token or owner_alive(owner, beat, now, self.stale_after_s):
                continue
            conn.execute(s.runs.delete().where(s.runs.c.token == token))
            interrupt_trials(conn, s, study_id, s.trials.c.owner == token, owner=None, seq=seq)
            reaped += 1
        return reaped

    def _join_open(self, conn: Any, study_id: int, owner: str | None, now: float) -> None:
        """Register this run on a study (in open_study's transaction)."""
        s = self._schema
        seq = self._bump_seq(conn, study_id)
        if seq is None:  # deleted between the look and now
            raise _Lost()
        self._reap(conn, study_id, now, seq)
        if owner != JOINED:  # trials a single dead owner left running: interrupted, for anyone to claim
            interrupt_trials(conn, s, study_id, not_asked(s), owner=None, seq=seq)
        conn.execute(s.studies.update().where(s.studies.c.id == study_id).values(owner=JOINED, heartbeat=now))
        conn.execute(
            s.runs.insert().values(
                token=self._lease.token, study_id=study_id, owner=self._owner, heartbeat=now, started=now
            )
        )

    def claim(self, study_name: str, new: list[Trial], slots: int, max_trials: int | None) -> Claim:
        """One transaction: take up to `slots` interrupted trials, then numbers for as many of `new` as
        the remaining slots and the study-wide `max_trials` allow (their rows are written now, as this
        run's; the others in `new` are dropped), and read what the other processes changed."""
        return self._run(
            f"claim trials of study '{study_name}'", lambda: self._claim(study_name, new, slots, max_trials)
        )

    def _claim(self, study_name: str, new: list[Trial], slots: int, max_trials: int | None) -> Claim:
        sa, s = self._sa, self._schema
        study_id = self._ids[study_name]
        now = time.time()
        out = Claim()
        with self.engine.begin() as conn:
            self._fence_run(conn, now)
            seq = self._bump_seq(conn, study_id)
            if seq is None:  # the study was deleted
                raise _Lost()
            if now - self._reaped_at >= REAP_EVERY_S:
                self._reaped_at = now
                self._reap(conn, study_id, now, seq)
            self._read_changes(conn, study_name, study_id, out, mine_too=False)
            if slots > 0:
                query = (
                    sa.select(s.trials)
                    .where(
                        s.trials.c.study_id == study_id, s.trials.c.state == "interrupted", s.trials.c.owner.is_(None)
                    )
                    .order_by(s.trials.c.number)
                    .limit(slots)
                )
                if self.engine.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                for row in conn.execute(query).mappings().all():
                    out.reruns.append(trial_of(row))
                if out.reruns:
                    conn.execute(
                        s.trials.update()
                        .where(s.trials.c.study_id == study_id, s.trials.c.number.in_([t.number for t in out.reruns]))
                        .values(state="running", owner=self._lease.token, seq=seq, started=now)
                    )
            # An initial point another process has already run (or runs now) is not run twice.
            for trial in [t for t in new if (t.rationale or "").startswith("initial point")]:
                label = (trial.rationale or "").split(";")[0]
                taken = conn.execute(
                    sa.select(s.trials.c.number).where(
                        s.trials.c.study_id == study_id,
                        sa.or_(s.trials.c.rationale == label, s.trials.c.rationale.like(f"{label};%")),
                    )
                ).first()
                if taken is not None:
                    out.skipped.append(trial)
            new = [t for t in new if t not in out.skipped]
            wanted = min(len(new), slots - len(out.reruns))
            if wanted > 0:
                start = int(
                    conn.execute(sa.select(s.studies.c.next_number).where(s.studies.c.id == study_id)).scalar_one()
                )
                count = wanted if max_trials is None else max(0, min(wanted, max_trials - start))
                out.numbers = list(range(start, start + count))
                if count:
                    rows = []
                    for number, trial in zip(out.numbers, new):
                        trial.number = number
                        rows.append({**trial_row(study_id, trial), "owner": self._lease.token, "seq": seq})
                    conn.execute(s.trials.insert(), rows)
                    conn.execute(s.studies.update().where(s.studies.c.id == study_id).values(next_number=start + count))
            self._last_seq[study_name] = seq
        return out

    def sync(self, study_name: str) -> Claim:
        """What the other processes changed since the last look (trials and reports)."""

        def read() -> Claim:
            out = Claim()
            s = self._schema
            study_id = self._ids[study_name]
            with self.engine.begin() as conn:
                query = self._sa.select(s.studies.c.seq).where(s.studies.c.id == study_id)
                if self.engine.dialect.name == "postgresql":
                    query = query.with_for_update(read=True)  # no writer moves seq while we read
                seq = int(conn.execute(query).scalar_one())
                if seq != self._last_seq.get(study_name):
                    self._read_changes(conn, study_name, study_id, out, mine_too=False)
                    self._last_seq[study_name] = seq
            return out

        return self._run(f"read study '{study_name}'", read)

    def _read_changes(self, conn: Any, study_name: str, study_id: int, out: Claim, mine_too: bool) -> None:
        sa, s = self._sa, self._schema
        last = self._last_seq.get(study_name, 0)
        mine = self._lease.token
        others = sa.or_(s.trials.c.owner.is_(None), s.trials.c.owner != mine)
        rows = conn.execute(
            sa.select(s.trials)
            .where(s.trials.c.study_id == study_id, s.trials.c.seq > last, others)
            .order_by(s.trials.c.number)
        ).mappings()
        out.foreign = [trial_of(row) for row in rows]
        report_rows = conn.execute(
            sa.select(s.reports.c.trial_number, s.reports.c.step, s.reports.c.metrics, s.reports.c.time)
            .select_from(
                s.reports.join(
                    s.trials,
                    sa.and_(s.trials.c.study_id == s.reports.c.study_id, s.trials.c.number == s.reports.c.trial_number),
                )
            )
            .where(s.reports.c.study_id == study_id, s.reports.c.seq > last, others)
            .order_by(s.reports.c.id)
        )
        out.reports = [Report(number, step, json.loads(metrics), t) for number, step, metrics, t in report_rows]

    def _fence_run(self, conn: Any, now: float) -> None:
        s = self._schema
        result = conn.execute(s.runs.update().where(s.runs.c.token == self._lease.token).values(heartbeat=now))
        if result.rowcount == 0:
            raise _Lost()

    def hand_out(self, study_name: str) -> None:
        """This run's running trials wait for a `hyperion tell` from another process: they stay running,
        owned by no run (ASKED), so no one reaps or re-runs them."""
        s = self._schema

        def mark() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    s.trials.update()
                    .where(s.trials.c.owner == self._lease.token, s.trials.c.state == "running")
                    .values(owner=ASKED)
                )

        self._run(f"hand out the running trials of study '{study_name}'", mark)

    def _leave(self, conn: Any) -> None:
        """At close: this run's lease ends; trials it leaves interrupted are anyone's to claim (trials it
        handed out, hand_out(), are no longer its own)."""
        s = self._schema
        mine = s.trials.c.owner == self._lease.token
        conn.execute(
            s.trials.update()
            .where(mine, s.trials.c.state.in_(("running", "interrupted")))
            .values(state="interrupted", owner=None)
        )
        conn.execute(s.runs.delete().where(s.runs.c.token == self._lease.token))


def not_asked(s: Any) -> Any:
    """Trials that are not waiting for a `hyperion tell` (whose shell is not a process to watch)."""
    import sqlalchemy as sa

    return sa.or_(s.trials.c.owner.is_(None), s.trials.c.owner != ASKED)


def interrupt_trials(conn: Any, s: Any, study_id: int, condition: Any, **values: Any) -> None:
    """Trials a dead run left running, paused or interrupted: their reports after their last checkpoint
    go (all of them without one), and they are marked interrupted (with `values` set too), to run again
    with their numbers and parameters, from that checkpoint."""
    import sqlalchemy as sa

    states = ("running", "interrupted", "paused")
    where = (s.trials.c.study_id == study_id, condition, s.trials.c.state.in_(states))
    left = conn.execute(sa.select(s.trials.c.number).where(*where)).scalars().all()
    if left:
        c = s.checkpoints
        kept = dict(
            conn.execute(
                sa.select(c.c.trial_number, sa.func.max(c.c.step))
                .where(c.c.study_id == study_id, c.c.trial_number.in_(left))
                .group_by(c.c.trial_number)
            ).all()
        )
        r = s.reports
        for number in left:
            conn.execute(
                r.delete().where(r.c.study_id == study_id, r.c.trial_number == number, r.c.step > kept.get(number, -1))
            )
    conn.execute(s.trials.update().where(*where).values(state="interrupted", **values))
