"""The one exception hierarchy: every error Hyperion raises on purpose is a HyperionError."""

from __future__ import annotations


class HyperionError(Exception):
    """Base of every error Hyperion raises on purpose."""


class SpaceError(HyperionError, ValueError):
    """A search space definition is invalid; the message names the parameter's dotted path."""


class ConfigurationError(HyperionError, ValueError):
    """An argument of tune() (or of a plugin) is invalid; the message says what to change."""


class UnknownPluginError(HyperionError, LookupError):
    """A name was not found in the plugin registry; the message lists the installed names."""


class DuplicatePluginError(HyperionError):
    """Two plugins registered the same name for the same kind."""


class StorageError(HyperionError):
    """A storage could not open, read or write a study."""


class HyperionWarning(UserWarning):
    """Something the user should know although the study ran: every trial failed, a metric fell back
    to the score, a plugin could not be loaded. Filter it like any warning."""


class ObjectiveError(HyperionError):
    """The objective cannot be run by the chosen executor (for example, it cannot be pickled)."""


class CheckpointError(HyperionError, OSError):
    """A checkpoint could not be saved or loaded (a full disk, an unreachable store): the trial's own
    error (catch it to train on without that checkpoint), never the study's."""
