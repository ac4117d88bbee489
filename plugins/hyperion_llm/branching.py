"""`llm_branching_agent`: beam search over a tree of trials where an LLM proposes the children.

The model sees the beam (the best `beam_width` trials) with each one's ancestry and proposes up to
`branch_factor` children per named parent, saying which parameters it varies and why. Children it
does not deliver (a failed call, garbage, out-of-range values) come from perturbing the parent, as
in `beam_search`, so the tree always grows.
"""

from __future__ import annotations

import json
from typing import Any

from hyperion_core.lineage import TreeSearch
from hyperion_core.models import Trial
from hyperion_core.protocols import Proposal
from hyperion_core.state import StudyState
from hyperion_llm import prompts, replies
from hyperion_llm.client import LLMClient, read_each


class LLMBranchingAgent(TreeSearch):
    """llm: a callable prompt -> str, a litellm model name, or an adapter. max_depth: depths after the
    roots (default 5). beam_width: parents per depth (default 3). branch_factor: children per parent
    (default 3). enable_pruning: stop running trials that cannot reach the beam (default True).
    initial: random roots (default beam_width * branch_factor). max_history, timeout, retries: as for llm_agent."""

    name = "llm_branching_agent"

    def __init__(
        self,
        llm: Any = None,
        max_depth: int = 5,
        beam_width: int = 3,
        branch_factor: int = 3,
        enable_pruning: bool = True,
        initial: int | None = None,
        max_history: int = 20,
        timeout: float = 60.0,
        retries: int = 1,
    ) -> None:
        super().__init__(K=beam_width, width=branch_factor, max_depth=max_depth, prune=enable_pruning, initial=initial)
        self.client = LLMClient(llm, timeout, retries, max_history)

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.client.setup(study)

    @property
    def pending(self) -> bool:
        return self.client.busy

    def _read(
        self, item: dict[str, Any], parents: list[Trial], by_parent: dict[str, list[Proposal]], depth: int
    ) -> str | None:
        """Add one child of a reply to `by_parent`; returns why it was rejected, or None."""
        parent = str(item.get("parent", ""))
        if parent not in by_parent:
            return f"parent {parent!r} is not in the beam"
        if len(by_parent[parent]) >= self.width:
            return f"more than {self.width} children for {parent}"
        base = {**next(p for p in parents if p.trial_id == parent).params}
        raw = item.get("params", {})
        params, notes = replies.validate(
            {**{k: base[k] for k in self.space.names}, **raw} if isinstance(raw, dict) else raw,
            self.space,
            self.rng,
        )
        if params is None:
            return "; ".join(notes)
        key = repr(sorted(params.items()))
        if key in self.seen:
            return f"duplicate: {json.dumps(params)}"
        self.seen.add(key)
        vary = item.get("vary")
        why = str(item.get("rationale") or "no rationale given").strip()
        varied = f"varies {', '.join(map(str, vary))}: " if isinstance(vary, list) and vary else ""
        by_parent[parent].append(
            Proposal(params, parent_id=parent, depth=depth, rationale=f"LLM, child of {parent}: {varied}{why}")
        )
        return None

    def close(self, study: StudyState) -> None:
        self.client.close(study)

    def _children(self, study: StudyState, parents: list[Trial], depth: int) -> list[Proposal] | None:
        was_busy = self.client.busy  # read before take(): a call ending now is not started twice
        result = self.client.take()
        if result is None or result.purpose != depth:
            if not was_busy and result is None:
                self.client.ask(self._prompt(study, parents), self._schema(), purpose=depth)
            return None
        by_parent: dict[str, list[Proposal]] = {p.trial_id: [] for p in parents}
        items, rejected = self.client.items(result)
        rejected += read_each(items, lambda item: self._read(item, parents, by_parent, depth))[1]
        used = sum(len(v) for v in by_parent.values())
        source = self.client.record(study, result, used, rejected)
        for proposal in (p for children in by_parent.values() for p in children):
            proposal.source = source
        reason = result.error or (rejected[0] if rejected else "the reply had fewer children than asked")
        spread = self.scale * 0.5 ** (depth - 1)
        out: list[Proposal] = []
        for parent in parents:
            children = by_parent[parent.trial_id]
            while len(children) < self.width:  # the tree always grows: perturb the parent instead
                self.client.usage.fallbacks += 1
                children.append(
                    Proposal(
                        self._fresh(self._perturb(parent.params, spread)),
                        parent_id=parent.trial_id,
                        depth=depth,
                        rationale=f"perturbed {parent.trial_id} (LLM fallback: {reason})",
                    )
                )
            out += children
        return out

    def _schema(self) -> dict[str, Any]:
        return prompts.suggestions_schema(
            self.space, {"parent": {"type": "string"}, "vary": {"type": "array", "items": {"type": "string"}}}
        )

    def _prompt(self, study: StudyState, parents: list[Trial]) -> str:
        lines = [
            f"Goal: {prompts.goal(study)}.",
            "Search space:",
            prompts.describe_space(self.space),
            "The search is a tree of trials. The beam (the best trials so far), each with its ancestry:",
        ]
        for parent in parents:
            lines.append(
                f"Parent {parent.trial_id} ({prompts.outcome(parent, study)}): "
                f"{prompts.compact(prompts.searched(parent, self.space))}"
            )
            chain, node = [], parent
            while (parent_of := study.trial_by_id(node.parent_id)) is not None:
                node = parent_of
                chain.append(
                    f"{node.trial_id} {prompts.compact(prompts.searched(node, self.space))} -> "
                    f"{prompts.outcome(node, study)}"
                )
            if chain:
                lines.append("  ancestry (nearest first): " + " | ".join(chain))
        lines.append(prompts.history(study, self.client.max_history))
        lines.append(
            f"For each parent, propose up to {self.width} children: change one or two of the parent's parameters in "
            "the direction its ancestry and the history suggest will improve the goal. Name the parent and the "
            "parameters you vary."
        )
        lines.append(
            'Reply with JSON only: {"suggestions": [{"parent": "<trial id>", "vary": ["<name>"], '
            '"params": {<every parameter>}, "rationale": "<why, one sentence>"}]}'
        )
        return "\n".join(lines)
