"""What both LLM strategies share: the model adapter, bounded off-thread calls, reading a reply into
suggestion items, the record of every call in the study's event log, and the usage note at the end."""

from __future__ import annotations

from typing import Any

from hyperion_core import checks
from hyperion_core.errors import ConfigurationError
from hyperion_core.state import StudyState
from hyperion_llm import replies
from hyperion_llm.adapters import resolve
from hyperion_llm.calls import Caller, CallResult, Usage


class LLMClient:
    """llm: a callable prompt -> str, a litellm model name, or an adapter. timeout and retries: per
    call. max_history: trials shown to the model."""

    def __init__(self, llm: Any, timeout: float, retries: int, max_history: int) -> None:
        checks.seconds("LLM strategies: timeout", timeout, optional=False)
        checks.whole_number("LLM strategies: retries", retries, 0, 10)
        checks.whole_number("LLM strategies: max_history", max_history, 1)
        self.llm = resolve(llm)
        self.timeout, self.retries, self.max_history = timeout, retries, max_history
        self.usage = Usage()
        self.caller: Caller | None = None

    def setup(self, study: StudyState) -> None:
        self.caller = Caller(self.llm, self.timeout, self.retries, study.wake)

    @property
    def busy(self) -> bool:
        return self.caller is not None and self.caller.busy

    def ask(self, prompt: str, schema: dict[str, Any] | None, purpose: Any) -> None:
        assert self.caller is not None, "setup() first"
        self.caller.start(prompt, schema, purpose)

    def take(self) -> CallResult | None:
        return self.caller.take() if self.caller is not None else None

    @staticmethod
    def items(result: CallResult) -> tuple[list[dict[str, Any]], list[str]]:
        """The suggestion objects in a call's reply, or the reason there are none."""
        if result.reply is None:
            return [], []
        try:
            return replies.suggestion_items(replies.parse_json(result.reply.text)), []
        except ValueError as exc:
            return [], [str(exc)]

    def record(self, study: StudyState, result: CallResult, used: int, rejected: list[str]) -> str:
        """Put the call in the study's event log and return its source label ("llm_call N", for the
        proposals it made); a first call that failed for a configuration reason (no credentials, no such
        model) ends the study with a ConfigurationError instead of random search."""
        reply = result.reply
        self.usage.add(result)
        study.record(
            "llm_call",
            {
                "id": self.usage.calls,  # what the proposals' source "llm_call N" names
                "call": self.usage.calls,
                "model": getattr(self.llm, "name", type(self.llm).__name__),
                "purpose": str(result.purpose),
                "prompt": result.prompt,
                "reply": replies.truncate(reply.text) if reply else None,
                "error": result.error,
                "attempts": result.attempts,
                "latency_s": round(result.latency_s, 3),
                "tokens_in": reply.tokens_in if reply else None,
                "tokens_out": reply.tokens_out if reply else None,
                "cost": reply.cost if reply else None,
                "used": used,
                "rejected": rejected[:20],
            },
        )
        if result.fatal:
            raise ConfigurationError(
                f"the LLM {getattr(self.llm, 'name', type(self.llm).__name__)!r} cannot be used: {result.error}. "
                "Check the model name and the provider's credentials (e.g. OPENAI_API_KEY), or pass llm= a callable"
            )
        return f"llm_call {self.usage.calls}"

    def close(self, study: StudyState) -> None:
        if (line := self.usage.line()) is not None:
            study.note(line)


def read_each(items: list[dict[str, Any]], read: Any) -> tuple[list[Any], list[str]]:
    """Apply `read(item)` to each suggestion: what it returns is used, a str is a rejection reason, and
    any exception (a shape a model can produce that nobody foresaw) is a rejection, never a crash."""
    used: list[Any] = []
    rejected: list[str] = []
    for item in items:
        try:
            outcome = read(item)
        except Exception as exc:
            rejected.append(f"unreadable suggestion ({type(exc).__name__}: {str(exc)[:120]})")
            continue
        if isinstance(outcome, str):
            rejected.append(outcome)
        elif outcome is not None:
            used.append(outcome)
    return used, rejected
