"""tune(): check the arguments, resolve plugins by name, resume or open the study, run the loop,
and build the result dict."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from hyperion_core import checks
from hyperion_core.errors import ConfigurationError
from hyperion_core.interrupt import interrupted
from hyperion_core.log import get_logger
from hyperion_core.plugins import registry
from hyperion_core.protocols import Policy, Reporter, SharedStorage, Strategy
from hyperion_core.result import StudyResult, result_of
from hyperion_core.space import Space
from hyperion_core.study import StudyLoop
from hyperion_core.text import redact_url
from hyperion_core.warm import initial_proposals, warm_trials

logger = get_logger(__name__)

#: The most trials run at once: beyond this a machine runs out of threads or processes long before.
MAX_CONCURRENT = 10_000
#: The longest study name (what the storages' name column holds).
MAX_NAME = 255
#: Trials run when neither max_trials nor max_time_s is given and the strategy does not end by itself.
DEFAULT_MAX_TRIALS = 100


#: The shortest join_stale_after_s: a storage refreshes a joined run's heartbeat at least three times
#: within it, so a worker is taken for dead only after missing several beats.
MIN_JOIN_STALE_AFTER_S = 10.0


def tune(
    objective: Callable[..., Any],
    space: Mapping[str, Any],
    strategy: str | Strategy = "random",
    strategy_kwargs: Mapping[str, Any] | None = None,
    max_trials: int | None = None,
    max_concurrent: int = 1,
    max_time_s: float | None = None,
    metric: str | Sequence[str] = "score",
    mode: str | Sequence[str] = "max",
    executor: str | Any = "thread",
    executor_kwargs: Mapping[str, Any] | None = None,
    resources_per_trial: Mapping[str, float] | None = None,
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
    join: bool = False,
    join_stale_after_s: float = 60.0,
    initial_points: Sequence[Mapping[str, Any]] | None = None,
    warm_start_from: tuple[str, str] | Sequence[Mapping[str, Any]] | None = None,
    constraints: Mapping[str, tuple[str, float]] | None = None,
) -> StudyResult:
    """Search `space` for the parameters that give `objective` its best `metric`.

    Returns {"best": {...} or None, "study": {...}, "trials": [...]}; see docs/api-guide.md.
    """
    _check_objective(objective)
    compiled = Space(space)
    _check_signature(objective, compiled)
    limits = _check_options(max_trials, max_concurrent, max_time_s, metric, mode, grace_period_s, seed, trial_timeout_s)
    max_trials, max_concurrent, max_time_s, grace_period_s, seed, trial_timeout_s = limits
    name = study_name or _default_name(objective)
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"study_name must be a non-empty string, got {study_name!r}")
    if len(name) > MAX_NAME:
        raise ConfigurationError(f"study_name must be at most {MAX_NAME} characters, got {len(name)}")

    metric, mode = goal(metric, mode)
    reg = registry()
    policies = _policies(reg, early_stopping, early_stopping_kwargs)
    _check_policies(policies, metric, early_stopping_kwargs)
    loop = open_loop(
        strategy_name=strategy if isinstance(strategy, str) else None,
        objective=objective,
        space=compiled,
        name=name,
        strategy=reg.strategy(strategy, strategy_kwargs),
        executor=reg.executor(executor, _executor_kwargs(executor_kwargs, resources_per_trial)),
        storage=storage,
        policies=policies,
        reporters=[reg.reporter(r) for r in _reporter_names(reporters, show_progress, show_summary)],
        constraints=_constraints(constraints),
        metric=metric,
        mode=mode,
        seed=seed,
        max_trials=max_trials,
        max_concurrent=max_concurrent,
        max_time_s=max_time_s,
        grace_period_s=grace_period_s,
        trial_timeout_s=trial_timeout_s,
        rank_killed=bool(rank_killed_trials),
        join=join,
        join_stale_after_s=join_stale_after_s,
        default_max_trials=DEFAULT_MAX_TRIALS,
        initial=initial_proposals(initial_points, compiled, seed),
        warm=warm_trials(warm_start_from, compiled, metric, reg),
    )
    try:
        state = loop.run()  # the loop owns the storage from here: it closes it, whatever happens
    except KeyboardInterrupt as exc:
        interrupted(loop.state, exc)
        raise
    return result_of(state, strategy)


def open_loop(
    *,
    space: Space,
    name: str,
    storage: Any,
    metric: str,
    mode: str,
    join: bool = False,
    join_stale_after_s: float = 60.0,
    strategy_name: str | None = None,
    **loop_options: Any,
) -> StudyLoop:
    """Open (or resume) the study in its storage and give it to a StudyLoop, the one owner of its state.
    tune() runs that loop; an ask-and-tell Study drives it call by call."""
    storage_obj = registry().storage(storage)
    storage_url = redact_url(getattr(storage_obj, "url", type(storage_obj).__name__))
    if join and not isinstance(storage_obj, SharedStorage):
        raise ConfigurationError(
            "join=True makes several processes work one study through a storage they share: "
            "pass storage='sqlite:///file.db' (one machine) or 'postgresql://...' (many)"
        )
    join_stale_after_s = checks.seconds("join_stale_after_s", join_stale_after_s, optional=False)
    if join_stale_after_s < MIN_JOIN_STALE_AFTER_S:
        raise ConfigurationError(
            f"join_stale_after_s={join_stale_after_s:g} is too short: a live worker on a busy machine could miss "
            f"it and be taken for dead; use at least {MIN_JOIN_STALE_AFTER_S:g} s (a dead worker on the same "
            "host is noticed at once whatever this says)"
        )
    constraints = loop_options.get("constraints") or {}
    config: dict[str, Any] = {"constraints": {m: list(rule) for m, rule in sorted(constraints.items())}}
    if strategy_name is not None:
        config["strategy"] = strategy_name  # what `hyperion ask` uses unless told otherwise
    options: dict[str, Any] = {}
    if "config" in inspect.signature(storage_obj.open_study).parameters:  # a storage that keeps it
        options["config"] = config
    try:
        if join:
            record = storage_obj.open_study(  # type: ignore[call-arg]
                name, space.describe(), metric, mode, join=True, stale_after_s=join_stale_after_s, **options
            )
        else:
            record = storage_obj.open_study(name, space.describe(), metric, mode, **options)
        _check_resume(record, space.describe(), metric, mode, storage_url, config)
        return StudyLoop(
            record=record, space=space, storage=storage_obj, storage_url=storage_url, join=join, **loop_options
        )
    except BaseException:
        storage_obj.close()
        raise


def _policies(reg: Any, early_stopping: Any, kwargs: Any) -> list[Policy]:
    if early_stopping in (None, "none"):
        if kwargs:
            raise ConfigurationError(
                "early_stopping_kwargs given without early_stopping; name a policy, e.g. early_stopping='median'"
            )
        return []
    return [reg.policy(early_stopping, kwargs)]


# -- argument checks --------------------------------------------------------------------------------
def _check_objective(objective: Any) -> None:
    if not callable(objective):
        raise ConfigurationError(f"objective must be a function objective(ctx, **params), got {objective!r}")


def _check_signature(objective: Callable[..., Any], space: Space) -> None:
    """The objective must take ctx first, then every top-level name of the space."""
    top = list(space.definition)
    try:
        params = list(inspect.signature(objective).parameters.values())
    except (TypeError, ValueError):
        if "ctx" in top:
            raise ConfigurationError(_CTX_KEY.format(name="ctx")) from None
        return
    name = getattr(objective, "__name__", None) or repr(objective)
    first = params[0] if params else None
    if first is None or first.kind not in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD, first.VAR_POSITIONAL):
        raise ConfigurationError(f"{name}()'s first argument must be the trial context: def {name}(ctx, **params)")
    if first.kind is not first.VAR_POSITIONAL and first.name in top:
        if first.name == "ctx":
            raise ConfigurationError(_CTX_KEY.format(name="ctx"))
        shown = ", ".join(p.name for p in params)
        raise ConfigurationError(
            f"{name}()'s first argument must be the trial context, but '{first.name}' is a space "
            f"parameter: write def {name}(ctx, {shown}) (Hyperion calls objective(ctx, **params))"
        )
    rest = params[1:] if first.kind is not first.VAR_POSITIONAL else params
    if any(p.kind is p.VAR_KEYWORD for p in rest):
        return
    accepted = {p.name for p in rest if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = [key for key in top if key not in accepted]
    if missing:
        raise ConfigurationError(
            f"{name}() does not accept space parameter(s) {', '.join(missing)}; "
            f"add them to its signature after ctx, or take **params"
        )
    unfilled = [p.name for p in rest if p.default is p.empty and p.name not in top and p.kind is not p.VAR_POSITIONAL]
    if unfilled:
        raise ConfigurationError(
            f"the objective needs argument(s) {', '.join(unfilled)} that the space does not define; "
            "add them to the space (a fixed value is fine) or give them defaults"
        )


_CTX_KEY = (
    "the space has a top-level key '{name}', the name the objective's trial context takes; "
    "rename that parameter (or nest it in a dict)"
)


class Limits(NamedTuple):
    """tune()'s and Study's number options, checked and made plain Python numbers."""

    max_trials: int | None
    max_concurrent: int
    max_time_s: float | None
    grace_period_s: float
    seed: int | None
    trial_timeout_s: float | None


def _check_options(
    max_trials: Any,
    max_concurrent: Any,
    max_time_s: Any,
    metric: Any,
    mode: Any,
    grace: Any,
    seed: Any,
    trial_timeout: Any = None,
) -> Limits:
    goal(metric, mode)
    given_seed, seed = seed, checks.plain(seed)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ConfigurationError(f"seed must be an integer (or None), got {given_seed!r}")
    return Limits(
        checks.whole_number("max_trials", max_trials, 1, optional=True),
        checks.whole_number("max_concurrent", max_concurrent, 1, MAX_CONCURRENT),
        checks.seconds("max_time_s", max_time_s),
        checks.seconds("grace_period_s", grace, optional=False),
        seed,
        checks.seconds("trial_timeout_s", trial_timeout),
    )


def _executor_kwargs(kwargs: Any, resources: Any) -> dict[str, Any] | None:
    """executor_kwargs, with resources_per_trial checked and passed to the executor's factory."""
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise ConfigurationError(f"executor_kwargs must be a dict, got {type(kwargs).__name__}")
    if resources is None:
        return dict(kwargs) if kwargs is not None else None
    if not isinstance(resources, Mapping) or not resources:
        raise ConfigurationError(
            f"resources_per_trial must be a dict such as {{'cpu': 2, 'gpu': 1}}, got {resources!r}"
        )
    for key, amount in resources.items():
        value = checks.finite(amount)
        if not isinstance(key, str) or value is None or not 0 <= value < (1e15 if key == "memory" else 1e6):
            raise ConfigurationError(
                f"resources_per_trial: {key!r} must be a number >= 0 (e.g. {{'cpu': 2, 'gpu': 1}}), got {amount!r}"
            )
    plain = {key: checks.plain(amount) for key, amount in resources.items()}
    return {**(kwargs or {}), "resources_per_trial": plain}


def goal(metric: Any, mode: Any) -> tuple[str, str]:
    """tune()'s metric and mode as stored: "val_loss" / "min", or for several objectives
    "accuracy,latency_ms" / "max,min" (a list of modes, or one for all)."""
    metrics = [metric] if isinstance(metric, str) else metric
    if not isinstance(metrics, (list, tuple)) or not metrics:
        raise ConfigurationError(
            f"metric must be a metric name such as 'score' or 'val_loss' (or a list), got {metric!r}"
        )
    for name in metrics:
        if not isinstance(name, str) or not name or "," in name:
            raise ConfigurationError(f"metric must be a metric name such as 'score' or 'val_loss', got {name!r}")
    if len(set(metrics)) != len(metrics):
        raise ConfigurationError(f"metric lists a metric twice: {metrics!r}")
    modes = [mode] * len(metrics) if isinstance(mode, str) else mode
    if not isinstance(modes, (list, tuple)) or len(modes) != len(metrics):
        raise ConfigurationError(f"mode must be 'min' or 'max', or a list of them as long as metric, got {mode!r}")
    for m in modes:
        if m not in ("min", "max"):
            raise ConfigurationError(f"mode must be 'min' or 'max', got {m!r}")
    return ",".join(metrics), ",".join(modes)


def _constraints(constraints: Any) -> dict[str, tuple[str, float]]:
    """constraints={"memory_gb": ("<=", 8.0), "accuracy": (">=", 0.9)}, checked."""
    if constraints is None:
        return {}
    if not isinstance(constraints, Mapping):
        raise ConfigurationError(
            f"constraints must be a dict such as {{'memory_gb': ('<=', 8.0)}}, got {constraints!r}"
        )
    out = {}
    for name, rule in constraints.items():
        ok = isinstance(rule, (tuple, list)) and len(rule) == 2 and rule[0] in ("<=", ">=")
        if not ok or not isinstance(name, str) or checks.finite(rule[1]) is None:
            raise ConfigurationError(
                f"constraints[{name!r}] must be ('<=', bound) or ('>=', bound) with a finite number, got {rule!r}"
            )
        out[name] = (rule[0], float(rule[1]))
    return out


def _check_policies(policies: list[Policy], metric: str, early_stopping_kwargs: Any) -> None:
    """With several objectives early stopping needs to be told which metric to watch."""
    if "," in metric and policies and not (early_stopping_kwargs or {}).get("metric"):
        raise ConfigurationError(
            "early stopping with several objectives needs the metric to watch: "
            "early_stopping_kwargs={'metric': 'val_loss', 'mode': 'min'} (one of the objectives or any reported metric)"
        )


def _reporter_names(reporters: Any, show_progress: bool, show_summary: bool) -> list[Any]:
    if not isinstance(reporters, (list, tuple, type(None))):
        raise ConfigurationError(f"reporters must be a list of reporter names or objects, got {reporters!r}")
    names: list[Any] = list(reporters or [])
    if show_progress and "progress" not in names:
        names.insert(0, "progress")
    if show_summary and "summary" not in names:
        names.append("summary")
    return names


def _default_name(objective: Callable[..., Any]) -> str:
    name = getattr(objective, "__name__", "") or ""
    return name if name and not name.startswith("<") else "study"


def _check_resume(
    record: Any, space: dict[str, Any], metric: str, mode: str, storage_url: str, config: dict[str, Any]
) -> None:
    """A resumed study must be the same search: same space, metric, direction and constraints (when the
    storage kept them)."""
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
    old_rules = (getattr(record, "config", None) or {}).get("constraints")
    if old_rules is not None and old_rules != config["constraints"]:
        problems.append(f"the constraints changed from {old_rules or 'none'} to {config['constraints'] or 'none'}")
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
