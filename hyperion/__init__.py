"""Hyperion: hyperparameter optimization with plugins. Start with `tune()`; see docs/api-guide.md."""

from importlib.metadata import PackageNotFoundError, version

from hyperion.command import Command
from hyperion_core.ask import AskedTrial, Study, StudyFinished
from hyperion_core.context import TrialContext
from hyperion_core.errors import (
    CheckpointError,
    ConfigurationError,
    DuplicatePluginError,
    HyperionError,
    HyperionWarning,
    ObjectiveError,
    SpaceError,
    StorageError,
    UnknownPluginError,
)
from hyperion_core.hookspecs import hookimpl
from hyperion_core.models import ObjectiveResult, TrialState
from hyperion_core.protocols import Kill, Pause, Policy, Proposal, Reporter, Strategy
from hyperion_core.result import StudyResult, load_study
from hyperion_core.space import Bool, Choice, Float, Int
from hyperion_core.tune import tune

try:
    __version__ = version("hyperion-tune")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "Command",
    "AskedTrial",
    "Bool",
    "CheckpointError",
    "Choice",
    "ConfigurationError",
    "DuplicatePluginError",
    "Float",
    "HyperionError",
    "HyperionWarning",
    "Int",
    "Kill",
    "ObjectiveError",
    "ObjectiveResult",
    "Pause",
    "Policy",
    "Proposal",
    "Reporter",
    "SpaceError",
    "StorageError",
    "Strategy",
    "Study",
    "StudyFinished",
    "StudyResult",
    "TrialContext",
    "TrialState",
    "UnknownPluginError",
    "hookimpl",
    "load_study",
    "tune",
    "__version__",
]
