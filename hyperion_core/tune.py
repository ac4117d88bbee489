"""tune(): check the arguments, resolve plugins by name, resume or open the study, run the loop,
and build the result dict."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hyperion_core.errors import ConfigurationError
from hyperion_core.models import Event, Trial, TrialState
from hyperion_core.plugins import registry
from hyperion_core.protocols import Policy, Reporter, Strategy
from hyperion_core.space import Space
from hyperion_core.state import StudyState
from hyperion_core.study import StudyLoop

logger = logging.getLogger(__name__)

#: Trials run when neither max_trials nor max_time_s is given and the strategy does not end by itself.
DEFAULT_MAX_TRIALS = 100


def tune(
    objective: Callable[..., Any],
    space: Mapping[str, Any],
    strategy: str | Strategy = "random",
    strategy_kwargs: Mapping[str, Any] | None = None,
    max_trials: int | None = None,
    max_concurrent: int = 1,
    max_time_s: float | None = None,
    metric: str = "score",
    mode: str = "max",
    executor: str | Any = "thread",
    storage: str | Any | None = None,
    early_stopping: str | Policy | None = None,
    early_stopping_kwargs: Mapping[str, Any] | None = None,
    show_progress: bool = False,
    show_summary: bool = False,
    seed: int | None = None,
    study_name: str | None = None,
    reporters: Sequence[str | Reporter] | None = None,
    grace_period_s: float = 5.0,
    rank_killed_trials: bool = False,
    trial_timeout_s: float | None = None,
) -> dict[str, Any]:
    """Search `space` for the parameters that give `objective` its best `metric`.

    Returns {"best": {...} or None, "study": {...}, "trials": [...]}; see docs/api-guide.md.
    """
    started = time.time()
    _check_objective(objective)
    compiled = Space(space)
    _check_signature(objective, compiled)
    _check_options(max_trials, max_concurrent, max_time_s, metric, mode, grace_period_s, seed, trial_timeout_s)
    name = study_name or _default_name(objective)
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"study_name must be a non-empty string, got {study_name!r}")

    reg = registry()
    strategy_obj = _resolve(reg, "strategy", strategy, strategy_kwargs, "strategy_kwargs", Strategy)
    policies = []
    if early_stopping not in (None, "none"):
        policies.append(_resolve(reg, "policy", early_stopping, early_stopping_kwargs, "early_stopping_kwargs", Policy))
    elif early_stopping_kwargs:
        raise ConfigurationError(
            "early_stopping_kwargs given without early_stopping; name a policy, e.g. early_stopping='median'"
        )
    executor_obj = _resolve(reg, "executor", executor, None, "", object)
    if not isinstance(reporters, (list, tuple, type(None))):
        raise ConfigurationError(f"reporters must be a list of reporter names or objects, got {reporters!r}")
    reporter_names: list[str | Reporter] = list(reporters or [])
    if show_progress and "progress" not in reporter_names:
        reporter_names.insert(0, "progress")
    if show_summary and "summary" not in reporter_names:
        reporter_names.append("summary")
    reporter_objs = [_resolve(reg, "reporter", r, None, "", Reporter) for r in reporter_names]
    storage_obj, storage_url = _open_storage(reg, storage)

    try:
        record = storage_obj.open_study(name, compiled.describe(), metric, mode)
        _check_resume(record, compiled.describe(), metric, mode, storage_url)
        # A resumed seeded study continues with a fresh (still reproducible) stream, not the first one again.
        state = StudyState(name, compiled, metric, mode, _resume_seed(seed, len(record.trials)))
        state.storage_url = storage_url
        state.rank_killed = bool(rank_killed_trials)
        strategy_obj.setup(state)
        for policy in policies:
            policy.setup(state)
        reruns = _load(state, record.trials, strategy_obj)
        state.history.update({n: h for n, h in record.history.items() if n < len(state.trials)})
        if max_trials is None and max_time_s is None and not strategy_obj.finite:
            max_trials = DEFAULT_MAX_TRIALS
        state.max_trials = max_trials if max_trials is not None else getattr(strategy_obj, "size", None)
        loop = StudyLoop(
            objective=objective,
            state=state,
            strategy=strategy_obj,
            executor=executor_obj,
            storage=storage_obj,
            policies=policies,
            reporters=reporter_objs,
            max_trials=max_trials,
            max_concurrent=max_concurrent,
            max_time_s=max_time_s,
            grace_period_s=grace_period_s,
            trial_timeout_s=trial_timeout_s,
            reruns=reruns,
        )
        try:
            for reporter in reporter_objs:
                reporter.on_event(_study_event("study_started", state, storage_url), state)
            loop.run()
        finally:
            state.duration = time.time() - started
            for reporter in reporter_objs:
                reporter.close(state)
    finally:
        storage_obj.close()
    return _result(state, storage_url, strategy, time.time() - started)


# -- argument checks --------------------------------------------------------------------------------
def _check_objective(objective: Any) -> None:
    if not callable(objective):
        raise ConfigurationError(f"objective must be a function objective(ctx, **params), got {objective!r}")


def _check_signature(objective: Callable[..., Any], space: Space) -> None:
    """The objective must take ctx plus every top-level name of the space."""
    try:
        params = list(inspect.signature(objective).parameters.values())
    except (TypeError, ValueError):
        return
    if not params or params[0].kind not in (
        params[0].POSITIONAL_ONLY,
        params[0].POSITIONAL_OR_KEYWORD,
        params[0].VAR_POSITIONAL,
    ):
        raise ConfigurationError(
            "the objective's first argument must be the trial context: def objective(ctx, **params)"
        )
    rest = params[1:] if params[0].kind is not params[0].VAR_POSITIONAL else params
    if any(p.kind is p.VAR_KEYWORD for p in rest):
        return
    accepted = {p.name for p in rest if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    top = list(dict.fromkeys(path.split(".")[0] for path in space.describe()))
    missing = [key for key in top if key not in accepted]
    if missing:
        raise ConfigurationError(
            f"the objective {getattr(objective, '__name__', objective)!s} does not accept space parameter(s) "
            f"{', '.join(missing)}; add them to its signature or take **params"
        )
    unfilled = [p.name for p in rest if p.default is p.empty and p.name not in top and p.kind is not p.VAR_POSITIONAL]
    if unfilled:
        raise ConfigurationError(
            f"the objective needs argument(s) {', '.join(unfilled)} that the space does not define; "
            "add them to the space (a fixed value is fine) or give them defaults"
        )


def _check_options(
    max_trials: Any,
    max_concurrent: Any,
    max_time_s: Any,
    metric: Any,
    mode: Any,
    grace: Any,
    seed: Any,
    trial_timeout: Any = None,
) -> None:
    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if mode not in ("min", "max"):
        raise ConfigurationError(f"mode must be 'min' or 'max', got {mode!r}")
    if not whole(max_concurrent) or max_concurrent < 1:
        raise ConfigurationError(f"max_concurrent must be a whole number >= 1, got {max_concurrent!r}")
    if max_trials is not None and (not whole(max_trials) or max_trials < 1):
        raise ConfigurationError(f"max_trials must be a whole number >= 1 (or None), got {max_trials!r}")
    for label, value in (("max_time_s", max_time_s), ("grace_period_s", grace), ("trial_timeout_s", trial_timeout)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ConfigurationError(f"{label} must be a number of seconds > 0, got {value!r}")
    if not isinstance(metric, str) or not metric:
        raise ConfigurationError(f"metric must be a metric name such as 'score' or 'val_loss', got {metric!r}")
    if seed is not None and not whole(seed):
        raise ConfigurationError(f"seed must be an integer (or None), got {seed!r}")


def _default_name(objective: Callable[..., Any]) -> str:
    name = getattr(objective, "__name__", "") or ""
    return name if name and not name.startswith("<") else "study"


def _resolve(reg: Any, kind: str, spec: Any, kwargs: Mapping[str, Any] | None, kwargs_name: str, base: type) -> Any:
    """A registered name becomes an object through its factory; an object is taken as it is."""
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise ConfigurationError(f"{kwargs_name} must be a dict, got {type(kwargs).__name__}")
    if isinstance(spec, str):
        made = reg.create(kind, spec, **dict(kwargs or {}))
        _check_base(made, kind, base, f"{kind} '{spec}'")
        return made
    if spec is None or isinstance(spec, type):
        raise ConfigurationError(
            f"{kind} must be a registered name ({', '.join(reg.names(kind))}) or an instance, got {spec!r}"
        )
    if kwargs:
        raise ConfigurationError(
            f"{kwargs_name} only applies to a {kind} given by name; configure the instance instead"
        )
    _check_base(spec, kind, base, f"{kind} object {spec!r}")
    return spec


def _check_base(obj: Any, kind: str, base: type, what: str) -> None:
    """Strategies and policies are base classes the loop relies on (setup, exhausted, finite, ...)."""
    if base in (Strategy, Policy) and not isinstance(obj, base):
        raise ConfigurationError(f"{what} must be a hyperion.{base.__name__} subclass (see docs/plugins.md)")


def _open_storage(reg: Any, storage: Any) -> tuple[Any, str]:
    if storage is None or storage == "memory":
        return reg.create("storage", "memory", None), "memory"
    if isinstance(storage, str):
        if "://" not in storage:
            raise ConfigurationError(
                f"storage must be a URL such as 'sqlite:///experiments.db' (or None for memory), got {storage!r}"
            )
        scheme = storage.split("://", 1)[0].split("+", 1)[0].lower()
        return reg.create("storage", scheme, storage), storage
    if callable(getattr(storage, "open_study", None)):
        return storage, getattr(storage, "url", type(storage).__name__)
    raise ConfigurationError(f"storage must be a URL, None, or a storage object, got {storage!r}")


def _resume_seed(seed: int | None, loaded: int) -> int | None:
    return seed if seed is None or loaded == 0 else (seed * 1_000_003 + loaded) % 2**63


def _check_resume(record: Any, space: dict[str, Any], metric: str, mode: str, storage_url: str) -> None:
    """A resumed study must be the same search: same space, metric and direction."""
    problems = []
    for path in sorted(set(record.space) | set(space)):
        old, new = record.space.get(path), space.get(path)
        if old is None and new is not None:
            problems.append(f"'{path}' is new ({_describe(new)})")
        elif new is None and old is not None:
            problems.append(f"'{path}' was removed (was {_describe(old)})")
        elif old is not None and new is not None and old != new:
            problems.append(f"'{path}' changed from {_describe(old)} to {_describe(new)}")
    if record.metric != metric or record.mode != mode:
        problems.append(f"the goal changed from {record.mode} '{record.metric}' to {mode} '{metric}'")
    if problems:
        raise ConfigurationError(
            f"study '{record.name}' in {storage_url} was created with a different search: {'; '.join(problems)}. "
            "Use another study_name for the new search, or delete the old study "
            f"(hyperion studies delete {record.name} --storage {storage_url})"
        )


def _describe(description: dict[str, Any]) -> str:
    kind = description.get("type")
    if kind == "fixed":
        return f"fixed {description['value']!r}"
    if kind == "Choice":
        return f"Choice({description['options']!r})"
    if kind == "Bool":
        return "Bool()"
    log = ", log=True" if description.get("log") else ""
    return f"{kind}({description.get('low')!r}, {description.get('high')!r}{log})"


def _load(state: StudyState, trials: list[Trial], strategy: Strategy) -> list[Trial]:
    """Put a resumed study's trials into the state; returns those to run again."""
    reruns = []
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state.finished:
            state.add(trial)
            state.finish(trial)
            state.resumed += 1
            strategy.observe(trial)
        else:
            trial.state = TrialState.INTERRUPTED
            state.add(trial)
            reruns.append(trial)
    return reruns


def _study_event(kind: str, state: StudyState, storage_url: str) -> Event:
    return Event(kind, None, {"name": state.name, "storage": storage_url, "resumed": state.resumed})


def _result(state: StudyState, storage_url: str, strategy: Any, duration: float) -> dict[str, Any]:
    unflatten = state.space.unflatten
    best = state.best
    return {
        "best": None
        if best is None
        else {
            "trial_id": best.trial_id,
            "params": unflatten(best.params),
            "score": best.score if best.score is not None else best.value,
            "value": best.value,
            "metrics": best.metrics,
            "artifacts": best.artifacts,
        },
        "study": {
            "name": state.name,
            "storage": storage_url,
            "strategy": strategy if isinstance(strategy, str) else type(strategy).__name__,
            "metric": state.metric,
            "mode": state.mode,
            "trials": len(state.trials),
            "completed": state.counts["completed"],
            "failed": state.counts["failed"],
            "killed": state.counts["killed"],
            "interrupted": sum(1 for t in state.trials if t.state is TrialState.INTERRUPTED),
            "resumed": state.resumed,
            "duration_s": duration,
            "notes": list(state.notes),
        },
        "trials": [t.to_dict(unflatten(t.params)) for t in state.trials],
    }
