"""What the LLM strategies say to the model, and how they read its replies.

Replies are parsed from raw or fenced JSON. Each suggested point is checked against the space: types
are coerced only where unambiguous ("3" or 3.0 for an Int, "True" for a Bool), out-of-range values and
unknown options are rejected (never clipped), and missing parameters are filled from the space with
a note.
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any

from hyperion_core.models import Trial, TrialState
from hyperion_core.space import Bool, Choice, Float, Int, Space
from hyperion_core.state import StudyState
from hyperion_core.text import first_line

MAX_REPLY_CHARS = 4000  # what the event log keeps of a reply


def describe_space(space: Space) -> str:
    lines = []
    for name, p in space.params.items():
        if isinstance(p, Bool):
            lines.append(f"- {name}: boolean (true or false)")
        elif isinstance(p, Choice):
            lines.append(f"- {name}: one of {json.dumps(p.options)}")
        elif isinstance(p, Int):
            lines.append(f"- {name}: integer from {p.low} to {p.high}{' (log scale)' if p.log else ''}")
        elif isinstance(p, Float):
            scale = " (log scale: think in powers of ten)" if p.log else ""
            lines.append(f"- {name}: number from {_plain(p.low)} to {_plain(p.high)}{scale}")
    for name, value in space.fixed.items():
        lines.append(f"- {name}: fixed at {json.dumps(value)} (do not change)")
    return "\n".join(lines)


def _plain(x: float, digits: int = 12) -> str:
    """A number as a plain decimal (0.0000159, not 1.59e-05): small models misread exponents."""
    if x == 0 or not math.isfinite(x) or abs(x) >= 1e6:
        return f"{x:g}"
    x = float(f"{x:.{digits}g}")
    places = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def compact(params: dict[str, Any]) -> str:
    """A point as JSON with floats to 4 significant digits in plain decimals: short, and easy to read."""
    parts = [
        f"{json.dumps(name)}: {_plain(value, 4) if isinstance(value, float) else json.dumps(value)}"
        for name, value in params.items()
    ]
    return "{" + ", ".join(parts) + "}"


def goal(study: StudyState) -> str:
    better = "higher" if study.mode == "max" else "lower"
    return f"{'maximize' if study.mode == 'max' else 'minimize'} `{study.metric}` ({better} is better)"


def searched(trial: Trial, space: Space) -> dict[str, Any]:
    return {name: trial.params[name] for name in space.names if name in trial.params}


def outcome(trial: Trial, metric: str) -> str:
    if trial.state is TrialState.COMPLETED:
        return f"{metric}={_plain(trial.value, 4) if trial.value is not None else '-'}"
    if trial.state is TrialState.FAILED:
        return f"failed ({first_line(trial.error, 120)})"
    if trial.state is TrialState.KILLED:
        return f"stopped early ({(trial.kill_reason or '')[:120]})"
    return trial.state.value


def history(study: StudyState, limit: int) -> str:
    """The best trials and the most recent ones, up to `limit` in all."""
    space = study.space
    best = study.top(max(1, limit // 2))
    shown = {t.number for t in best}
    finished = [t for t in study.trials if t.state.finished and t.number not in shown]
    recent = finished[-(limit - len(best)) :] if limit > len(best) else []
    lines = []
    if best:
        lines.append("Best trials so far (best first):")
        lines += [f"  {t.trial_id}: {compact(searched(t, space))} -> {outcome(t, study.metric)}" for t in best]
    if recent:
        lines.append("Most recent other trials:")
        lines += [f"  {t.trial_id}: {compact(searched(t, space))} -> {outcome(t, study.metric)}" for t in recent]
    if not lines:
        lines.append("No trial has finished yet.")
    running = list(study.running.values())
    if running:
        lines.append("Running now (do not suggest these again):")
        lines += [f"  {compact(searched(t, space))}" for t in running]
    return "\n".join(lines)


def template(space: Space) -> str:
    """The params object of the reply with each value's allowed range in place: small models follow a
    filled-in template much better than a separate list of bounds."""
    parts = []
    for name, p in space.params.items():
        if isinstance(p, Bool):
            hint = "<true or false>"
        elif isinstance(p, Choice):
            hint = "<one of " + " | ".join(json.dumps(o) for o in p.options) + ">"
        elif isinstance(p, Int):
            hint = f"<integer from {p.low} to {p.high}>"
        else:
            hint = f"<number from {_plain(p.low)} to {_plain(p.high)}>"  # type: ignore[attr-defined]
        parts.append(f"{json.dumps(name)}: {hint}")
    return "{" + ", ".join(parts) + "}"


def point_schema(space: Space) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, p in space.params.items():
        if isinstance(p, Bool):
            props[name] = {"type": "boolean"}
        elif isinstance(p, Choice):
            props[name] = {"enum": p.options}
        elif isinstance(p, Int):
            props[name] = {"type": "integer", "minimum": p.low, "maximum": p.high}
        else:
            props[name] = {"type": "number", "minimum": p.low, "maximum": p.high}  # type: ignore[attr-defined]
    return {"type": "object", "properties": props, "required": list(props)}


def suggestions_schema(space: Space, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {"params": point_schema(space), "rationale": {"type": "string"}, **(extra or {})},
        "required": ["params", "rationale", *(extra or {})],
    }
    return {
        "type": "object",
        "properties": {"suggestions": {"type": "array", "items": item}},
        "required": ["suggestions"],
    }


# -- reading replies ------------------------------------------------------------------------------------
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


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _coerce(name: str, param: Any, value: Any) -> tuple[Any, str | None]:
    """(value, None) when usable, (None, reason) when not. Never clips."""
    if isinstance(param, Choice):
        if param.contains(value):
            return param.options[param.index(value)], None
        for option in param.options:  # "32" for 32, "Adam" for "adam", "true" for True
            if str(option).lower() == str(value).strip().lower():
                return option, None
        return None, f"{name}: {value!r} is not one of {param.options}"
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None, f"{name}: {value!r} is not a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, f"{name}: {value!r} is not a number"
    if isinstance(param, Int):
        if float(value) != int(value):
            return None, f"{name}: {value!r} is not a whole number"
        value = int(value)
    else:
        value = float(value)
    if not param.contains(value):
        return None, f"{name}: {value!r} is outside [{param.low}, {param.high}]"
    return value, None


def validate(raw: Any, space: Space, rng: random.Random) -> tuple[dict[str, Any] | None, list[str]]:
    """A suggested point checked against the space: (params or None, notes)."""
    if not isinstance(raw, dict):
        return None, [f"not an object: {str(raw)[:80]}"]
    flat = _flatten(raw)
    params: dict[str, Any] = {}
    notes: list[str] = []
    if space.params and not any(name in flat for name in space.params):
        return None, ["no known parameter in the suggestion"]
    for name, param in space.params.items():
        if name not in flat:
            params[name] = param.sample(rng)
            notes.append(f"{name} missing: sampled {params[name]!r}")
            continue
        value, problem = _coerce(name, param, flat[name])
        if problem:
            return None, [problem]
        params[name] = value
    unknown = [k for k in flat if k not in space.params and k not in space.fixed]
    if unknown:
        notes.append(f"ignored unknown parameter(s) {', '.join(unknown)}")
    return params, notes


def key(params: dict[str, Any], space: Space) -> str:
    """Identity of a point, for duplicate checks (floats to 10 significant digits)."""
    return json.dumps([f"{params[n]:.10g}" if isinstance(params[n], float) else params[n] for n in space.names])


def truncate(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"
