"""tune(): its options validated as one StudyConfig, the plugins resolved by name, the study opened or
resumed, the loop run, the result built."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hyperion_core.checkpoints import Keeper, default_store
from hyperion_core.config import StudyConfig
from hyperion_core.errors import ConfigurationError
from hyperion_core.goal import Goal
from hyperion_core.interrupt import interrupted
from hyperion_core.log import get_logger
from hyperion_core.models import StudyRecord
from hyperion_core.plugins import registry
from hyperion_core.protocols import Executor, Policy, Reporter, Strategy
from hyperion_core.result import StudyResult, result_of
from hyperion_core.session import open_session
from hyperion_core.space import Space
from hyperion_core.study import StudyLoop
from hyperion_core.text import redact_url
from hyperion_core.warm import initial_proposals, warm_trials

logger = get_logger(__name__)

#: Trials run when neither max_trials nor max_time_s is given and the strategy does not end by itself.
DEFAULT_MAX_TRIALS = 100


def tune(
    objective: Callable[..., Any],
    space: Mapping[str, Any],
    strategy: str | Strategy | None = None,
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
    parameter_constraints: Callable[[dict[str, Any]], Any] | Sequence[Callable[[dict[str, Any]], Any]] | None = None,
    reproducible: bool = False,
    checkpoints: str | None = None,
    keep_checkpoints: int | Mapping[str, int] | None = None,
) -> StudyResult:
    """Search `space` for the parameters that give `objective` its best `metric`.

    Returns {"best": {...} or None, "study": {...}, "trials": [...]}; see docs/api-guide.md.
    """
    options = dict(locals())
    del options["objective"]
    options["study_name"] = study_name if study_name is not None else _default_name(objective)
    return run_study(StudyConfig.of(**options), objective)


def run_study(config: StudyConfig, objective: Callable[..., Any]) -> StudyResult:
    """tune() of a validated configuration (what `hyperion run` and `hyperion agent` call)."""
    _check_objective(objective)
    _check_signature(objective, config.space)
    loop = open_loop(config, objective)
    try:
        state = loop.run()  # the loop owns the storage from here: it closes it, whatever happens
    except KeyboardInterrupt as exc:
        interrupted(loop.state, exc)
        raise
    return result_of(state, config.strategy)


def open_loop(config: StudyConfig, objective: Callable[..., Any], executor: Executor | None = None) -> StudyLoop:
    """Resolve the configuration's plugins by name, open (or resume) the study in its storage and give
    it to a StudyLoop, the one owner of its state. tune() runs that loop; an ask-and-tell Study (which
    passes its own executor) drives it call by call."""
    reg = registry()
    policies = (
        []
        if config.early_stopping in (None, "none")
        else [reg.policy(config.early_stopping, config.early_stopping_kwargs)]
    )
    strategy = reg.strategy(config.strategy, config.strategy_kwargs)
    if executor is None:
        kwargs = config.executor_kwargs
        if config.resources_per_trial is not None:
            kwargs = {**(kwargs or {}), "resources_per_trial": config.resources_per_trial}
        executor = reg.executor(config.executor, kwargs)
    reporters = [reg.reporter(r) for r in config.reporters]
    initial = initial_proposals(config.initial_points, config.space, config.seed)
    warm = warm_trials(config.warm_start_from, config.space, config.goal.metric, reg)
    storage = reg.storage(config.storage)
    storage_url = redact_url(getattr(storage, "url", type(storage).__name__))
    described, kept = config.space.describe(), config.kept()
    try:
        session = open_session(
            storage, config.study_name, described, config.goal, kept, config.join, config.join_stale_after_s
        )
        _check_resume(session.record, described, config.goal, storage_url, kept)
        return StudyLoop(
            objective=objective,
            session=session,
            space=config.space,
            seed=config.seed,
            strategy=strategy,
            executor=executor,
            storage_url=storage_url,
            policies=policies,
            reporters=reporters,
            max_trials=config.max_trials,
            max_concurrent=config.max_concurrent,
            max_time_s=config.max_time_s,
            grace_period_s=config.grace_period_s,
            trial_timeout_s=config.trial_timeout_s,
            rank_killed=config.rank_killed_trials,
            default_max_trials=DEFAULT_MAX_TRIALS,
            initial=initial,
            warm=warm,
            constraints=dict(config.constraints),
            ordered=config.reproducible,
            keeper=keeper_for(config, getattr(storage, "url", "")),
        )
    except BaseException:
        storage.close()
        raise


def keeper_for(config: StudyConfig, storage_url: str) -> Keeper:
    """Where the study's trials keep their checkpoints, and how many (tune's checkpoints= and
    keep_checkpoints=)."""
    if config.checkpoints is not None:
        url, temporary = config.checkpoints, False
    else:
        url, temporary = default_store(storage_url)
    return Keeper(url, temporary, config.study_name, *config.keep_checkpoints)


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


def _default_name(objective: Callable[..., Any]) -> str:
    name = getattr(objective, "__name__", "") or ""
    return name if name and not name.startswith("<") else "study"


def _check_resume(
    record: StudyRecord, space: dict[str, Any], goal: Goal, storage_url: str, config: dict[str, Any]
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
    if record.goal != goal:
        problems.append(f"the goal changed from {record.goal} to {goal}")
    old_rules = (record.config or {}).get("constraints")
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
