"""What a study optimises: one metric and its direction, or several (a Pareto front). One value type,
one place that ranks and dominates: strategies, policies, storages and views ask the Goal instead of
decoding "max"/"min" themselves."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from hyperion_core.errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np

Direction = Literal["min", "max"]
DIRECTIONS: tuple[Direction, ...] = ("min", "max")


@dataclass(frozen=True, slots=True)
class Goal:
    """`metrics[i]` is optimised in `directions[i]`; the first is the primary one (what `best` ranks by
    with one objective, and what early stopping watches unless told otherwise)."""

    metrics: tuple[str, ...]
    directions: tuple[Direction, ...]

    @classmethod
    def of(cls, metric: Any, mode: Any = "max") -> Goal:
        """tune()'s `metric` and `mode` checked: a name or a list of names; one mode for all or one each."""
        if isinstance(metric, Goal):
            return metric
        metrics = [metric] if isinstance(metric, str) else metric
        if not isinstance(metrics, (list, tuple)) or not metrics:
            raise ConfigurationError(
                f"metric must be a metric name such as 'score' or 'val_loss' (or a list), got {metric!r}"
            )
        for name in metrics:
            if not isinstance(name, str) or not name.strip():
                raise ConfigurationError(f"metric must be a metric name such as 'score' or 'val_loss', got {name!r}")
        if len(set(metrics)) != len(metrics):
            raise ConfigurationError(f"metric lists a metric twice: {metrics!r}")
        modes = [mode] * len(metrics) if isinstance(mode, str) else mode
        if not isinstance(modes, (list, tuple)) or len(modes) != len(metrics):
            raise ConfigurationError(f"mode must be 'min' or 'max', or a list of them as long as metric, got {mode!r}")
        for m in modes:
            if m not in DIRECTIONS:
                raise ConfigurationError(f"mode must be 'min' or 'max', got {m!r}")
        return cls(tuple(metrics), tuple(cast(Direction, m) for m in modes))

    # -- as stored ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, list[str]]:
        return {"metrics": list(self.metrics), "modes": list(self.directions)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Goal:
        """The goal of a stored study or a view: {"metrics": [...], "modes": [...]}."""
        return cls.of(list(data["metrics"]), list(data["modes"]))

    # -- reading ----------------------------------------------------------------------------------------
    @property
    def metric(self) -> str:
        """The primary metric."""
        return self.metrics[0]

    @property
    def direction(self) -> Direction:
        """The primary metric's direction."""
        return self.directions[0]

    @property
    def several(self) -> bool:
        return len(self.metrics) > 1

    def __iter__(self) -> Iterator[tuple[str, Direction]]:
        return iter(zip(self.metrics, self.directions))

    def __str__(self) -> str:
        return ", ".join(f"{d} {m}" for m, d in self)

    # -- ranking (the primary metric) -------------------------------------------------------------------
    @property
    def sign(self) -> float:
        """+1 when the primary metric is minimised, -1 when maximised: `sign * value` is a loss."""
        return 1.0 if self.direction == "min" else -1.0

    def better(self, a: float, b: float) -> bool:
        """a is strictly better than b in the primary direction."""
        return a < b if self.direction == "min" else a > b

    def loss(self, value: float | None) -> float:
        """The primary value as a loss (smaller is better; None is the worst)."""
        return math.inf if value is None else self.sign * value

    def best(self, values: Sequence[float]) -> float | None:
        """The best of these primary values (None for none)."""
        return (min if self.direction == "min" else max)(values) if values else None

    # -- several objectives -----------------------------------------------------------------------------
    @property
    def signs(self) -> tuple[float, ...]:
        return tuple(1.0 if d == "min" else -1.0 for d in self.directions)

    def losses(self, values: Sequence[Sequence[float]]) -> np.ndarray:
        """Rows of objective values as losses (max objectives negated); an empty matrix for no rows."""
        import numpy as np  # not at import time: `import hyperion` stays light

        matrix = np.asarray(values, dtype=float).reshape(len(values), len(self.metrics))
        result: np.ndarray = matrix * np.array(self.signs)
        return result

    def dominates(self, a: Sequence[float], b: Sequence[float]) -> bool:
        """Objective values a are no worse than b in every objective and better in one."""
        la = [s * v for s, v in zip(self.signs, a)]
        lb = [s * v for s, v in zip(self.signs, b)]
        return all(x <= y for x, y in zip(la, lb)) and any(x < y for x, y in zip(la, lb))
