"""A study written down: YAML, TOML and JSON files read into the one StudyConfig, errors with the key and the
line, and `hyperion ask` creating a study from a file or a --space."""

from __future__ import annotations

import json

import pytest

from hyperion import ConfigurationError, load_study
from hyperion.cli import config_file
from hyperion_core.config import StudyConfig
from tests.cli import hyperion as _cli

YAML = """\
study_name: mnist
metric: val_loss
mode: min
strategy: bayesian
max_trials: 20
seed: 3
space:
  lr: {float: [1.0e-4, 1.0e-1], log: true}
  layers: {int: [1, 4]}
  optimizer:
    choice:
      - {name: adam, beta1: {float: [0.8, 0.99]}}
      - {name: sgd}
  use_bn: {bool: true}
  batch_size: 64
  model: {depth: {int: [1, 3]}}
constraints:
  memory_gb: ["<=", 8]
"""


def test_a_yaml_file_is_the_config_tune_would_build(tmp_path):
    from hyperion import Bool, Choice, Float, Int

    path = tmp_path / "study.yaml"
    path.write_text(YAML)
    config = config_file.load(path)
    python = StudyConfig.of(
        space={
            "lr": Float(1e-4, 1e-1, log=True),
            "layers": Int(1, 4),
            "optimizer": Choice([{"name": "adam", "beta1": Float(0.8, 0.99)}, {"name": "sgd"}]),
            "use_bn": Bool(),
            "batch_size": 64,
            "model": {"depth": Int(1, 3)},
        },
        study_name="mnist",
        metric="val_loss",
        mode="min",
        strategy="bayesian",
        max_trials=20,
        seed=3,
        constraints={"memory_gb": ("<=", 8)},
    )
    assert config.space.describe() == python.space.describe()
    assert config.model_dump(exclude={"space"}) == python.model_dump(exclude={"space"})
    assert config_file.load(path, max_trials=5, strategy=None).max_trials == 5  # a flag wins; None is no flag


def test_toml_and_json_files_say_the_same(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('metric = "loss"\nmode = "min"\n[space]\nx = { float = [0, 1] }\nopt = { choice = ["a", "b"] }\n')
    as_json = tmp_path / "s.json"
    as_json.write_text(
        json.dumps({"metric": "loss", "mode": "min", "space": {"x": {"float": [0, 1]}, "opt": {"choice": ["a", "b"]}}})
    )
    a, b = config_file.load(toml), config_file.load(as_json)
    assert a.space.describe() == b.space.describe() and a.goal == b.goal


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("space:\n  x: {float: [0, 1]}\nmax_trails: 5\n", "max_trails (FILE, line 3): not an option of a study"),
        (
            "space:\n  x: {float: [0, 1]}\nmax_trials: -3\n",
            "max_trials (FILE, line 3): max_trials must be a whole number",
        ),
        (
            "space:\n  x: {float: [0, 1]}\n  y: {float: [1, 0]}\n",
            "space (FILE, line 3): parameter 'y': Float needs low < high",
        ),
        (
            "space:\n  x: {float: [0, 1], lo: 2}\n",
            "space (FILE, line 2): parameter 'x': write one of float, int, choice, bool, fixed",
        ),
        ("space:\n  x: {choice: a}\n", "parameter 'x': choice takes a list of options"),
        (
            "metric: loss\nmode: minimise\nspace:\n  x: {float: [0, 1]}\n",
            "metric (FILE, line 1): mode must be 'min' or 'max'",
        ),
        ("space: [1, 2\n", "is not valid YAML"),
        ("- a\n- b\n", "the file must hold a mapping of options"),
    ],
)
def test_a_bad_file_names_the_key_the_line_and_the_fix(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        config_file.load(path)
    assert fragment.replace("FILE", str(path)) in str(info.value)


def test_the_shell_creates_a_study_from_a_file_or_a_space_and_then_reuses_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"  # no database yet: creating a study may create it
    (tmp_path / "study.yaml").write_text(YAML)
    first = _cli("ask", "--storage", url, "--study", "made", "--config", "study.yaml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    asked = json.loads(first.stdout)
    assert set(asked["params"]) == {"lr", "layers", "optimizer", "use_bn", "batch_size", "model"}
    told = _cli(
        "tell",
        "--storage",
        url,
        "--study",
        "made",
        "--trial",
        str(asked["trial"]),
        "--metrics",
        '{"val_loss": 0.4, "memory_gb": 2}',
        cwd=tmp_path,
    )
    assert told.returncode == 0, told.stderr
    again = json.loads(_cli("ask", "--storage", url, "--study", "made", cwd=tmp_path).stdout)  # stored now
    assert again["trial"] == 1
    study = load_study("made", storage=url)["study"]
    assert (study["strategy"], study["metric"], study["mode"], study["completed"]) == ("bayesian", "val_loss", "min", 1)

    space = '{"x": {"float": [0, 1]}, "n": {"int": [1, 3]}}'
    made = _cli(
        "ask",
        "--storage",
        url,
        "--study",
        "inline",
        "--space",
        space,
        "--metric",
        "loss",
        "--mode",
        "min",
        cwd=tmp_path,
    )
    assert made.returncode == 0 and set(json.loads(made.stdout)["params"]) == {"x", "n"}
    other = _cli("ask", "--storage", url, "--study", "inline", "--space", '{"x": {"float": [0, 2]}}', cwd=tmp_path)
    assert other.returncode == 1 and "different search" in other.stderr and "Traceback" not in other.stderr
    missing = _cli("ask", "--storage", url, "--study", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1 and "create it with `hyperion ask --config study.yaml`" in missing.stderr
