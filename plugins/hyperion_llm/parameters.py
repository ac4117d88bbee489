"""What a model is told of each parameter and what it may answer for it: the search-space line of a
prompt, the value's slot in the reply template, its JSON schema, and the coercion of a value a model
wrote (never clipped). The LLM plugin's own business: the kernel's parameters know nothing of prompts."""

from __future__ import annotations

import json
import math
from typing import Any

from hyperion_core.checks import plain
from hyperion_core.params import Bool, Choice, Float, Int, Parameter
from hyperion_core.text import plain_number


def prompt_line(p: Parameter) -> str:
    """What the parameter is, in words (the search-space part of a prompt)."""
    if isinstance(p, Bool):
        return "boolean (true or false)"
    if isinstance(p, Choice):
        return f"one of {json.dumps(p.options)}"
    if isinstance(p, Int):
        return f"integer from {p.low} to {p.high}{' (log scale)' if p.log else ''}"
    if isinstance(p, Float):
        scale = " (log scale: think in powers of ten)" if p.log else ""
        return f"number from {plain_number(p.low)} to {plain_number(p.high)}{scale}"
    raise TypeError(f"no prompt for a {type(p).__name__}")


def reply_slot(p: Parameter) -> str:
    """The value's slot in a reply template, e.g. "<integer from 1 to 8>"."""
    if isinstance(p, Bool):
        return "<true or false>"
    if isinstance(p, Choice):
        return "<one of " + " | ".join(json.dumps(o) for o in p.options) + ">"
    if isinstance(p, Int):
        return f"<integer from {p.low} to {p.high}>"
    if isinstance(p, Float):
        return f"<number from {plain_number(p.low)} to {plain_number(p.high)}>"
    raise TypeError(f"no reply slot for a {type(p).__name__}")


def json_schema(p: Parameter) -> dict[str, Any]:
    if isinstance(p, Bool):
        return {"type": "boolean"}
    if isinstance(p, Choice):
        return {"enum": list(p.options)}
    if isinstance(p, Int):
        return {"type": "integer", "minimum": p.low, "maximum": p.high}
    if isinstance(p, Float):
        return {"type": "number", "minimum": p.low, "maximum": p.high}
    raise TypeError(f"no JSON schema for a {type(p).__name__}")


def coerce(p: Parameter, value: Any) -> tuple[Any, str | None]:
    """A value a model wrote: (the parameter's value, None), or (None, why not). Never clips."""
    if isinstance(p, Choice):
        if p.contains(value):
            return p.options[p.index(value)], None
        text = str(value).strip().lower()
        for option in p.options:  # "32" for 32, "Adam" for "adam", "true" for True
            if str(option).lower() == text:
                return option, None
        return None, f"{value!r:.80} is not one of {p.options!r:.200}"
    if not isinstance(p, (Int, Float)):
        raise TypeError(f"cannot read a {type(p).__name__} from a reply")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None, f"{value!r:.80} is not a number"
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, f"{value!r:.80} is not a number"
    if isinstance(p, Int):
        if float(value) != int(value):
            return None, f"{value!r} is not a whole number"
        value = int(value)
    else:
        value = float(value)
    if not p.contains(value):
        return None, f"{value!r} is outside [{p.low}, {p.high}]"
    return value, None
