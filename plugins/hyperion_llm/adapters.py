"""LLM adapters: a bare callable `llm(prompt) -> str`, or litellm (any provider) by model name.

litellm is imported only when a LiteLLM adapter is made (it takes seconds and ~200 MB).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hyperion_core.errors import ConfigurationError

SYSTEM_PROMPT = "You tune hyperparameters. Reply with raw JSON only, no prose and no code fences."
JSON_MODES = ("json_object", "schema", "json_schema", None)


@dataclass
class Reply:
    """What one call returned, and what it cost."""

    text: str
    latency_s: float
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None


class CallableLLM:
    """Wraps `llm(prompt: str) -> str`; token counts are unknown."""

    def __init__(self, fn: Callable[[str], Any]) -> None:
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def complete(self, prompt: str, schema: dict[str, Any] | None = None) -> Reply:
        start = time.monotonic()
        text = self.fn(prompt)
        if not isinstance(text, str):
            raise TypeError(f"the llm callable returned {type(text).__name__}, not str")
        return Reply(text, time.monotonic() - start)


class LiteLLM:
    """Any model litellm knows ("openai/gpt-4o-mini", "ollama/llama3.2:3b", "openai/x" + api_base, ...).

    json_mode: "json_object" (default: OpenAI-style JSON mode), "schema" (json_object with the space's
    JSON schema attached: llama.cpp's server and others that constrain output to it), "json_schema"
    (OpenAI structured outputs), or None (plain text; the reply is still parsed as JSON).
    """

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        temperature: float = 0.7,
        timeout: float = 60.0,
        json_mode: str | None = "json_object",
        **completion_kwargs: Any,
    ) -> None:
        if json_mode not in JSON_MODES:
            raise ConfigurationError(f"LiteLLM: json_mode must be one of {JSON_MODES}, got {json_mode!r}")
        # Use the price table bundled with litellm instead of fetching one at import (set it to
        # False yourself to let litellm fetch the newest).
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm
        except ImportError as exc:
            raise ConfigurationError(
                "the litellm adapter needs litellm: pip install 'hyperion-tune[llm]' (or pass llm= a callable)"
            ) from exc
        # litellm prints "Give Feedback / Get Help" banners on every error: keep them out of the terminal.
        litellm.suppress_debug_info = True
        self.litellm = litellm
        self.model, self.api_base, self.temperature, self.timeout = model, api_base, temperature, timeout
        self.json_mode = json_mode
        self.kwargs = completion_kwargs
        self.name = model

    def complete(self, prompt: str, schema: dict[str, Any] | None = None) -> Reply:
        kwargs: dict[str, Any] = dict(self.kwargs)
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.json_mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        elif self.json_mode == "schema" and schema:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        elif self.json_mode == "json_schema" and schema:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "suggestions", "schema": schema},
            }
        start = time.monotonic()
        response = self.litellm.completion(
            model=self.model,
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            temperature=self.temperature,
            timeout=self.timeout,
            **kwargs,
        )
        latency = time.monotonic() - start
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        cost = None
        try:
            cost = float(self.litellm.completion_cost(completion_response=response))
        except Exception:  # litellm does not know every model's price
            cost = None
        return Reply(
            text,
            latency,
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
            cost,
        )


def resolve(llm: Any) -> CallableLLM | LiteLLM | Any:
    """A model name becomes a LiteLLM adapter, a callable a CallableLLM; an adapter passes through."""
    if llm is None:
        raise ConfigurationError(
            "the LLM strategies need an LLM: strategy_kwargs={'llm': my_function} (prompt -> str) "
            "or a litellm model name such as 'openai/gpt-4o-mini'"
        )
    if isinstance(llm, str):
        return LiteLLM(llm)
    if callable(getattr(llm, "complete", None)):
        return llm
    if callable(llm):
        return CallableLLM(llm)
    raise ConfigurationError(f"llm must be a callable (prompt -> str), a model name, or an adapter, got {llm!r}")
