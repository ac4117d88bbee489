"""Every logger of Hyperion and its bundled plugins lives under "hyperion" (hyperion.core.study,
hyperion.storage.sql, ...), so `logging.getLogger("hyperion")` controls them all. The library adds only
a NullHandler: where log records go is the application's choice. What a user must see is a warning
(HyperionWarning) or a reporter's output, never a log line."""

from __future__ import annotations

import logging
import sys
import warnings

ROOT = "hyperion"
logging.getLogger(ROOT).addHandler(logging.NullHandler())


def get_logger(module: str) -> logging.Logger:
    """The logger for a module: hyperion_core.study -> hyperion.core.study."""
    if module.startswith("hyperion_"):
        module = f"{ROOT}.{module[len('hyperion_') :]}"
    return logging.getLogger(module)


#: Top-level packages whose frames a warning skips to reach the user's line (and the thread machinery a
#: call may come through).
_OURS = {"hyperion", "threading", "concurrent", "pluggy", "importlib"}


def warn_user(text: str, category: type[Warning] | None = None) -> None:
    """warnings.warn pointed at the user's own line (their tune() call), not at Hyperion's: the stack
    level is the first frame outside Hyperion's packages. Call it on the thread that runs the user's
    code (the loop's), so that there is such a frame."""
    from hyperion_core.errors import HyperionWarning

    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and _is_ours(frame.f_globals.get("__name__", "")):
        frame, level = frame.f_back, level + 1
    warnings.warn(text, category or HyperionWarning, stacklevel=level)


def _is_ours(module: str) -> bool:
    top = module.split(".", 1)[0]
    return top in _OURS or top.startswith("hyperion_")
