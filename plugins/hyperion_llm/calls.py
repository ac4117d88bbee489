"""LLM calls off the study loop's thread, each bounded by a timeout and a few retries.

A call runs in a daemon thread; the waiting happens in another daemon thread, so the loop never
blocks. A call that outlives its timeout is abandoned (its thread ends when the provider answers or
the process exits) and counts as a failure.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from hyperion_llm.adapters import Reply


@dataclass
class CallResult:
    prompt: str
    purpose: Any  # what the strategy wanted this call for (kept with the result)
    reply: Reply | None = None
    error: str | None = None
    attempts: int = 0
    latency_s: float = 0.0
    # an error no retry mends (bad credentials, unknown model) before the model ever answered: the
    # configuration is wrong, and the study stops with a ConfigurationError instead of going random
    fatal: bool = False


@dataclass
class Usage:
    """What a strategy's LLM calls cost, for the line it leaves in the study's notes at the end."""

    calls: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    latency_s: float = 0.0
    fallbacks: int = 0  # proposals made without the model because a call failed or fell short

    def add(self, result: CallResult) -> None:
        self.calls += 1
        self.failed += 1 if result.error else 0
        self.latency_s += result.latency_s
        if result.reply is not None:
            self.tokens_in += result.reply.tokens_in or 0
            self.tokens_out += result.reply.tokens_out or 0
            self.cost += result.reply.cost or 0.0

    def line(self) -> str | None:
        if not self.calls:
            return None
        line = f"LLM: {self.calls} calls"
        if self.failed:
            line += f" ({self.failed} failed)"
        if self.tokens_in or self.tokens_out:
            line += f", {self.tokens_in:,} tokens in / {self.tokens_out:,} out"
        if self.cost:
            line += f", ${self.cost:.4f}"
        return line + f", {self.latency_s / self.calls:.2f}s per call; {self.fallbacks} proposals fell back"


#: Provider errors that mean the configuration is wrong (litellm's and OpenAI's class names); retrying
#: them only delays the message.
_CONFIGURATION_ERRORS = {"AuthenticationError", "NotFoundError", "PermissionDeniedError"}


def is_configuration_error(exc: BaseException) -> bool:
    return any(cls.__name__ in _CONFIGURATION_ERRORS for cls in type(exc).__mro__)


class Caller:
    def __init__(self, llm: Any, timeout: float, retries: int, wake: Any) -> None:
        self.llm, self.timeout, self.retries, self.wake = llm, timeout, retries, wake
        self._done: list[CallResult] = []
        self._lock = threading.Lock()
        self.busy = False
        self.answered = False

    def start(self, prompt: str, schema: dict[str, Any] | None, purpose: Any) -> None:
        self.busy = True
        threading.Thread(target=self._run, args=(prompt, schema, purpose), daemon=True, name="hyperion-llm").start()

    def take(self) -> CallResult | None:
        with self._lock:
            return self._done.pop(0) if self._done else None

    def _attempt(self, prompt: str, schema: dict[str, Any] | None, box: dict[str, Any]) -> None:
        try:
            box["reply"] = self.llm.complete(prompt, schema)
        except BaseException as exc:  # any provider error: retried, then a fallback
            box["error"] = f"{type(exc).__name__}: {exc}"
            box["fatal"] = is_configuration_error(exc)

    def _run(self, prompt: str, schema: dict[str, Any] | None, purpose: Any) -> None:
        result = CallResult(prompt, purpose)
        start = time.monotonic()
        for attempt in range(1, self.retries + 2):
            result.attempts = attempt
            box: dict[str, Any] = {}
            worker = threading.Thread(
                target=self._attempt, args=(prompt, schema, box), daemon=True, name="hyperion-llm-call"
            )
            worker.start()
            worker.join(self.timeout)
            if worker.is_alive():
                result.error = f"no reply within {self.timeout:g}s"
            elif "reply" in box:
                result.reply, result.error = box["reply"], None
                self.answered = True  # later failures are the provider's hiccups: fall back, go on
                break
            else:
                result.error = box.get("error", "the call ended without a reply")
                if box.get("fatal"):
                    result.fatal = not self.answered
                    break
            if attempt <= self.retries:
                time.sleep(min(2.0, 0.25 * attempt))  # a short back-off before the retry
        result.latency_s = time.monotonic() - start
        with self._lock:
            self._done.append(result)
            self.busy = False
        self.wake()
