"""Search-space parameter types, validation, sampling, unit-cube encoding and grid points.

A space is a (nested) dict whose leaves are parameters (Float, Int, Choice, Bool) or fixed values.
Internally it is flattened to dotted paths ("model.n_layers"); the objective receives the nesting.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hyperion_core.errors import SpaceError

_FIXED_TYPES = (str, int, float, bool, type(None))


class Parameter:
    """Base of the searchable parameter types."""

    log: bool = False
    categorical: bool = False

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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Range(Parameter):
    """Shared logic of Float and Int: inclusive bounds, optional log scale."""

    kind = "range"

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        self.low = low
        self.high = high
        self.log = bool(log)

    def __repr__(self) -> str:
        log = ", log=True" if self.log else ""
        return f"{type(self).__name__}({self.low!r}, {self.high!r}{log})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self) and (self.low, self.high, self.log) == (other.low, other.high, other.log)  # type: ignore[attr-defined]
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
        return _is_number(value) and math.isfinite(value) and self.low <= value <= self.high

    def from_unit(self, u: float) -> float:
        value = self._unwarp(self._lo + u * (self._hi - self._lo))
        return min(max(value, self.low), self.high)  # exp/log round-off must not leave the box

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

    def grid(self, points: int, int_cap: int) -> list[Any]:
        count = self.high - self.low + 1
        if count <= int_cap:
            return list(range(int(self.low), int(self.high) + 1))
        values = [self.from_unit(i / (int_cap - 1)) for i in range(int_cap)] if int_cap > 1 else [self.low]
        return sorted(set(values))


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
        return a == b
    return type(a) is type(b) and a == b


class Choice(Parameter):
    """One of a list of options (any JSON-compatible values), each equally likely."""

    categorical = True

    def __init__(self, options: Any) -> None:
        self.options = options

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and _same(list(self.options), list(other.options))  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(("Choice", repr(self.options)))

    def check(self, path: str) -> None:
        if isinstance(self.options, (str, bytes, Mapping)) or not hasattr(self.options, "__iter__"):
            raise SpaceError(f"parameter '{path}': Choice takes a list of options, got {self.options!r}")
        self.options = list(self.options)
        if not self.options:
            raise SpaceError(f"parameter '{path}': Choice needs at least one option, got an empty list")
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

    @property
    def _positions(self) -> dict[Any, int]:
        index = self.__dict__.get("_index")
        if index is None:  # used before a Space checked it
            index = self._index = {_key(o): i for i, o in reversed(list(enumerate(self.options)))}
        return index

    def index(self, value: Any) -> int:
        try:
            return self._positions[_key(value)]
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
        return (self.index(value) + 0.5) / len(self.options)

    def from_unit(self, u: float) -> Any:
        return self.options[min(int(u * len(self.options)), len(self.options) - 1)]

    def grid(self, points: int, int_cap: int) -> list[Any]:
        return list(self.options)

    def describe(self) -> dict[str, Any]:
        return {"type": "Choice", "options": list(self.options)}


class Bool(Choice):
    """True or False, each equally likely."""

    def __init__(self) -> None:
        super().__init__([False, True])

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


@dataclass(frozen=True)
class Fixed:
    """A constant leaf of the space: passed to the objective as is, never searched."""

    value: Any


class Space:
    """A validated, flattened search space. Build it once per study with Space(definition)."""

    def __init__(self, definition: Mapping[str, Any]) -> None:
        if isinstance(definition, Space):
            definition = definition.definition
        if not isinstance(definition, Mapping):
            raise SpaceError(
                f"the space must be a dict of parameter names to parameters, got {type(definition).__name__}"
            )
        self.definition = definition
        self.params: dict[str, Parameter] = {}
        self.fixed: dict[str, Any] = {}
        self._order: list[str] = []
        self._walk(definition, "")
        if not self.params and not self.fixed:
            raise SpaceError("the space is empty: add at least one parameter, e.g. {'x': Float(0, 1)}")
        self.names = list(self.params)

    def _walk(self, node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if not isinstance(key, str) or not key:
                raise SpaceError(f"space key {key!r} under '{prefix or '<root>'}' must be a non-empty string")
            if "." in key:
                raise SpaceError(
                    f"space key '{prefix}{key}' contains '.', which Hyperion uses for nesting; nest a dict instead"
                )
            path = prefix + key
            if isinstance(value, Parameter):
                value.check(path)
                self.params[path] = value
            elif isinstance(value, Mapping):
                if not value:
                    raise SpaceError(f"parameter '{path}': an empty dict; give it parameters or remove it")
                self._walk(value, path + ".")
                continue
            elif isinstance(value, type) and issubclass(value, Parameter):
                raise SpaceError(f"parameter '{path}': {value.__name__} must be called, e.g. {value.__name__}(...)")
            elif _is_fixed(value):
                self.fixed[path] = value
            else:
                raise SpaceError(
                    f"parameter '{path}': {value!r} ({type(value).__name__}) is not a parameter type; use Float, Int, "
                    "Choice or Bool, a nested dict, or a fixed JSON-compatible value (str, number, bool, None, list)"
                )
            self._order.append(path)

    def __iter__(self) -> Iterator[tuple[str, Parameter]]:
        return iter(self.params.items())

    def __len__(self) -> int:
        return len(self.params)

    # -- values ---------------------------------------------------------------------------------
    def sample(self, rng: random.Random) -> dict[str, Any]:
        """One random point: a flat dict of the searched parameters."""
        return {name: param.sample(rng) for name, param in self.params.items()}

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check a flat point; returns the full flat point (fixed values added). Raises SpaceError."""
        out: dict[str, Any] = {}
        for name, param in self.params.items():
            if name not in values:
                raise SpaceError(f"parameter '{name}' is missing from the proposed point")
            value = values[name]
            if not param.contains(value):
                raise SpaceError(f"parameter '{name}': {value!r} is not in {param!r}")
            if isinstance(param, Int):
                value = int(value)
            out[name] = value
        for name, value in self.fixed.items():
            if name in values and not _same(values[name], value):
                raise SpaceError(f"parameter '{name}' is fixed to {value!r}, got {values[name]!r}")
            out[name] = value
        unknown = [name for name in values if name not in out]
        if unknown:
            raise SpaceError(
                f"unknown parameter(s) {', '.join(sorted(unknown))}; the space has {', '.join(self._order)}"
            )
        return out

    def contains(self, values: Mapping[str, Any]) -> bool:
        try:
            self.validate(values)
        except SpaceError:
            return False
        return True

    def complete(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Add the fixed values to a flat point known to be valid (no checks; the hot path)."""
        if not self.fixed:
            return dict(values)
        out = dict(values)
        out.update(self.fixed)
        return out

    def unflatten(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Dotted paths back to the nesting of the definition (what the objective receives)."""
        nested: dict[str, Any] = {}
        for path, value in flat.items():
            node = nested
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return nested

    # -- encodings for model-based strategies and grids ------------------------------------------
    def to_unit(self, values: Mapping[str, Any]) -> list[float]:
        return [param.to_unit(values[name]) for name, param in self.params.items()]

    def from_unit(self, u: list[float]) -> dict[str, Any]:
        return {name: param.from_unit(x) for (name, param), x in zip(self.params.items(), u)}

    def grid(self, points: int = 5, int_cap: int = 100) -> list[list[Any]]:
        """Per searched parameter, the values a grid visits (in the order of self.names)."""
        return [param.grid(points, int_cap) for param in self.params.values()]

    def describe(self) -> dict[str, Any]:
        """A JSON-compatible description (stored with a study; compared on resume)."""
        out: dict[str, Any] = {}
        for path in self._order:
            out[path] = (
                self.params[path].describe() if path in self.params else {"type": "fixed", "value": self.fixed[path]}
            )
        return out
