"""Lineage search, the base of tree strategies (beam_search, llm_branching_agent and third-party ones):
depth 0 samples the space; each further depth grows children of the beam, the best `K` trials of the
tree so far (`width` children each). The default children are perturbations that shrink with depth;
a subclass overrides `_roots` and `_children` (returning None while it is still preparing them, e.g.
during an LLM call). With `prune=True`, a running trial that can no longer make its depth's top K is
stopped. Every proposal carries its parent, depth and rationale, so the lineage is on record."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from hyperion_core import checks
from hyperion_core.errors import ConfigurationError
from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Kill, Proposal, Strategy
from hyperion_core.state import StudyState


class TreeSearch(Strategy):
    """K: the beam, parents of the next depth (default 3). width: children per parent (default 2).
    max_depth: depths after the first (default 4). prune: stop hopeless running trials (default True).
    initial: trials at depth 0 (default K * width). scale: perturbation size at depth 1 as a share of
    each parameter's range, log-scaled ones in log space (default 0.2); it halves at every depth."""

    finite = True
    name = "tree search"  # subclasses name themselves (messages and notes say which strategy spoke)

    def __init__(
        self,
        K: int = 3,
        width: int = 2,
        max_depth: int = 4,
        prune: bool = True,
        initial: int | None = None,
        scale: float = 0.2,
    ) -> None:
        checks.whole_number(f"{self.name}: K", K, 1)
        checks.whole_number(f"{self.name}: width", width, 1)
        checks.whole_number(f"{self.name}: max_depth", max_depth, 0)
        checks.whole_number(f"{self.name}: initial", initial, 1, optional=True)
        if not (checks.is_number(scale) and 0 < scale <= 1):
            raise ConfigurationError(f"{self.name}: scale must be in (0, 1], got {scale!r}")
        self.K, self.width, self.max_depth, self.prune = K, width, max_depth, bool(prune)
        self.initial = initial if initial is not None else K * width
        self.scale = scale
        self.size = self.initial + max_depth * K * width  # the whole tree: tune() runs it to the end
        self.by_depth: dict[int, list[Trial]] = {}
        self.depth = 0
        self.queue: deque[Proposal] = deque()
        self.seen: set[str] = set()
        self.opened = False

    def observe(self, trial: Trial) -> None:
        self.by_depth.setdefault(trial.depth, []).append(trial)
        self.seen.add(repr(sorted(trial.params.items())))
        self.depth = max(self.depth, trial.depth)
        self.opened = True  # a resumed tree goes on from its deepest depth

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        if not self.opened:
            roots = self._roots(study)
            if roots is None:  # still being prepared (e.g. an LLM call)
                return []
            self.opened = True
            self.queue.extend(roots)
        if not self.queue and not any(t.depth == self.depth for t in study.running.values()):
            self._open_next_depth(study)
        out: list[Proposal] = []
        while self.queue and len(out) < slots:
            out.append(self.queue.popleft())
        return out

    def _roots(self, study: StudyState) -> list[Proposal] | None:
        """Depth 0: `initial` points sampled from the space (None: not ready yet)."""
        return [
            Proposal(self._fresh(self.space.sample(self.rng)), depth=0, rationale="depth 0: sampled")
            for _ in range(self.initial)
        ]

    def _open_next_depth(self, study: StudyState) -> None:
        if self.depth >= self.max_depth:
            self.exhausted = True
            return
        parents = study.top(self.K)  # the beam: the best K trials of the tree so far
        if not parents:
            study.note(f"{self.name}: no trial completed up to depth {self.depth}; the tree ends there")
            self.exhausted = True
            return
        children = self._children(study, parents, self.depth + 1)
        if children is None:  # still being prepared (e.g. an LLM call): asked again on the next wake-up
            return
        self.depth += 1
        self.queue.extend(children)

    def _children(self, study: StudyState, parents: list[Trial], depth: int) -> list[Proposal] | None:
        """`width` perturbed children per parent; perturbations halve with every depth."""
        spread = self.scale * 0.5 ** (depth - 1)
        out: list[Proposal] = []
        for rank, parent in enumerate(parents, 1):
            for child in range(1, self.width + 1):
                out.append(
                    Proposal(
                        self._fresh(self._perturb(parent.params, spread)),
                        parent_id=parent.trial_id,
                        depth=depth,
                        rationale=f"depth {depth}: child {child}/{self.width} of {parent.trial_id} "
                        f"(rank {rank} of the beam, {study.metric}={parent.value:.6g})",
                    )
                )
        return out

    def _ranked(self, study: StudyState, depth: int) -> list[Trial]:
        done = [t for t in self.by_depth.get(depth, []) if t.state is TrialState.COMPLETED and t.value is not None]
        return sorted(done, key=study.sort_key)

    def _perturb(self, params: dict[str, Any], spread: float) -> dict[str, Any]:
        """Each active parameter moved; a conditional Choice may switch option (its new parameters sampled)."""
        return self.space.perturb(params, spread, self.rng)

    def _fresh(self, params: dict[str, Any]) -> dict[str, Any]:
        """Avoid proposing a point the tree already has (a few tries, then accept it)."""
        for _ in range(10):
            key = repr(sorted(params.items()))
            if key not in self.seen:
                break
            params = self._perturb(params, 0.05)
        self.seen.add(repr(sorted(params.items())))
        return params

    def kills(self, study: StudyState) -> list[Kill]:
        if not self.prune:
            return []
        kills = []
        for trial in study.running.values():
            if trial.stop_requested or trial.last_step is None or trial.depth != self.depth:
                continue
            mine = study.metric_value(trial.number, trial.last_step)
            if mine is None or isinstance(mine, bool) or not isinstance(mine, (int, float)) or math.isnan(mine):
                continue
            better = 0
            for other in self._ranked(study, trial.depth):
                theirs = study.metric_value(other.number, trial.last_step)
                theirs = other.value if theirs is None else theirs
                if theirs is not None and study.better(theirs, mine):
                    better += 1
            if better >= self.K:
                kills.append(
                    Kill(
                        trial.number,
                        f"beam pruned: {better} finished trials of depth {trial.depth} beat its "
                        f"{study.metric}={mine:.6g} at step {trial.last_step} (K={self.K})",
                    )
                )
        return kills
