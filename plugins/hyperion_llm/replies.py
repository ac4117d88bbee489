"""How the LLM strategies read a model's reply: JSON raw, fenced or in prose; each suggested point
checked against the space. Types are coerced only where unambiguous ("3" or 3.0 for an Int, "True"
for a Bool), out-of-range values and unknown options are rejected (never clipped), and missing
parameters are filled from the space with a note. Any reply ends in suggestions or a reason, never
an exception other than ValueError."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from hyperion_core.space import Space, flatten
from hyperion_llm.parameters import coerce

MAX_REPLY_CHARS = 4000  # what the event log keeps of a reply

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_json(text: str) -> Any:
    """The JSON in a reply: raw, fenced, or the first {...} / [...] in prose. ValueError if none."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if start != -1 and end > start:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, TypeError):
            continue
        except RecursionError:  # "[[[[...]]]]": a reply is data, never a crash
            raise ValueError("the reply's JSON is nested too deeply") from None
    raise ValueError("the reply holds no JSON")


def suggestion_items(data: Any) -> list[dict[str, Any]]:
    """The list of suggestions in any of the shapes models produce."""
    if isinstance(data, dict):
        for key in ("suggestions", "children", "configs", "configurations", "points"):
            if isinstance(data.get(key), list):
                return [item for item in data[key] if isinstance(item, dict)]
        return [data]
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    raise ValueError(f"the reply is JSON but not suggestions: {str(data)[:80]}")


def validate(raw: Any, space: Space, rng: random.Random) -> tuple[dict[str, Any] | None, list[str]]:
    """A suggested point checked against the space: (params or None, notes)."""
    if not isinstance(raw, dict):
        return None, [f"not an object: {str(raw)[:80]}"]
    flat = flatten(raw)
    params: dict[str, Any] = {}
    notes: list[str] = []
    if space.params and not any(name in flat for name in space.params):
        return None, ["no known parameter in the suggestion"]
    for name, param in space.params.items():
        if name not in flat:
            params[name] = param.sample(rng)
            notes.append(f"{name} missing: sampled {params[name]!r}")
            continue
        value, problem = coerce(param, flat[name])
        if problem:
            return None, [f"{name}: {problem}"]
        params[name] = value
    unknown = [k for k in flat if k not in space.params and k not in space.fixed]
    if unknown:
        notes.append(f"ignored unknown parameter(s) {', '.join(unknown)}")
    return params, notes


def key(params: dict[str, Any], space: Space) -> str:
    """Identity of a point, for duplicate checks (floats to 10 significant digits)."""
    values = [params.get(n) for n in space.names]  # an inactive parameter (conditional space) is None
    return json.dumps([f"{v:.10g}" if isinstance(v, float) else v for v in values])


def truncate(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"
