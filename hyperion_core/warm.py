"""Where a study's new trials come from: points to evaluate first (`initial_points`), finished trials of
another study for the strategy to learn from before its first proposal (`warm_start_from`), and
proposals made into trials (checked against the space)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from hyperion_core.checks import finite
from hyperion_core.errors import ConfigurationError, HyperionError, SpaceError
from hyperion_core.log import warn_user
from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.space import MAX_DRAWS, Space
from hyperion_core.state import StudyState
from hyperion_core.text import cap


def initial_proposals(points: list[dict[str, Any]] | None, space: Space, seed: int | None) -> list[Proposal]:
    """`initial_points` (a list of dicts: StudyConfig checked that) checked against the space: nested or
    dotted keys; a parameter a point leaves out is sampled (seeded); fixed values may be given if they
    match. A bad point is a ConfigurationError naming the point and the parameter."""
    if points is None:
        return []
    rng = random.Random(seed)
    out = []
    for i, point in enumerate(points):
        try:
            given = space.flat(point)
        except SpaceError as exc:
            raise ConfigurationError(f"initial_points[{i}]: {exc}") from None
        filled = _fill(space, given, rng)
        extra = {k: v for k, v in given.items() if k not in space.params}
        try:
            space.validate({**filled, **extra})
        except SpaceError as exc:
            raise ConfigurationError(f"initial_points[{i}]: {exc}") from None
        sampled = [name for name in space.params if name not in given]
        for attempt in range(MAX_DRAWS if sampled else 1):  # what was left out is drawn again until allowed
            if attempt:
                filled = _fill(space, given, rng)
            if space.allows(filled):
                break
        else:
            raise ConfigurationError(f"initial_points[{i}] breaks the parameter constraints: {point!r:.300}")
        note = f"; sampled {', '.join(sampled)}" if sampled else ""
        out.append(Proposal(filled, rationale=f"initial point {i}{note}"))
    return out


def _fill(space: Space, given: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A point's given values, and a random draw for each parameter it leaves out."""
    return {name: given[name] if name in given else param.sample(rng) for name, param in space.params.items()}


def warm_trials(source: Any, space: Space, metric: str, registry: Any) -> tuple[list[Trial], list[str]]:
    """Finished trials from another study, `(storage_url, study_name)`, or a list of dicts with
    `params` and `value` (or the metric in `metrics`), for the strategy to observe. A trial that does
    not fit this space (a value out of range, a parameter missing) is dropped; parameters the space no
    longer has are ignored; both are said in the returned notes."""
    if source is None:
        return [], []
    if isinstance(source, tuple) and len(source) == 2 and all(isinstance(s, str) for s in source):
        url, name = source
        storage = registry.storage(url, read_only=True)  # a mistyped path is an error, not a new file
        try:
            old = [t for t in storage.load_trials(name) if t.state.finished]
        finally:
            storage.close()
        rows = [{"params": t.params, "value": t.value, "metrics": t.metrics, "state": t.state} for t in old]
        where = f"study '{name}'"
    elif isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        rows = [dict(r) for r in source if isinstance(r, Mapping)]
        if len(rows) != len(source):
            raise ConfigurationError("warm_start_from: each trial must be a dict with 'params' and 'value'")
        where = "warm_start_from"
    else:
        raise ConfigurationError(
            "warm_start_from must be (storage_url, study_name) or a list of {'params': ..., 'value': ...}, "
            f"got {type(source).__name__}"
        )
    trials, dropped, ignored = [], 0, set()
    for row in rows:
        try:
            params = space.flat(row.get("params") or {})
        except SpaceError as exc:
            raise ConfigurationError(f"warm_start_from: a trial's params: {exc}") from None
        ignored |= {k for k in params if k not in space.params and k not in space.fixed}
        value = (row.get("metrics") or {}).get(metric, row.get("value")) if metric != "score" else row.get("value")
        state = row.get("state", TrialState.COMPLETED)
        try:
            point = space.validate({k: v for k, v in params.items() if k in space.params or k in space.fixed})
        except SpaceError:
            dropped += 1
            continue
        value = finite(value)
        if state is TrialState.COMPLETED and value is None:
            dropped += 1
            continue
        trial = Trial(number=-1, params=point, state=state, value=value)
        trials.append(trial)
    notes = [f"warm start: the strategy learned from {len(trials)} finished trial(s) of {where}"]
    if dropped:
        notes.append(
            f"warm start: {dropped} trial(s) of {where} did not fit this space (or had no value) and were left out"
        )
    if ignored:
        notes.append(f"warm start: parameter(s) {', '.join(sorted(ignored))} are not in this space and were ignored")
    if rows and not trials:  # asked for, and nothing came of it: not a thing to leave in the notes only
        warn_user(f"warm start: none of the {len(rows)} trial(s) of {where} fit this space or had a value")
    return trials, notes


def not_run_yet(initial: list[Proposal], trials: list[Trial]) -> list[Proposal]:
    """The initial points a resumed study has not run yet (each carries its index in its rationale)."""
    done = {t.rationale.split(";")[0] for t in trials if t.rationale and t.rationale.startswith("initial point")}
    return [p for p in initial if (p.rationale or "").split(";")[0] not in done]


#: How often a strategy is asked again for a point that keeps to the parameter constraints before a
#: random point that does is taken instead.
REASKS = 20


def allowed_proposals(state: StudyState, strategy: Strategy, slots: int) -> list[Proposal]:
    """The strategy's proposals for `slots` slots, each within the parameter constraints: a point outside
    them is never run; the strategy is asked again (REASKS times), then a random allowed point is taken.
    The bundled strategies keep to the constraints themselves; this is for those that do not."""
    proposals = strategy.propose(state, slots)[:slots]
    space = state.space
    if not space.constraints:
        return proposals
    out: list[Proposal] = []
    for proposal in proposals:
        for attempt in range(REASKS + 1):
            if space.allows(proposal.params):
                break
            again = strategy.propose(state, 1) if attempt < REASKS else []
            if not again:  # asked enough: a random point, allowed by construction
                rng = random.Random(f"{state.seed}/{len(state.trials)}/{len(out)}")
                rationale = "random: the strategy's points broke the parameter constraints"
                proposal = Proposal(space.sample(rng), rationale=rationale)
                break
            proposal = again[0]
        out.append(proposal)
    return out


def new_trials(state: StudyState, proposals: list[Proposal], strategy_name: str) -> list[Trial]:
    """Trials (numbered later) from proposals, each checked against the space; a point outside it is the
    strategy's bug, said with its name."""
    validate = state.space.validate
    out = []
    for proposal in proposals:
        try:
            params = validate(proposal.params)
        except SpaceError as exc:
            raise HyperionError(f"strategy {strategy_name} proposed a point outside the space: {exc}") from None
        depth = proposal.depth
        if depth is None:
            depth = 0
            if proposal.parent_id is not None:
                parent = state.trial_by_id(proposal.parent_id)
                depth = parent.depth + 1 if parent is not None else 1
        rationale = cap(proposal.rationale) if proposal.rationale else None
        out.append(
            Trial(
                -1,
                params,
                parent_id=proposal.parent_id,
                depth=depth,
                rationale=rationale,
                source=proposal.source,
                checkpoint_from=proposal.checkpoint_from,
            )
        )
    return out
