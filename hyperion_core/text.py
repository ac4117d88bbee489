"""User text is data (design.md, section 8): cap it where it is stored, hide secrets in storage URLs,
and write standard JSON (no NaN or Infinity, which PostgreSQL's jsonb and most parsers refuse)."""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

#: The longest text kept from an objective or a model in one field (an error, a rationale, a reply).
MAX_TEXT = 20_000


def cap(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """The text, cut to `limit` characters with a note saying how much was cut."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… [cut: {len(text) - limit:,} more characters]"


def cap_values(data: dict[str, Any], limit: int = MAX_TEXT) -> dict[str, Any]:
    """The dict with each string value capped (a shallow pass: the values objectives report)."""
    if not any(isinstance(v, str) and len(v) > limit for v in data.values()):
        return data
    return {k: cap(v, limit) if isinstance(v, str) else v for k, v in data.items()}


def first_line(text: str | None, limit: int = 200) -> str:
    """The first line of an error or reason (empty when there is none), for tables and prompts."""
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


_SECRET_KEYS = ("password", "pass", "pwd", "secret", "token", "api_key", "apikey", "sslpassword")


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def redact_url(text: Any) -> str:
    """A URL, or any text with URLs in it (an error message, a warning), fit to show: each URL's password
    masked (`postgresql://user:***@host/db`), and secret query values (`?password=`, `token=`) too."""
    shown = str(text)
    if "://" not in shown:
        return shown
    return _URL.sub(lambda match: _redact_one(match.group(0)), shown)


def _redact_one(text: str) -> str:
    try:
        parts = urlsplit(text)
    except ValueError:
        return text.split("://", 1)[0] + "://***"
    netloc, changed = parts.netloc, False
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo, changed = userinfo.split(":", 1)[0] + ":***", True
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_KEYS for k, _ in pairs):
            changed = True
            query = "&".join(f"{quote(k)}={'***' if k.lower() in _SECRET_KEYS else quote(v)}" for k, v in pairs)
    if not changed:
        return text  # urlunsplit would turn sqlite:///a.db into sqlite:/a.db
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secrets_of(url: Any) -> list[str]:
    """The secret parts of a URL (its password, secret query values), to scrub from driver messages."""
    text = str(url)
    if "://" not in text:
        return []
    try:
        parts = urlsplit(text)
        out = [parts.password] if parts.password else []
        out += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_KEYS and v]
    except ValueError:
        return []
    from urllib.parse import unquote

    return [s for s in {*out, *(unquote(s) for s in out)} if len(s) >= 3]


def scrub(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return message


def plain_number(x: float, digits: int = 12) -> str:
    """A number as a plain decimal (0.0000159, not 1.59e-05): people and small models misread exponents."""
    if x == 0 or not math.isfinite(x) or abs(x) >= 1e6:
        return f"{x:g}"
    x = float(f"{x:.{digits}g}")
    places = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats replaced by None (standard JSON), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Standard JSON text: NaN and Infinity become null; other unknown objects their str()."""
    try:
        return json.dumps(value, default=str, allow_nan=False, **kwargs)
    except ValueError:  # a non-finite float somewhere: take the slow path only then
        return json.dumps(json_safe(value), default=str, allow_nan=False, **kwargs)
