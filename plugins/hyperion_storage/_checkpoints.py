"""The SQL storage's checkpoint records: the checkpoints table written with a tick's changes (and the
reports a continued trial will send again dropped), and read back on resume and for the trial view."""

from __future__ import annotations

from typing import Any

from hyperion_core.models import Changes, Checkpoint


class CheckpointsMixin:
    _sa: Any
    _schema: Any

    def _write_checkpoints(self, conn: Any, study_id: int, changes: Changes) -> None:
        """Reports after a rewound trial's checkpoint go; checkpoints saved are kept, deleted ones forgotten."""
        s = self._schema
        r, c = s.reports, s.checkpoints
        for number, step in changes.rewound:
            conn.execute(r.delete().where(r.c.study_id == study_id, r.c.trial_number == number, r.c.step > step))
        for checkpoint in changes.checkpoints:
            key = (c.c.study_id == study_id, c.c.trial_number == checkpoint.trial_number, c.c.step == checkpoint.step)
            conn.execute(c.delete().where(*key))
            if not checkpoint.deleted:
                conn.execute(
                    c.insert().values(
                        study_id=study_id,
                        trial_number=checkpoint.trial_number,
                        step=checkpoint.step,
                        location=checkpoint.location,
                        size=checkpoint.size,
                        time=checkpoint.time,
                    )
                )

    def _checkpoints(self, conn: Any, study_id: int, trial_number: int | None = None) -> list[Checkpoint]:
        c = self._schema.checkpoints
        query = self._sa.select(c.c.trial_number, c.c.step, c.c.location, c.c.size, c.c.time).where(
            c.c.study_id == study_id
        )
        if trial_number is not None:
            query = query.where(c.c.trial_number == trial_number)
        rows = conn.execute(query.order_by(c.c.trial_number, c.c.step)).all()
        return [Checkpoint(n, step, loc, size, tm) for n, step, loc, size, tm in rows]
