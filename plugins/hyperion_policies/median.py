"""The median rule: stop a trial whose value at a checkpoint is worse than the median of the other
trials' values at the same step. `aggressive` and `patient` are presets of it; `percentile` keeps the
trials in the top fifth and stops one only at its second check in a row outside it."""

from __future__ import annotations

import functools
import math
import statistics

from hyperion_core import checks
from hyperion_core.models import Trial
from hyperion_core.protocols import Policy
from hyperion_core.state import StudyState
from hyperion_policies._curves import Curves, latest, watched


class NoStopping(Policy):
    """Never stops a trial (the same as early_stopping=None)."""

    def should_stop(self, study: StudyState, trial: Trial) -> str | None:
        return None


class MedianStopping(Policy):
    """check_interval: a trial is checked every this many of its own reports (default 1: every report).
    warmup_steps: no check before this step (default 0). min_trials: other trials that must have
    reported by that step for a comparison (default 3). keep: a check passes when the trial is within
    the best `keep` share of the other trials' values at that step (default 0.5: the median).
    patience: the trial is stopped at this many failed checks in a row (default 1). metric, mode:
    default to tune()'s."""

    def __init__(
        self,
        check_interval: int = 1,
        min_trials: int = 3,
        warmup_steps: int = 0,
        metric: str | None = None,
        mode: str | None = None,
        keep: float = 0.5,
        patience: int = 1,
    ) -> None:
        checks.whole_number("early stopping: check_interval", check_interval, 1)
        checks.whole_number("early stopping: min_trials", min_trials, 1)
        checks.whole_number("early stopping: warmup_steps", warmup_steps, 0)
        checks.whole_number("early stopping: patience", patience, 1)
        keep = checks.fraction("early stopping: keep (the share of trials a check lets through)", keep, 0.01, 1.0)
        self.check_interval, self.min_trials, self.warmup_steps = check_interval, min_trials, warmup_steps
        self.keep, self.patience = float(keep), patience
        self._metric, self._mode = metric, mode
        self.checks = 0
        self.most_reports = 0
        self.failed: dict[int, int] = {}  # trial number -> checks failed in a row (patience > 1)

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.goal = watched(study, self._metric, self._mode, self.name)
        self.metric = self.goal.metric
        self.curves = Curves(self.metric)

    def should_stop(self, study: StudyState, trial: Trial) -> str | None:
        reports = len(study.history.get(trial.number, ()))
        self.most_reports = max(self.most_reports, reports)
        step = trial.last_step
        if reports % self.check_interval or step is None or step < self.warmup_steps:
            return None
        value, _ = latest(trial, self.metric)
        if value is None:
            return None  # a report without the metric is no evidence
        self.checks += 1
        if math.isnan(value):
            return f"{self.name}: {self.metric} is NaN at step {step}"
        self.curves.update(study)
        others = self.curves.others_at(trial, step)
        if len(others) < self.min_trials:
            return None
        bar = _bar(others, self.keep, self.goal.direction)
        if not self.goal.better(bar, value):
            self.failed.pop(trial.number, None)
            return None
        failed = self.failed.pop(trial.number, 0) + 1
        if failed < self.patience:
            self.failed[trial.number] = failed
            return None
        where = (
            f"worse than the median {bar:.6g} of {len(others)} other trials at that step"
            if self.keep == 0.5
            else f"outside the best {self.keep:.0%} of the {len(others)} other trials at that step (worse than {bar:.6g})"
        )
        again = f" ({failed} checks in a row)" if failed > 1 else ""
        return f"{self.name}: {self.metric}={value:.6g} at step {step} is {where}{again}"

    @property
    def name(self) -> str:
        return "percentile" if (self.keep, self.patience) == PERCENTILE else "median"

    def close(self, study: StudyState) -> None:
        if self.checks == 0 and self.most_reports:
            study.note(
                f"early stopping never checked a trial: trials reported at most {self.most_reports} times and "
                f"check_interval={self.check_interval}; lower check_interval (early_stopping_kwargs) to use it"
            )


# The presets check at fixed report intervals: meant for trials that report very often (every batch),
# where a check at every report would judge noise. Any argument can still be given; see
# docs/early-stopping.md.
aggressive = functools.partial(MedianStopping, check_interval=25)
patient = functools.partial(MedianStopping, check_interval=200)

# `percentile`: a trial goes on while it is in the top fifth of the others at least every other check.
# Chosen on the ten LCBench development tasks against Optuna's MedianPruner (docs/early-stopping.md).
PERCENTILE = (0.2, 2)
percentile = functools.partial(MedianStopping, keep=PERCENTILE[0], patience=PERCENTILE[1])


def _bar(others: list[float], keep: float, direction: str) -> float:
    """The value a trial must reach to be within the best `keep` share of `others` (interpolated between
    neighbours, as numpy's default quantile); keep=0.5 is exactly their median."""
    if keep == 0.5:
        return statistics.median(others)
    ordered = sorted(others, reverse=direction == "max")  # best first
    position = keep * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    if position == low or not math.isfinite(ordered[low] - ordered[high]):
        return ordered[low] if position == low else ordered[high]  # on a value, or next to an infinity
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
