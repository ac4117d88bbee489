"""User text on a terminal: study names, parameter values and errors are data. rich's Text already keeps
markup inert; this Text also shows control characters (an ESC that would recolour the terminal, set its
title or move the cursor) as visible escapes. Every reporter and command that prints uses it."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.text import Text as _RichText

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def inert(text: str) -> str:
    """`text` with every control character but newline and tab written as an escape (ESC -> \\x1b)."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group(0)):02x}", text)


class Text(_RichText):
    """rich.text.Text whose text, however it is added, has its control characters made visible."""

    def __init__(self, text: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(inert(text), *args, **kwargs)

    def append(self, text: Any, style: Any = None) -> Text:
        super().append(inert(text) if isinstance(text, str) else text, style)
        return self


#: Off a terminal (a pipe, a file, a CI log) lines are as long as what they hold: a value, a name or an id
#: is printed whole, never cut with an ellipsis or folded to an assumed 80 columns.
UNBOUNDED = 10_000


def console(stderr: bool = False) -> Console:
    """A rich Console for what Hyperion prints: the terminal's width on a terminal, unbounded elsewhere."""
    made = Console(stderr=stderr)
    return made if made.is_terminal else Console(stderr=stderr, width=UNBOUNDED)
