"""The search space: a (nested) dict whose leaves are parameters (Float, Int, Choice, Bool, in
hyperion_core.params) or fixed values. Internally it is flattened to dotted paths ("model.n_layers");
the objective receives the nesting. Validation, sampling, unit-cube encoding and grid points.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from hyperion_core.checks import plain
from hyperion_core.errors import SpaceError
from hyperion_core.params import Bool, Categorical, Choice, Float, Int, Parameter, _is_fixed, _same

__all__ = ["Bool", "Categorical", "Choice", "Float", "Int", "Parameter", "Space", "flatten"]

#: Random draws a constrained space makes for one point before it says that its constraints leave
#: (almost) nothing.
MAX_DRAWS = 10_000
#: neighbours drawn for a perturbation before a random point the parameter constraints allow is taken
REPERTURBS = 100


def flatten(point: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested point as dotted paths ({"model": {"lr": 1}} -> {"model.lr": 1})."""
    out: dict[str, Any] = {}
    for key, value in point.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


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
        # conditional spaces: path -> (the Choice's path, the option that activates it)
        self.conditions: dict[str, tuple[str, Any]] = {}
        self._order: list[str] = []
        self._walk(definition, "", None)
        if not self.params and not self.fixed:
            raise SpaceError("the space is empty: add at least one parameter, e.g. {'x': Float(0, 1)}")
        self.names = list(self.params)
        #: the categorical parameters by name, typed (their options and index() without a cast)
        self.categories: dict[str, Categorical] = {n: p for n, p in self.params.items() if isinstance(p, Categorical)}
        self._known = set(self.params) | set(self.fixed)
        #: the parameters with a prior (Float(..., prior=0.01)): model-based strategies start around them
        self.priors = {n: p for n, p in self.params.items() if p.prior is not None}
        #: parameter constraints: callables on a point as the objective receives it, truthy where it is
        #: allowed (tune(parameter_constraints=...)); every strategy keeps to them
        self.constraints: tuple[Callable[[dict[str, Any]], Any], ...] = ()

    def constrained(self, constraints: Sequence[Callable[[dict[str, Any]], Any]]) -> Space:
        """This space with parameter constraints (a new Space: the user's object is left as it was)."""
        space = Space(self.definition)
        space.constraints = tuple(constraints)
        return space

    def allows(self, values: Mapping[str, Any]) -> bool:
        """Whether a flat point keeps to the parameter constraints (True without any). A constraint that
        raises is a mistake in the user's code: ConfigurationError naming it and the point."""
        if not self.constraints:
            return True
        point = self.unflatten({**self.fixed, **values})
        for i, constraint in enumerate(self.constraints):
            try:
                ok = constraint(point)
            except Exception as exc:
                from hyperion_core.errors import ConfigurationError

                name = getattr(constraint, "__name__", f"parameter_constraints[{i}]")
                raise ConfigurationError(
                    f"the parameter constraint {name} raised {type(exc).__name__}: {str(exc)[:200]} on {point!r:.300}; "
                    "it must return True or False for every point of the space (a conditional parameter may be "
                    "absent: use point.get(...))"
                ) from exc
            if not ok:
                return False
        return True

    def _walk(self, node: Mapping[str, Any], prefix: str, condition: tuple[str, Any] | None) -> None:
        for key, value in node.items():
            if not isinstance(key, str) or not key:
                raise SpaceError(f"space key {key!r} under '{prefix or '<root>'}' must be a non-empty string")
            if "." in key:
                raise SpaceError(
                    f"space key '{prefix}{key}' contains '.', which Hyperion uses for nesting; nest a dict instead"
                )
            path = prefix + key
            if path in self.params or path in self.fixed:
                raise SpaceError(f"parameter '{path}' is defined twice (rename one)")
            if condition is not None:
                self.conditions[path] = condition
            if isinstance(value, Parameter):
                value.check(path)
                self.params[path] = value
                if isinstance(value, Choice) and value.conditional:
                    self._order.append(path)
                    for label, branch in zip(value.options, value.branches):
                        if branch is not None:  # its entries are active only when this option is chosen
                            self._walk(branch, f"{path}[{label}].", (path, label))
                    continue
            elif isinstance(value, Mapping):
                if not value:
                    raise SpaceError(f"parameter '{path}': an empty dict; give it parameters or remove it")
                self._walk(value, path + ".", condition)
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
    def active(self, path: str, values: Mapping[str, Any]) -> bool:
        """Whether a parameter applies given the choices in `values` (always, outside conditional options)."""
        condition = self.conditions.get(path)
        while condition is not None:
            parent, label = condition
            if parent not in values or not _same(values[parent], label):
                return False
            condition = self.conditions.get(parent)
        return True

    def sample(self, rng: random.Random, prior: bool = False) -> dict[str, Any]:
        """One random point: a flat dict of the searched parameters (the active ones), drawn again until
        it keeps to the parameter constraints (SpaceError after MAX_DRAWS draws). With `prior`, each
        parameter that has one is drawn around it (Parameter.sample_prior)."""
        if not self.constraints:
            return self._sample(rng, prior)
        for _ in range(MAX_DRAWS):
            point = self._sample(rng, prior)
            if self.allows(point):
                return point
        raise SpaceError(
            f"no point of {MAX_DRAWS:,} drawn at random keeps to the parameter constraints: they leave (almost) "
            "nothing of the space; check them, or narrow the space's ranges to what they allow"
        )

    def _sample(self, rng: random.Random, prior: bool = False) -> dict[str, Any]:
        if not self.conditions:
            if prior:
                return {name: param.sample_prior(rng) for name, param in self.params.items()}
            return {name: param.sample(rng) for name, param in self.params.items()}
        out: dict[str, Any] = {}
        for name, param in self.params.items():  # a Choice comes before the parameters it opens
            if self.active(name, out):
                out[name] = param.sample_prior(rng) if prior else param.sample(rng)
        return out

    def perturb(self, values: Mapping[str, Any], spread: float, rng: random.Random) -> dict[str, Any]:
        """A neighbour of a point: each active parameter moved by about `spread`; the parameters of an
        option newly chosen are sampled. With parameter constraints, a neighbour they allow (drawn again,
        up to REPERTURBS times; then a random allowed point)."""
        for _ in range(REPERTURBS if self.constraints else 1):
            out = self._perturb(values, spread, rng)
            if self.allows(out):
                return out
        return self.sample(rng)

    def _perturb(self, values: Mapping[str, Any], spread: float, rng: random.Random) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, param in self.params.items():
            if self.conditions and not self.active(name, out):
                continue
            out[name] = param.perturb(values[name], spread, rng) if name in values else param.sample(rng)
        return out

    def grid_points(self, points: int = 5, int_cap: int = 100) -> Iterator[dict[str, Any]]:
        """Every grid point (flat dicts); a conditional Choice expands each option's own grid."""
        names = self.names
        axes = self.grid(points, int_cap)

        def expand(i: int, current: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(names):
                yield dict(current)
                return
            name = names[i]
            if self.conditions and not self.active(name, current):
                yield from expand(i + 1, current)
                return
            for value in axes[i]:
                current[name] = value
                yield from expand(i + 1, current)
            current.pop(name, None)

        return expand(0, {})

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check a flat point; returns the full flat point (fixed values added). Raises SpaceError."""
        out: dict[str, Any] = {}
        conditional = bool(self.conditions)
        for name, param in self.params.items():
            if conditional and not self.active(name, out):
                continue  # an option not chosen: its parameters are absent (a value given for one is dropped)
            if name not in values:
                raise SpaceError(f"parameter '{name}' is missing from the proposed point")
            value = values[name]
            kind = type(value)
            if kind is not float and kind is not int and kind is not str and kind is not bool:
                value = plain(value)  # numpy numbers, 0-d arrays and tensors: as Python numbers
            if not param.contains(value):
                raise SpaceError(f"parameter '{name}': {value!r} is not in {param!r}")
            if isinstance(param, Int):
                value = int(value)
            out[name] = value
        for name, value in self.fixed.items():
            if self.conditions and not self.active(name, out):
                continue
            if name in values and not _same(values[name], value):
                raise SpaceError(f"parameter '{name}' is fixed to {value!r}, got {values[name]!r}")
            out[name] = value
        unknown = values.keys() - self._known
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
        """Dotted paths back to the nesting of the definition (what the objective receives). A
        conditional Choice becomes the chosen option: its dict with its values, or the plain option."""
        if self.conditions:
            return self._build(self.definition, "", flat)
        return nest(flat)

    def _build(self, node: Mapping[str, Any], prefix: str, flat: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            path = prefix + key
            if isinstance(value, Choice) and value.conditional:
                if path not in flat:
                    continue
                branch = value.branches[value.index(flat[path])]
                out[key] = flat[path] if branch is None else self._build(branch, f"{path}[{flat[path]}].", flat)
            elif isinstance(value, Parameter):
                if path in flat:
                    out[key] = flat[path]
            elif isinstance(value, Mapping):
                out[key] = self._build(value, path + ".", flat)
            else:
                out[key] = value
        return out

    def flat(self, point: Any) -> dict[str, Any]:
        """A point in any form a user has one: flat (dotted paths, as strategies and storages keep it), or
        nested as the objective receives it and a result returns it (a conditional Choice's chosen option
        as its dict, e.g. {"opt": {"name": "sgd", "lr": 0.1}}). What a study returns is accepted back."""
        if not isinstance(point, Mapping):
            raise SpaceError(f"a point must be a dict of parameter values, got {type(point).__name__} {point!r:.100}")
        if not self.conditions:
            return flatten(point)
        out: dict[str, Any] = {}
        self._unbuild(self.definition, "", point, out)
        return out

    def _unbuild(self, node: Mapping[str, Any], prefix: str, values: Mapping[str, Any], out: dict[str, Any]) -> None:
        """The inverse of _build: nested values back to flat paths, a chosen option's dict to its label."""
        for key, value in values.items():
            definition = node.get(key) if isinstance(key, str) else None
            path = f"{prefix}{key}"
            if isinstance(definition, Choice) and definition.conditional and isinstance(value, Mapping):
                label = self._option_of(definition, path, value)
                out[path] = label
                branch = definition.branches[definition.index(label)]
                self._unbuild(branch or {}, f"{path}[{label}].", value, out)
            elif path in self._known or "[" in str(key):  # already a flat path
                out[path] = value
            elif isinstance(definition, Mapping) and isinstance(value, Mapping):
                self._unbuild(definition, path + ".", value, out)
            elif isinstance(value, Mapping):
                out.update(flatten(value, path + "."))
            else:
                out[path] = value

    @staticmethod
    def _option_of(choice: Choice, path: str, value: Mapping[str, Any]) -> Any:
        """The option of a conditional Choice whose dict `value` is: the one whose fixed values it has."""
        for label, branch in zip(choice.options, choice.branches):
            if branch is None or not set(value) <= set(branch):
                continue
            fixed = {k: v for k, v in branch.items() if _is_fixed(v) and not isinstance(v, Parameter)}
            if all(k in value and _same(value[k], v) for k, v in fixed.items()):
                return label
        raise SpaceError(f"parameter '{path}': {dict(value)!r:.200} is none of its options")

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

        def leaf(d: Mapping[str, Any], path: str) -> Any:
            kind = d.get("type")
            if kind == "fixed":
                return d["value"]
            if kind == "Float":
                return Float(d["low"], d["high"], log=d.get("log", False))
            if kind == "Int":
                return Int(d["low"], d["high"], log=d.get("log", False))
            if kind == "Bool":
                return Bool()
            if kind == "Choice":
                options = []
                for label in d["options"]:
                    branch = node(f"{path}[{label}].", [path, label])
                    options.append(branch if branch else label)
                return Choice(options)
            raise SpaceError(f"parameter '{path}': unknown stored type {kind!r}")

        def node(prefix: str, when: list[Any] | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for path, d in description.items():
                if d.get("when") != when or not path.startswith(prefix):
                    continue
                *parents, key = path[len(prefix) :].split(".")
                target = out
                for part in parents:
                    target = target.setdefault(part, {})
                target[key] = leaf(d, path)
            return out

        return cls(node("", None))

    def describe(self) -> dict[str, Any]:
        """A JSON-compatible description (stored with a study; compared on resume)."""
        out: dict[str, Any] = {}
        for path in self._order:
            described = (
                self.params[path].describe() if path in self.params else {"type": "fixed", "value": self.fixed[path]}
            )
            if path in self.conditions:
                described["when"] = list(self.conditions[path])
            out[path] = described
        return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted paths as nested dicts: {"a.b": 1} -> {"a": {"b": 1}}."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        node = nested
        *parents, leaf = str(path).split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested
