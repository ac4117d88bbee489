"""The search space: a (nested) dict whose leaves are parameters (Float, Int, Choice, Bool, in
hyperion_core.params) or fixed values. Internally it is flattened to dotted paths ("model.n_layers");
the objective receives the nesting. Validation, sampling, unit-cube encoding and grid points.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

from hyperion_core.errors import SpaceError
from hyperion_core.params import Bool, Choice, Float, Int, Parameter, _is_fixed, _same

__all__ = ["Bool", "Choice", "Float", "Int", "Parameter", "Space"]


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

    @classmethod
    def described(cls, description: Mapping[str, Any]) -> Space:
        """The space a `describe()` came from (how a stored study's space is rebuilt)."""
        definition: dict[str, Any] = {}
        for path, d in description.items():
            kind = d.get("type")
            value: Any
            if kind == "fixed":
                value = d["value"]
            elif kind == "Float":
                value = Float(d["low"], d["high"], log=d.get("log", False))
            elif kind == "Int":
                value = Int(d["low"], d["high"], log=d.get("log", False))
            elif kind == "Bool":
                value = Bool()
            elif kind == "Choice":
                value = Choice(d["options"])
            else:
                raise SpaceError(f"parameter '{path}': unknown stored type {kind!r}")
            node = definition
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return cls(definition)

    def describe(self) -> dict[str, Any]:
        """A JSON-compatible description (stored with a study; compared on resume)."""
        out: dict[str, Any] = {}
        for path in self._order:
            out[path] = (
                self.params[path].describe() if path in self.params else {"type": "fixed", "value": self.fixed[path]}
            )
        return out
