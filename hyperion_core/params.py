"""The searchable parameter types. Each knows its own range: how to sample, check, encode to the unit
cube, list grid points, perturb a value and describe itself (what a model is told of it is the LLM
plugin's: hyperion_llm/parameters.py)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from hyperion_core.checks import plain
from hyperion_core.errors import SpaceError

_FIXED_TYPES = (str, int, float, bool, type(None))


#: A prior's confidence: the spread of a number's prior (a share of its range, on the unit cube) ...
PRIOR_SPREAD = {"low": 0.3, "medium": 0.15, "high": 0.05}
#: ... and the probability of a categorical prior's option (the rest shared by the others).
PRIOR_MASS = {"low": 0.4, "medium": 0.6, "high": 0.85}
#: piBO (Hvarfner et al., 2022): a model's acquisition is weighed by prior(x) ** (PRIOR_BETA / n) after n
#: finished trials, so the prior leads at first and the data later.
PRIOR_BETA = 10.0
#: A number's prior density never falls below this share of its peak (a mixture with the uniform), so a
#: wrong prior's pull on a model is bounded and the data overrule it.
PRIOR_FLOOR = 0.1


class Parameter:
    """Base of the searchable parameter types. `prior` (optional): the value a user expects to be good,
    with a `confidence` of "low", "medium" or "high"; the model-based strategies draw their first points
    around it and weigh their proposals by it, less as trials accumulate (docs/strategies.md, priors).
    A prior is guidance, not part of the space: it is not stored, and a resume may change it."""

    log: bool = False
    prior: Any = None
    confidence: str = "medium"

    def _check_prior(self, path: str) -> None:
        if self.confidence not in PRIOR_SPREAD:
            raise SpaceError(
                f"parameter '{path}': confidence must be one of {', '.join(PRIOR_SPREAD)}, got {self.confidence!r}"
            )
        if self.prior is not None and not self.contains(plain(self.prior)):
            raise SpaceError(f"parameter '{path}': prior {self.prior!r:.100} is not in {self!r:.200}")

    def sample_prior(self, rng: random.Random) -> Any:
        """A draw from the prior (a plain sample without one)."""
        return self.sample(rng)

    def _around_prior(self, rng: random.Random) -> Any:
        """A Gaussian draw on the unit interval around the prior's position (its spread by confidence),
        truncated to [0, 1]: drawn again when outside, clipped after 20 tries."""
        centre, spread = self.to_unit(self.prior), PRIOR_SPREAD[self.confidence]
        for _ in range(20):
            u = rng.gauss(centre, spread)
            if 0.0 <= u <= 1.0:
                return self.from_unit(u)
        return self.from_unit(min(max(u, 0.0), 1.0))

    def check(self, path: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def sample(self, rng: random.Random) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def contains(self, value: Any) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def grid(self, points: int, int_cap: int) -> list[Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def perturb(self, value: Any, spread: float, rng: random.Random) -> Any:
        """A neighbour of `value`: moved by about `spread` of the range (a share in [0, 1])."""
        u = self.to_unit(value) + rng.gauss(0.0, spread)
        u = abs(u) % 2.0  # reflect into [0, 1]
        return self.from_unit(2.0 - u if u > 1.0 else u)


def _is_number(value: Any) -> bool:
    """A plain int or float, bool excepted (values reach here made plain by checks.plain)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Range(Parameter):
    """Shared logic of Float and Int: inclusive bounds, optional log scale."""

    def __init__(
        self, low: float, high: float, log: bool = False, prior: float | None = None, confidence: str = "medium"
    ) -> None:
        self.low = plain(low)  # Float(np.float32(0.1), 1.0): numpy bounds are plain numbers from here on
        self.high = plain(high)
        self.log = bool(log)
        self.prior = plain(prior)
        self.confidence = confidence

    def __repr__(self) -> str:
        log = ", log=True" if self.log else ""
        return f"{type(self).__name__}({self.low!r}, {self.high!r}{log})"

    def sample_prior(self, rng: random.Random) -> Any:
        """Around the prior on the unit cube (log parameters in log space), its spread by confidence."""
        return self.sample(rng) if self.prior is None else self._around_prior(rng)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Range)
            and type(other) is type(self)
            and (self.low, self.high, self.log) == (other.low, other.high, other.log)
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.low, self.high, self.log))

    def check(self, path: str) -> None:
        name = type(self).__name__
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if not _is_number(value) or not math.isfinite(value):
                raise SpaceError(f"parameter '{path}': {name} {bound} must be a finite number, got {value!r}")
        if self.low >= self.high:
            raise SpaceError(
                f"parameter '{path}': {name} needs low < high, got low={self.low!r}, high={self.high!r}; "
                "for a constant, put the plain value in the space instead"
            )
        if self.log and self.low <= 0:
            raise SpaceError(f"parameter '{path}': {name}(log=True) needs low > 0, got low={self.low!r}")
        # Cache the transformed bounds: to_unit/from_unit run in strategies' hot paths.
        self._lo = math.log(self.low) if self.log else float(self.low)
        self._hi = math.log(self.high) if self.log else float(self.high)
        self._check_prior(path)

    def _warp(self, value: float) -> float:
        return math.log(value) if self.log else float(value)

    def _unwarp(self, x: float) -> float:
        return math.exp(x) if self.log else x

    def to_unit(self, value: Any) -> float:
        return (self._warp(value) - self._lo) / (self._hi - self._lo)

    def describe(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "low": self.low, "high": self.high, "log": self.log}


class Float(_Range):
    """A real number in [low, high], sampled uniformly (or log-uniformly with log=True)."""

    def sample(self, rng: random.Random) -> float:
        return self.from_unit(rng.random())

    def contains(self, value: Any) -> bool:
        return _is_number(value) and math.isfinite(value) and bool(self.low <= value <= self.high)

    def from_unit(self, u: float) -> float:
        value = self._unwarp(self._lo + u * (self._hi - self._lo))
        return float(min(max(value, self.low), self.high))  # exp/log round-off must not leave the box

    def grid(self, points: int, int_cap: int) -> list[Any]:
        if points == 1:
            return [self.from_unit(0.5)]
        return [self.from_unit(i / (points - 1)) for i in range(points)]


class Int(_Range):
    """An integer in [low, high] (inclusive), sampled uniformly (or log-uniformly with log=True)."""

    def check(self, path: str) -> None:
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if isinstance(value, float) and value.is_integer():
                setattr(self, bound, int(value))
            elif not isinstance(value, int) or isinstance(value, bool):
                raise SpaceError(f"parameter '{path}': Int {bound} must be an integer, got {value!r}")
        super().check(path)
        # Widen by half a step so every integer, the two ends included, owns an equal share of [0, 1].
        self._lo = self._warp(self.low - 0.5)  # low >= 1 under log, so low - 0.5 > 0
        self._hi = self._warp(self.high + 0.5)

    def sample(self, rng: random.Random) -> int:
        if not self.log:
            return rng.randint(int(self.low), int(self.high))
        return self.from_unit(rng.random())

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return isinstance(value, int) and self.low <= value <= self.high

    def from_unit(self, u: float) -> int:
        value = round(self._unwarp(self._lo + u * (self._hi - self._lo)))
        return int(min(max(value, self.low), self.high))

    def perturb(self, value: Any, spread: float, rng: random.Random) -> Any:
        new = super().perturb(value, spread, rng)
        if new == value and rng.random() < 0.5:  # a small spread must still be able to move an integer
            new = min(max(value + rng.choice((-1, 1)), self.low), self.high)
        return new

    def grid(self, points: int, int_cap: int) -> list[Any]:
        count = self.high - self.low + 1
        if count <= int_cap:
            return list(range(int(self.low), int(self.high) + 1))
        values = [self.from_unit(i / (int_cap - 1)) for i in range(int_cap)] if int_cap > 1 else [self.low]
        return sorted(set(values))


def _options(raw: list[Any]) -> list[Any]:
    """The options' values: plain ones as given (numpy numbers made plain), a sub-space option its label:
    its first plain value ("adam"), made unique among the options. One pass: linear in the options."""
    values = [raw_option if isinstance(raw_option, Mapping) else plain(raw_option) for raw_option in raw]
    taken = {_key(v) for v in values if not isinstance(v, Mapping)}
    for i, branch in enumerate(values):
        if not isinstance(branch, Mapping):
            continue
        first = next((v for v in branch.values() if isinstance(v, str) and v), None)
        label = first if first is not None else f"option_{i}"
        if _key(label) in taken:
            label = f"{label}_{i}"
        while _key(label) in taken:  # "adam_1" was an option too: bounded by the number of options
            label += "_"
        taken |= {_key(label), _key(first)}
        values[i] = label
    return values


def _key(value: Any) -> Any:
    """A hashable key with _same's equality: True apart from 1, 1 equal to 1.0, "1" apart from 1."""
    if isinstance(value, bool):
        return ("bool", value)
    if _is_number(value):
        return ("number", value)
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_key(v) for v in value))
    return (type(value).__name__, value)


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps True apart from 1 and 1.0 apart from "1", as users mean it."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


class Categorical(Parameter):
    """A parameter whose values are a list of options (no order, no distance): model-based strategies
    encode it by the option's position, `index(value)`, and decode `options[i]`."""

    options: list[Any]

    def index(self, value: Any) -> int:  # pragma: no cover - overridden
        raise NotImplementedError


class Choice(Categorical):
    """One of a list of options (any JSON-compatible values), each equally likely.

    An option that is a dict holding space entries makes a choice between sub-spaces (a conditional
    space): `Choice([{"name": "adam", "lr": Float(...)}, {"name": "sgd", "lr": Float(...), "momentum":
    Float(0, 0.99)}])`. The objective then gets the chosen dict with its values sampled; the other
    options' parameters are inactive (absent). Such an option's value (its label) is its first plain
    value ("adam"), or "option_<i>"."""

    def __init__(self, options: Any, prior: Any = None, confidence: str = "medium") -> None:
        self.options = options
        self._raw = options
        self.prior = prior
        self.confidence = confidence
        #: per option, the sub-space it opens (a dict) or None; all None for a plain Choice
        self.branches: list[Mapping[str, Any] | None] = []

    @property
    def conditional(self) -> bool:
        return any(branch is not None for branch in self.branches)

    def __repr__(self) -> str:
        return f"Choice({self._raw!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Choice) and type(other) is type(self) and _same(list(self.options), list(other.options))
        )

    def __hash__(self) -> int:
        return hash(("Choice", repr(self.options)))

    def check(self, path: str) -> None:
        raw = self._raw
        if isinstance(raw, (str, bytes, Mapping)) or not hasattr(raw, "__iter__"):
            raise SpaceError(f"parameter '{path}': Choice takes a list of options, got {raw!r}")
        raw = list(raw)
        if not raw:
            raise SpaceError(f"parameter '{path}': Choice needs at least one option, got an empty list")
        self.branches = [option if isinstance(option, Mapping) else None for option in raw]
        self.options = _options(raw)
        for option in self.options:
            if not _is_fixed(option):
                raise SpaceError(
                    f"parameter '{path}': Choice option {option!r} is not a JSON-compatible value "
                    "(str, int, float, bool, None, or a list of them)"
                )
        index: dict[Any, int] = {}  # option key -> position: membership and index in O(1)
        for i, option in enumerate(self.options):
            if index.setdefault(_key(option), i) != i:
                raise SpaceError(f"parameter '{path}': Choice lists option {option!r:.200} twice")
        self._index = index
        self.__dict__.pop("_rank_table", None)  # the options are final now: ordinal is decided again
        self._check_prior(path)

    def sample_prior(self, rng: random.Random) -> Any:
        """The prior's option with its mass by confidence, else one of the others; an ordinal Choice
        around its prior's rank, as a number is drawn around its prior (the models weigh it so too)."""
        if self.prior is None or len(self.options) == 1:
            return self.sample(rng)
        if self.ordinal:
            return self._around_prior(rng)
        if rng.random() < PRIOR_MASS[self.confidence]:
            return self.options[self.index(self.prior)]
        others = [o for i, o in enumerate(self.options) if i != self.index(self.prior)]
        return others[rng.randrange(len(others))]

    @property
    def _positions(self) -> dict[Any, int]:
        index = self.__dict__.get("_index")
        if index is None:  # used before a Space checked it
            index = self._index = {_key(o): i for i, o in reversed(list(enumerate(self.options)))}
        return index

    @property
    def ordinal(self) -> bool:
        """Three or more numbers and nothing else (Choice([16, 32, 64, 128]), a grid of learning rates):
        the options have an order, so models read an option as its rank by value on [0, 1] (as an Int
        over the positions of the sorted list), not as unrelated labels."""
        return self._ranks is not None

    @property
    def _ranks(self) -> tuple[list[int], list[int]] | None:
        """An ordinal Choice's (option indices by rank, rank of each option); None for any other
        (cached; O(k log k))."""
        if "_rank_table" not in self.__dict__:
            options = self.options
            table = None
            if len(options) >= 3 and all(_is_number(o) and not isinstance(o, bool) for o in options):
                by_rank = sorted(range(len(options)), key=lambda i: options[i])
                rank_of = [0] * len(options)
                for rank, i in enumerate(by_rank):
                    rank_of[i] = rank
                table = (by_rank, rank_of)
            self._rank_table = table
        ranks: tuple[list[int], list[int]] | None = self._rank_table
        return ranks

    def index(self, value: Any) -> int:
        try:
            return self._positions[_key(plain(value))]
        except (KeyError, TypeError):  # TypeError: an unhashable value (a dict) is no option
            raise ValueError(value) from None

    def sample(self, rng: random.Random) -> Any:
        return self.options[rng.randrange(len(self.options))]

    def contains(self, value: Any) -> bool:
        try:
            return _key(value) in self._positions
        except TypeError:
            return False

    def to_unit(self, value: Any) -> float:
        """The option's position on [0, 1]: its rank by value for an ordinal Choice, else its index."""
        i, ranks = self.index(value), self._ranks
        return ((ranks[1][i] if ranks is not None else i) + 0.5) / len(self.options)

    def from_unit(self, u: float) -> Any:
        i, ranks = min(max(int(u * len(self.options)), 0), len(self.options) - 1), self._ranks
        return self.options[ranks[0][i] if ranks is not None else i]

    def grid(self, points: int, int_cap: int) -> list[Any]:
        return list(self.options)

    def describe(self) -> dict[str, Any]:
        return {"type": "Choice", "options": list(self.options)}

    def perturb(self, value: Any, spread: float, rng: random.Random) -> Any:
        """An ordinal Choice moves by rank as an Int over the sorted options does (a batch size of 64
        becomes 32 or 128, not 1024); any other: another option with probability `spread`, else the same."""
        ranks = self._ranks
        if ranks is not None:
            new = super().perturb(value, spread, rng)
            if _same(new, value) and rng.random() < 0.5:  # a small spread must still be able to move
                rank = min(max(ranks[1][self.index(value)] + rng.choice((-1, 1)), 0), len(self.options) - 1)
                new = self.options[ranks[0][rank]]
            return new
        if len(self.options) > 1 and rng.random() < spread:
            others = [o for i, o in enumerate(self.options) if i != self.index(value)]
            return rng.choice(others or self.options)
        return value


class Bool(Choice):
    """True or False, each equally likely."""

    def __init__(self, prior: bool | None = None, confidence: str = "medium") -> None:
        super().__init__([False, True], prior, confidence)

    def __repr__(self) -> str:
        return "Bool()"

    def describe(self) -> dict[str, Any]:
        return {"type": "Bool"}


def _is_fixed(value: Any) -> bool:
    if isinstance(value, _FIXED_TYPES):
        return not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_is_fixed(v) for v in value)
    return False
