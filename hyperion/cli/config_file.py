"""A study's configuration written down: YAML (`pip install 'hyperion-tune[yaml]'`), TOML or JSON, read
into the one StudyConfig that tune() and Study build (hyperion_core.config). An error names the key, its
line in the file where the format tells it (YAML), and the fix.

    study_name: mnist
    metric: val_loss
    mode: min
    strategy: bayesian
    max_trials: 50
    space:
      lr: {float: [1.0e-4, 1.0e-1], log: true}
      layers: {int: [1, 4]}
      optimizer: {choice: [adam, sgd]}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hyperion_core.config import StudyConfig, space_of
from hyperion_core.errors import ConfigurationError

#: What a file may hold besides StudyConfig's own options: tune()'s way of writing the goal.
GOAL_KEYS = ("metric", "mode")


def read(path: str | Path) -> tuple[dict[str, Any], Any]:
    """The file's mapping, and a way to find a key's line (None where the format has none)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the config file {str(file)!r}: {exc.strerror or exc}") from None
    suffix = file.suffix.lower()
    lines: Any = None
    try:
        if suffix in (".yaml", ".yml"):
            data, lines = _yaml(text)
        elif suffix == ".toml":
            data = _toml().loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigurationError(f"{file}: a config file ends in .yaml, .yml, .toml or .json")
    except ConfigurationError:
        raise
    except Exception as exc:  # the parser's own message says where
        raise ConfigurationError(f"{file} is not valid {suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{file}: the file must hold a mapping of options (study_name, space, ...)")
    return data, lines


def load(path: str | Path, **overrides: Any) -> StudyConfig:
    """The StudyConfig a file describes (`overrides`, e.g. from command-line flags, win)."""
    data, lines = read(path)
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    return validate(data, lambda key: where(path, lines, key))


def validate(data: dict[str, Any], where: Any = None) -> StudyConfig:
    """A file's options as a StudyConfig; `where(path)` says where a key is (" (line 12)")."""
    options = dict(data)
    goal = {k: options.pop(k) for k in GOAL_KEYS if k in options}
    if goal:
        options["goal"] = goal
    try:
        if "space" in options:
            options["space"] = space_of(options["space"])
        return StudyConfig.model_validate(options)
    except Exception as exc:
        from pydantic import ValidationError

        if not isinstance(exc, (ValidationError, ConfigurationError)):
            raise
        key, message = _problem(exc)
        if key in ((), ("space",)) and message.startswith("parameter '"):  # point at the parameter's own line
            key = ("space", *message.split("'")[1].split("."))
        place = where(key) if where is not None and key else ""
        raise ConfigurationError(f"{key[0] if key else 'the file'}{place}: {message}") from None


def _problem(exc: Exception) -> tuple[tuple[Any, ...], str]:
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return (), str(exc)
    error = exc.errors()[0]
    key = tuple(error["loc"])
    if key and key[0] == "goal":
        key = ("metric",)
    cause = (error.get("ctx") or {}).get("error")
    if cause is not None:
        return key[:1], str(cause)
    if error["type"] == "extra_forbidden":
        return key, "not an option of a study; see the options of tune() in docs/api-guide.md"
    return key, f"{error['msg']} (got {error.get('input')!r:.100})"


def where(path: str | Path, lines: Any, key: tuple[Any, ...]) -> str:
    """Where a key is, for an error: " (study.yaml, line 12)", or " (in study.toml)" without lines."""
    line = lines(key) if lines is not None else None
    return f" ({path}, line {line})" if line else f" (in {path})"


def _yaml(text: str) -> tuple[Any, Any]:
    try:
        import yaml
    except ImportError:
        raise ConfigurationError("a YAML config file needs PyYAML: pip install 'hyperion-tune[yaml]'") from None
    data = yaml.safe_load(text)
    root = yaml.compose(text, Loader=yaml.SafeLoader)

    def line(key: tuple[Any, ...]) -> int | None:
        node, found = root, None
        for part in key:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
                if match is None:
                    break
                found, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                found = node.start_mark.line + 1
            else:
                break
        return found

    return data, line


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError:
        raise ConfigurationError("a TOML config file on Python 3.10 needs tomli: pip install tomli") from None
    return tomli
