"""Every logger of Hyperion and its bundled plugins lives under "hyperion" (hyperion.core.study,
hyperion.storage.sql, ...), so `logging.getLogger("hyperion")` controls them all. The library adds only
a NullHandler: where log records go is the application's choice. What a user must see is a warning
(HyperionWarning) or a reporter's output, never a log line."""

from __future__ import annotations

import logging

ROOT = "hyperion"
logging.getLogger(ROOT).addHandler(logging.NullHandler())


def get_logger(module: str) -> logging.Logger:
    """The logger for a module: hyperion_core.study -> hyperion.core.study."""
    if module.startswith("hyperion_"):
        module = f"{ROOT}.{module[len('hyperion_') :]}"
    return logging.getLogger(module)
