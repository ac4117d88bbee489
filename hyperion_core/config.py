"""One validated configuration of a study: every option of tune() and of the ask-and-tell Study, checked
once, here (design.md, section 9). A config file for `hyperion run` is this model written down.

Each option is made a plain Python value by the house checks (numpy numbers become numbers, a wrong type
is refused with the fix) before pydantic types it; an error names the option. `StudyConfig.of(...)`
raises ConfigurationError; `model_validate` on a file's dict raises pydantic's ValidationError, whose
entries carry the key (the runner adds the line).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hyperion_core import checks
from hyperion_core.errors import ConfigurationError, HyperionError
from hyperion_core.goal import Goal
from hyperion_core.protocols import Policy, Reporter, Strategy
from hyperion_core.space import Space

#: The most trials run at once: beyond this a machine runs out of threads or processes long before.
MAX_CONCURRENT = 10_000
#: The longest study name (what the storages' name column holds).
MAX_NAME = 255
#: The shortest join_stale_after_s: a storage refreshes a joined run's heartbeat at least three times
#: within it, so a worker is taken for dead only after missing several beats.
MIN_JOIN_STALE_AFTER_S = 10.0
#: The strategy of a study that names none; under these early-stopping policies, STOPPING_STRATEGY,
#: which learns from the trials they stop (chosen on the ten LCBench tasks with benchmarks/lcbench.py
#: --fidelity: docs/benchmarks.md). moasha (several objectives) was not measured: random there.
DEFAULT_STRATEGY = "random"
STOPPING_POLICIES = ("asha", "hyperband", "median", "aggressive", "patient", "percentile")
STOPPING_STRATEGY = "bayesian"

Bound = tuple[Literal["<=", ">="], float]


class StudyConfig(BaseModel):
    """What a study is and how it runs. The options mean what the API guide says for tune(); `metric`
    and `mode` become one `goal`. Plugins are still named (or given as objects) here: `open_loop`
    resolves them."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True, validate_default=True)

    space: Space
    goal: Goal = Field(default_factory=lambda: Goal.of("score", "max"))
    study_name: str = "study"
    # plugins, by name (or as objects): the registry resolves and checks them, listing what is installed
    strategy: str | Strategy | Any = None  # None: DEFAULT_STRATEGY, or STOPPING_STRATEGY under a policy
    strategy_kwargs: dict[str, Any] | None = None
    max_trials: int | None = None
    max_concurrent: int = 1
    max_time_s: float | None = None
    executor: Any = "thread"
    executor_kwargs: dict[str, Any] | None = None
    resources_per_trial: dict[str, float] | None = None
    storage: Any = None
    early_stopping: str | Policy | Any = None
    early_stopping_kwargs: dict[str, Any] | None = None
    reporters: list[str | Reporter | Any] = Field(default_factory=list)
    seed: int | None = None
    grace_period_s: float = 5.0
    trial_timeout_s: float | None = None
    rank_killed_trials: bool = False
    join: bool = False
    join_stale_after_s: float = 60.0
    initial_points: list[dict[str, Any]] | None = None
    warm_start_from: Any = None  # (storage_url, study_name) or [{"params": ..., "value": ...}]: warm.py checks it
    constraints: dict[str, Bound] = Field(default_factory=dict)
    # callables on a point as the objective receives it, truthy where it is allowed: no strategy proposes
    # a point outside them (they end up on the space: space.constraints)
    parameter_constraints: tuple[Any, ...] = ()
    # the same trials on every run of a seeded study at max_concurrent > 1 (outcomes applied in trial order)
    reproducible: bool = False
    # where trials' checkpoints go: a directory or a URL (None: next to a SQLite file, else a temporary
    # directory); how many to keep: the last N per trial, and the last of the best K finished trials
    checkpoints: str | None = None
    keep_checkpoints: tuple[int, int] = (2, 1)
    # what a runner needs to start more workers of this study (`hyperion agent`): its file's options as
    # JSON (the objective's import path or command included); kept with the study
    runner: dict[str, Any] | None = None

    @classmethod
    def of(
        cls,
        *,
        metric: Any = "score",
        mode: Any = "max",
        show_progress: bool = False,
        show_summary: bool = False,
        **options: Any,
    ) -> StudyConfig:
        """The options as tune() and Study take them (metric and mode apart, show_progress/summary as
        flags for the two built-in reporters), validated; a bad one raises ConfigurationError."""
        options["goal"] = Goal.of(metric, mode)
        reporters = options.get("reporters")
        if not isinstance(reporters, (list, tuple, type(None))):
            raise ConfigurationError(f"reporters must be a list of reporter names or objects, got {reporters!r}")
        names: list[Any] = list(reporters or [])
        if show_progress and "progress" not in names:
            names.insert(0, "progress")
        if show_summary and "summary" not in names:
            names.append("summary")
        options["reporters"] = names
        options = {key: value for key, value in options.items() if value is not None}  # None: the default
        try:
            return cls.model_validate(options)
        except ValidationError as exc:
            raise _configuration_error(exc) from None

    # -- before pydantic types them: the house checks (numpy numbers, clear messages) ---------------------
    @field_validator("space", mode="before")
    @classmethod
    def _space(cls, value: Any) -> Space:
        return value if isinstance(value, Space) else Space(value)

    @field_validator("goal", mode="before")
    @classmethod
    def _goal(cls, value: Any) -> Goal:
        if isinstance(value, Mapping):  # a file: {"metric": ..., "mode": ...}
            return Goal.of(value.get("metric", "score"), value.get("mode", "max"))
        return Goal.of(value)

    @field_validator("study_name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"study_name must be a non-empty string, got {value!r}")
        if len(value) > MAX_NAME:
            raise ConfigurationError(f"study_name must be at most {MAX_NAME} characters, got {len(value)}")
        return value

    @field_validator("max_trials", mode="before")
    @classmethod
    def _max_trials(cls, value: Any) -> Any:
        return checks.whole_number("max_trials", value, 1, optional=True)

    @field_validator("max_concurrent", mode="before")
    @classmethod
    def _max_concurrent(cls, value: Any) -> Any:
        return checks.whole_number("max_concurrent", value, 1, MAX_CONCURRENT)

    @field_validator("max_time_s", "trial_timeout_s", mode="before")
    @classmethod
    def _optional_seconds(cls, value: Any, info: Any) -> Any:
        return checks.seconds(info.field_name, value)

    @field_validator("grace_period_s", "join_stale_after_s", mode="before")
    @classmethod
    def _seconds(cls, value: Any, info: Any) -> Any:
        return checks.seconds(info.field_name, value, optional=False)

    @field_validator("join_stale_after_s")
    @classmethod
    def _stale(cls, value: float) -> float:
        if value < MIN_JOIN_STALE_AFTER_S:
            raise ConfigurationError(
                f"join_stale_after_s={value:g} is too short: a live worker on a busy machine could miss "
                f"it and be taken for dead; use at least {MIN_JOIN_STALE_AFTER_S:g} s (a dead worker on the same "
                "host is noticed at once whatever this says)"
            )
        return value

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> Any:
        seed = checks.plain(value)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ConfigurationError(f"seed must be an integer (or None), got {value!r}")
        return seed

    @field_validator("strategy_kwargs", "early_stopping_kwargs", "executor_kwargs", mode="before")
    @classmethod
    def _kwargs(cls, value: Any, info: Any) -> Any:
        if value is not None and not isinstance(value, Mapping):
            raise ConfigurationError(f"{info.field_name} must be a dict, got {type(value).__name__}")
        return None if value is None else dict(value)

    @field_validator("resources_per_trial", mode="before")
    @classmethod
    def _resources(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping) or not value:
            raise ConfigurationError(
                f"resources_per_trial must be a dict such as {{'cpu': 2, 'gpu': 1}}, got {value!r}"
            )
        for key, amount in value.items():
            number = checks.finite(amount)
            if not isinstance(key, str) or number is None or not 0 <= number < (1e15 if key == "memory" else 1e6):
                raise ConfigurationError(
                    f"resources_per_trial: {key!r} must be a number >= 0 (e.g. {{'cpu': 2, 'gpu': 1}}), got {amount!r}"
                )
        return {key: checks.plain(amount) for key, amount in value.items()}

    @model_validator(mode="before")
    @classmethod
    def _default_strategy(cls, data: Any) -> Any:
        """No strategy named: `random`, or `bayesian` under an early-stopping policy, which learns from the
        trials it stops (ranked by how far they got; docs/early-stopping.md has the figures)."""
        if isinstance(data, Mapping) and data.get("strategy") is None:
            stopping = isinstance(data.get("early_stopping"), str) and data["early_stopping"] in STOPPING_POLICIES
            return {**data, "strategy": STOPPING_STRATEGY if stopping else DEFAULT_STRATEGY}
        return data

    @model_validator(mode="before")
    @classmethod
    def _parameter_constraints(cls, data: Any) -> Any:
        """parameter_constraints: a callable or a list of them; the space gets them (a copy of a Space
        object), and one point is drawn at once so that constraints that allow nothing, or raise, are
        said before any trial."""
        if not isinstance(data, Mapping) or data.get("parameter_constraints") in (None, (), []):
            return data
        given = data["parameter_constraints"]
        listed = list(given) if isinstance(given, (list, tuple)) else [given]
        for i, constraint in enumerate(listed):
            if not callable(constraint):
                raise ConfigurationError(
                    f"parameter_constraints[{i}] must be a function of the parameters returning True where a point "
                    f"is allowed (e.g. lambda p: p['layers'] * p['units'] <= 2048), got {constraint!r:.100}"
                )
        given_space = data.get("space")
        if not isinstance(given_space, (Space, Mapping)):
            return data  # the space's own check says what is wrong with it
        space = (given_space if isinstance(given_space, Space) else Space(given_space)).constrained(listed)
        space.sample(random.Random(0))  # SpaceError/ConfigurationError now, not at the first proposal
        return {**data, "space": space, "parameter_constraints": tuple(listed)}

    @field_validator("constraints", mode="before")
    @classmethod
    def _constraints(cls, value: Any) -> Any:
        """constraints={"memory_gb": ("<=", 8.0), "accuracy": (">=", 0.9)}, checked."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"constraints must be a dict such as {{'memory_gb': ('<=', 8.0)}}, got {value!r}")
        out = {}
        for name, rule in value.items():
            ok = isinstance(rule, (tuple, list)) and len(rule) == 2 and rule[0] in ("<=", ">=")
            if not ok or not isinstance(name, str) or checks.finite(rule[1]) is None:
                raise ConfigurationError(
                    f"constraints[{name!r}] must be ('<=', bound) or ('>=', bound) with a finite number, got {rule!r}"
                )
            out[name] = (rule[0], float(rule[1]))
        return out

    @field_validator("initial_points", mode="before")
    @classmethod
    def _points(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
            raise ConfigurationError(f"initial_points must be a list of dicts, got {type(value).__name__}")
        for i, point in enumerate(value):
            if not isinstance(point, Mapping):
                raise ConfigurationError(f"initial_points[{i}] must be a dict of parameter values, got {point!r:.100}")
        return [dict(point) for point in value]

    @field_validator("warm_start_from", mode="before")
    @classmethod
    def _warm(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
            return tuple(value)  # a file's [storage_url, study_name]
        return value

    @field_validator("rank_killed_trials", "join", "reproducible", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool:
        return bool(value)

    @field_validator("checkpoints", mode="before")
    @classmethod
    def _checkpoints(cls, value: Any) -> Any:
        if value is None:
            return None
        if hasattr(value, "__fspath__"):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(
                f"checkpoints must be a directory path or a URL such as 's3://bucket/prefix', got {value!r}"
            )
        return value

    @field_validator("keep_checkpoints", mode="before")
    @classmethod
    def _keep(cls, value: Any) -> tuple[int, int]:
        """An int N: the last N per trial (and the best trial's last); or {"last": N, "best": K}."""
        fix = "keep_checkpoints takes an int (the last N per trial) or {'last': N, 'best': K}"
        if isinstance(value, Mapping):
            unknown = set(value) - {"last", "best"}
            if unknown:
                raise ConfigurationError(f"{fix}; unknown key(s) {sorted(unknown)}")
            last, best = value.get("last", 2), value.get("best", 1)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            last, best = value
        else:
            last, best = value, 1
        last = checks.whole_number("keep_checkpoints: last", last, 1)
        best = checks.whole_number("keep_checkpoints: best", best, 0)
        return last, best

    @model_validator(mode="after")
    def _reproducible(self) -> StudyConfig:
        if self.reproducible and self.seed is None:
            raise ConfigurationError(
                "reproducible=True gives the same trials on every run of a seeded study: pass seed="
            )
        if self.reproducible and self.join:
            raise ConfigurationError(
                "reproducible=True orders one process's trials; with join=True the processes' timing decides: "
                "use one of the two"
            )
        return self

    @model_validator(mode="after")
    def _early_stopping(self) -> StudyConfig:
        kwargs = self.early_stopping_kwargs
        if self.early_stopping in (None, "none") and kwargs:
            raise ConfigurationError(
                "early_stopping_kwargs given without early_stopping; name a policy, e.g. early_stopping='median'"
            )
        return self

    # -- what a study keeps ---------------------------------------------------------------------------
    def kept(self) -> dict[str, Any]:
        """What the storage keeps with the study beyond space and goal: its constraints (a resume compares
        them) and its strategy's name (what `hyperion ask` uses unless told otherwise)."""
        kept: dict[str, Any] = {"constraints": {m: list(rule) for m, rule in sorted(self.constraints.items())}}
        if isinstance(self.strategy, str):
            kept["strategy"] = self.strategy
        if self.runner is not None:
            kept["runner"] = self.runner
        return kept


#: The keys that make a mapping in a config file a parameter (see `space_of`).
PARAMETER_KEYS = ("float", "int", "choice", "bool", "fixed")


def space_of(spec: Any, path: str = "") -> Any:
    """A space as a config file writes it (never applied to tune()'s own dicts, whose keys are free), made
    the objects tune() takes: `{float: [low, high]}` (with
    `log: true`), `{int: [low, high]}`, `{choice: [options]}` (dict options are branches of a conditional
    space), `{bool: true}`, `{fixed: value}` for a literal mapping; any other mapping nests, and any other
    value is fixed. Parameter objects (Float, Choice, ...) pass as they are."""
    from hyperion_core.params import Bool, Choice, Float, Int, Parameter

    if isinstance(spec, Parameter) or not isinstance(spec, Mapping):
        return spec
    kinds = [k for k in PARAMETER_KEYS if k in spec]
    if not kinds:
        return {key: space_of(value, f"{path}{key}.") for key, value in spec.items()}
    where = path.rstrip(".") or "space"
    extra = set(spec) - {kinds[0], "log", "prior", "confidence"}
    if len(kinds) > 1 or extra:
        raise ConfigurationError(
            f"parameter '{where}': write one of {', '.join(PARAMETER_KEYS)} (with log for float/int, prior and "
            f"confidence for any), got keys {sorted(spec)}; a mapping meant as a fixed value is written "
            "{fixed: {...}}"
        )
    kind, value = kinds[0], spec[kinds[0]]
    prior = {k: spec[k] for k in ("prior", "confidence") if k in spec}
    if kind == "fixed":
        return value
    if kind == "bool":
        return Bool(**prior)
    if kind == "choice":
        if not isinstance(value, (list, tuple)):
            raise ConfigurationError(f"parameter '{where}': choice takes a list of options, got {value!r:.100}")
        return Choice([space_of(option, f"{path}[{i}].") for i, option in enumerate(value)], **prior)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigurationError(f"parameter '{where}': {kind} takes [low, high], got {value!r:.100}")
    maker = Float if kind == "float" else Int
    try:
        return maker(value[0], value[1], log=bool(spec.get("log", False)), **prior)
    except HyperionError as exc:
        raise ConfigurationError(f"parameter '{where}': {exc}") from None


def _configuration_error(exc: ValidationError) -> HyperionError:
    """The first problem, as the house says it: a check's own message, else the option and pydantic's."""
    error = exc.errors()[0]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, HyperionError):
        return cause
    where = ".".join(str(part) for part in error["loc"]) or "options"
    if error["type"] == "extra_forbidden":
        return ConfigurationError(f"unknown option {where!r}; see the options of tune() in docs/api-guide.md")
    return ConfigurationError(f"{where}: {error['msg']} (got {error.get('input')!r})")
