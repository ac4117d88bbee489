"""The searched parameters as numbers, for model-based strategies (after Optuna's _SearchSpaceTransform):
a numeric parameter (Float, Int, and an ordinal Choice of three or more numbers) as its position in
[0, 1] (log-warped where the parameter is log; an ordinal Choice by its option's rank), a categorical
one (any other Choice, Bool) as its option's index or as a one-hot block. One encoding for every
strategy (tpe, gp, ...), so they agree on what a point is."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from hyperion_core.params import Categorical

if TYPE_CHECKING:
    import numpy as np

    from hyperion_core.space import Space


def is_categorical(param: Any) -> TypeGuard[Categorical]:
    """Options without an order: a Choice (or Bool) that is not ordinal (Choice.ordinal)."""
    return isinstance(param, Categorical) and not getattr(param, "ordinal", False)


class Encoding:
    """`numeric` and `categorical` name the encoded parameters in order; `leave_out` names categorical
    ones a model does without (e.g. a Choice of thousands of options in a one-hot model)."""

    def __init__(self, space: Space, leave_out: Collection[str] = ()) -> None:
        self.space = space
        params = space.params
        self.numeric = [n for n, p in params.items() if not is_categorical(p)]
        self.categorical = [n for n, p in params.items() if is_categorical(p) and n not in leave_out]
        self.sizes = [len(space.categories[n].options) for n in self.categorical]
        self._numeric = [params[n] for n in self.numeric]
        self._categories = [space.categories[n] for n in self.categorical]
        self.offsets: list[int] = []  # where each categorical's one-hot block starts
        width = len(self.numeric)
        for size in self.sizes:
            self.offsets.append(width)
            width += size
        self.width = width  # of the one-hot encoding

    def units(self, params: Mapping[str, Any], fill: Callable[[], float] | None = None) -> list[float]:
        """The numeric parameters in [0, 1]; an inactive one (a conditional space) is `fill()` (0.5 without)."""
        if fill is None:
            return [p.to_unit(params[n]) if n in params else 0.5 for n, p in zip(self.numeric, self._numeric)]
        return [p.to_unit(params[n]) if n in params else fill() for n, p in zip(self.numeric, self._numeric)]

    def indices(self, params: Mapping[str, Any], fill: Callable[[int], int] | None = None) -> list[int]:
        """The categorical parameters as option indices; an inactive one is `fill(size)` (-1 without)."""
        return [
            c.index(params[n]) if n in params else (fill(size) if fill is not None else -1)
            for n, c, size in zip(self.categorical, self._categories, self.sizes)
        ]

    def one_hot(self, params: Mapping[str, Any]) -> np.ndarray:
        """The numeric units (0.5 when inactive) then one block per categorical (all zero when inactive)."""
        import numpy as np

        x = np.zeros(self.width)
        x[: len(self.numeric)] = self.units(params)
        for offset, name, category in zip(self.offsets, self.categorical, self._categories):
            if name in params:
                x[offset + category.index(params[name])] = 1.0
        return x

    def log_prior(self, num: np.ndarray, cat: np.ndarray | None = None) -> np.ndarray | None:
        """Each row's log prior density, up to a constant (None when no parameter has a prior): `num` the
        numeric units (m x numeric; the first columns of a one-hot code do), `cat` the option indices
        (m x categorical; -1 inactive) or None. A number's prior is a Gaussian on the unit cube around it
        over a uniform floor, a categorical's the mass of its option (Parameter.prior, PRIOR_SPREAD,
        PRIOR_FLOOR, PRIOR_MASS)."""
        import math

        import numpy as np

        from hyperion_core.params import PRIOR_FLOOR, PRIOR_MASS, PRIOR_SPREAD

        priors = self.space.priors
        if not priors:
            return None
        total = np.zeros(len(num))
        for j, (name, param) in enumerate(zip(self.numeric, self._numeric)):
            if name in priors:  # a Gaussian mixed with a uniform floor: a wrong prior's pull is bounded
                z = (num[:, j] - param.to_unit(param.prior)) / PRIOR_SPREAD[param.confidence]
                total += np.log((1 - PRIOR_FLOOR) * np.exp(-0.5 * z * z) + PRIOR_FLOOR)
        if cat is not None:
            for j, (name, category, size) in enumerate(zip(self.categorical, self._categories, self.sizes)):
                if name in priors and size > 1:
                    mass = PRIOR_MASS[category.confidence]
                    logs = np.full(size + 1, math.log((1 - mass) / (size - 1)))
                    logs[category.index(category.prior)] = math.log(mass)
                    logs[size] = 0.0  # -1 (inactive) indexes the last entry
                    total += logs[cat[:, j]]
        return total

    def indices_of(self, codes: np.ndarray) -> np.ndarray:
        """The option indices of one-hot codes (m x width): -1 where a block is all zero (inactive)."""
        import numpy as np

        out = np.full((len(codes), len(self.categorical)), -1, dtype=np.int64)
        for j, (offset, size) in enumerate(zip(self.offsets, self.sizes)):
            block = codes[:, offset : offset + size]
            out[:, j] = np.where(block.max(axis=1) > 0, block.argmax(axis=1), -1)
        return out
