"""Grid search: every combination of each parameter's grid values, in a fixed order."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from hyperion_core.errors import ConfigurationError
from hyperion_core.models import Trial
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.state import StudyState


class GridSearch(Strategy):
    """Choice and Bool give their options, Int every integer (up to `max_int_values`, else that
    many spread values), Float `points` values spread evenly (log-evenly with log=True)."""

    finite = True

    def __init__(self, points: int = 5, max_int_values: int = 100) -> None:
        for label, value in (("points", points), ("max_int_values", max_int_values)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"grid: {label} must be a whole number >= 1, got {value!r}")
        self.points = points
        self.max_int_values = max_int_values
        self._seen: set[tuple[str, ...]] = set()

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.axes = self.space.grid(self.points, self.max_int_values)
        if self.space.conditions:  # each option of a conditional Choice with its own parameters' grid
            self.size = sum(1 for _ in self.space.grid_points(self.points, self.max_int_values))
        else:
            self.size = math.prod(len(axis) for axis in self.axes)
        self._points: Iterator[dict[str, Any]] = self.space.grid_points(self.points, self.max_int_values)
        if self.space.constraints:  # the points the parameter constraints allow (counted for grids up to 1e6)
            self._points = (p for p in self._points if self.space.allows(p))
            if self.size <= 1_000_000:
                grid = self.space.grid_points(self.points, self.max_int_values)
                self.size = sum(1 for p in grid if self.space.allows(p))

    def _key(self, params: dict[str, Any]) -> tuple[str, ...]:
        return tuple(repr(params.get(name)) for name in self.space.names)

    def observe(self, trial: Trial) -> None:
        # Resumed trials arrive here before the first proposal: their points are not run again.
        self._seen.add(self._key(trial.params))

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        out: list[Proposal] = []
        for params in self._points:
            if self._seen and self._key(params) in self._seen:
                continue
            out.append(Proposal(params))
            if len(out) == slots:
                return out
        self.exhausted = True
        return out
