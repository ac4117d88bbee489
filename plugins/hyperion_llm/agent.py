"""`llm_agent`: an LLM reads the study so far and suggests the next points, with a rationale each.

One call fills several slots and runs off the loop's thread; `exploration_rate` of the proposals are
random samples instead. A failed, empty or unusable reply falls back to random sampling for the
proposals it should have filled, and says why.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from hyperion_core import checks
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.state import StudyState
from hyperion_llm import prompts, replies
from hyperion_llm.client import LLMClient, read_each


class LLMAgent(Strategy):
    """llm: a callable prompt -> str, a litellm model name, or an adapter (hyperion_llm.adapters.LiteLLM).
    max_history: trials shown to the model (half best, half most recent; default 20).
    exploration_rate: share of proposals sampled at random instead (default 0.3).
    timeout, retries: per call (defaults 60 s and 1 retry). max_calls: a budget of calls (default none).
    max_failures: after this many failed calls in a row the LLM is left alone for the rest of the
    study and proposals are random, with a note (default 3)."""

    def __init__(
        self,
        llm: Any = None,
        max_history: int = 20,
        exploration_rate: float = 0.3,
        timeout: float = 60.0,
        retries: int = 1,
        max_calls: int | None = None,
        max_failures: int = 3,
    ) -> None:
        self.client = LLMClient(llm, timeout, retries, max_history)
        self.exploration_rate = checks.fraction("llm_agent: exploration_rate", exploration_rate)
        self.max_calls = checks.whole_number("llm_agent: max_calls", max_calls, 0, optional=True)
        self.calls = 0
        self.max_failures = checks.whole_number("llm_agent: max_failures", max_failures, 1)
        self.failures_in_a_row = 0
        self.queue: deque[tuple[dict[str, Any], str, str]] = deque()  # usable suggestions not yet proposed
        self.fallbacks: deque[str] = deque()  # reasons for proposals owed by a call that failed
        self.coins: deque[float] = deque()  # exploration coins of slots still waiting for the LLM
        self.known: set[str] = set()
        self._indexed = 0

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.client.setup(study)

    @property
    def pending(self) -> bool:  # the loop waits for us instead of ending the study
        return self.client.busy

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        # Busy before collecting: a call that ends while we run is collected at its wake-up, not raced.
        was_busy = self.client.busy
        self._collect(study)
        out: list[Proposal] = []
        wanted = 0
        held: list[float] = []
        for _ in range(slots):
            # A slot's exploration coin is drawn once and kept until the slot is filled, so a seeded
            # sequential run draws the same numbers however often the loop asks while a call is out.
            coin = self.coins.popleft() if self.coins else self.rng.random()
            if coin < self.exploration_rate:
                out.append(self._random(f"exploration: random sample (exploration_rate={self.exploration_rate:g})"))
            elif self.queue:
                params, rationale, source = self.queue.popleft()
                self.known.add(replies.key(params, self.space))
                out.append(Proposal(params, rationale=rationale, source=source))
            elif self.fallbacks:
                self.client.usage.fallbacks += 1
                out.append(self._random(f"random sample (LLM fallback: {self.fallbacks.popleft()})"))
            else:
                wanted += 1
                held.append(coin)
        if wanted and not was_busy and (reason := self._no_call_reason()):
            out += [self._random(f"random sample ({reason})") for _ in range(wanted)]  # these slots are filled
            return out
        self.coins.extendleft(reversed(held))
        if wanted and not was_busy:
            remaining = (study.max_trials - len(study.trials) - len(out)) if study.max_trials else wanted
            if remaining > 0:
                self._ask(study, min(wanted, remaining))
        return out

    def close(self, study: StudyState) -> None:
        self.client.close(study)

    def _no_call_reason(self) -> str | None:
        if self.max_calls is not None and self.calls >= self.max_calls:
            return f"LLM budget of {self.max_calls} calls spent"
        if self.failures_in_a_row >= self.max_failures:
            return f"LLM left alone after {self.failures_in_a_row} failed calls in a row"
        return None

    def _random(self, rationale: str) -> Proposal:
        params = self.space.sample(self.rng)
        self.known.add(replies.key(params, self.space))
        return Proposal(params, rationale=rationale)

    def _ask(self, study: StudyState, count: int) -> None:
        self.calls += 1
        prompt = "\n".join(
            [
                f"Goal: {prompts.goal(study)}.",
                "Search space:",
                prompts.describe_space(self.space),
                prompts.history(study, self.client.max_history),
                f"Suggest {count} new configuration(s) likely to beat the best so far. Use the patterns in the "
                "history, explore regions it has not covered, and do not repeat a configuration listed above.",
                'Reply with JSON only: {"suggestions": [{"params": '
                + prompts.template(self.space)
                + ', "rationale": "<why, one sentence>"}]}',
            ]
        )
        self.client.ask(prompt, prompts.suggestions_schema(self.space), purpose=count)

    def _read(self, item: dict[str, Any]) -> tuple[dict[str, Any], str] | str:
        """One suggestion of a reply: (params, rationale) when usable, else the reason it is not."""
        raw = item.get("params", item)
        params, notes = replies.validate(raw, self.space, self.rng)
        if params is None:
            return "; ".join(notes)
        k = replies.key(params, self.space)
        if k in self.known:
            return f"duplicate of an earlier or running trial: {json.dumps(params)}"
        self.known.add(k)
        rationale = str(item.get("rationale") or "no rationale given").strip()
        if notes:
            rationale += f" [{'; '.join(notes)}]"
        return params, f"LLM: {rationale}"

    def _collect(self, study: StudyState) -> None:
        """Turn a finished call into queued suggestions (or owed fallbacks), and log it."""
        for trial in study.trials[self._indexed :]:
            self.known.add(replies.key(trial.params, self.space))
        self._indexed = len(study.trials)
        while (result := self.client.take()) is not None:
            wanted: int = result.purpose
            items, rejected = self.client.items(result)
            usable, unread = read_each(items, self._read)
            rejected += unread
            source = self.client.record(study, result, len(usable), rejected)
            self.failures_in_a_row = 0 if usable else self.failures_in_a_row + 1
            if self.failures_in_a_row == self.max_failures:
                study.note(
                    f"llm_agent: {self.max_failures} LLM calls in a row gave nothing usable (last: "
                    f"{result.error or (rejected[0] if rejected else 'no suggestions')}); the rest of the study is random"
                )
            self.queue.extend((params, rationale, source) for params, rationale in usable)
            if len(usable) < wanted:
                reason = result.error or (
                    f"{len(usable)} usable suggestion(s) of {wanted}" + (f" ({rejected[0]})" if rejected else "")
                )
                self.fallbacks.extend([reason] * (wanted - len(usable)))
