"""Random search: independent uniform (or log-uniform) samples of every parameter."""

from __future__ import annotations

from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.state import StudyState


class RandomSearch(Strategy):
    """Samples each point independently; reproducible with tune(seed=...)."""

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        sample, rng = self.space.sample, self.rng
        return [Proposal(sample(rng)) for _ in range(slots)]
