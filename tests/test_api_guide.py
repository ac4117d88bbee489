"""Every example in the API guide (../shared/docs/api-guide.md and our copy in docs/) and in
docs/multi-objective.md runs as written.

Each Python block runs in a fresh namespace that defines the guide's placeholders (train_model,
create_model, ...) as small instant functions. A block that names a plugin this installation does not
have must fail with UnknownPluginError listing what is installed; once that plugin lands, the same
block runs for real with no change here.
"""

from __future__ import annotations

import re
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest

from hyperion import HyperionWarning, Proposal, Strategy, UnknownPluginError, hookimpl
from hyperion_core.plugins import registry

ROOT = Path(__file__).resolve().parents[1]
# The contract lives in ../shared/docs (beside the checkout, in CI too); docs/ holds our copy of it and
# every other page. A block of docs/ runs as copied: it imports what it uses from hyperion itself (only
# the placeholders of the user's own code, train_model and the like, come from the prelude) and gives no
# HyperionWarning. The shared contract's blocks run with hyperion's names given, as it shows them.
SHARED = ROOT.parent / "shared" / "docs" / "api-guide.md"
OURS = sorted((ROOT / "docs").glob("*.md"))


def _blocks(path: Path) -> list[str]:
    """The page's python blocks, dedented (a block inside a list item is indented in the Markdown)."""
    return [
        textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    ]


BLOCKS: list[tuple[str, str]] = list(
    dict.fromkeys(
        [(f"docs/{p.name}", code) for p in OURS for code in _blocks(p)]
        + ([("shared", code) for code in _blocks(SHARED)] if SHARED.exists() else [])
    )
)

HYPERION_NAMES = "from hyperion import tune, Float, Int, Choice, Bool, ObjectiveResult\n"
PRELUDE = """
import math, random as _random
from hyperion import ObjectiveResult as _Result, Float as _Float, Int as _Int, Choice as _Choice

def train_model(lr=0.01, opt="adam", **_):
    return 1 - abs(math.log10(lr) + 2) / 4 - (0.1 if opt == "sgd" else 0)

def create_model(**params):
    return dict(params)

def build_model(**params):
    return dict(params)

def create_optimizer(name, lr):
    return (name, lr)

def train_and_evaluate(model):
    return _random.random()

train_one_epoch = train_epoch = lambda *a, **k: _random.random()
validate = lambda model: _random.random()
train = lambda ctx, **params: _random.random()  # an objective of the reader's own
validation_loss = 0.5
validation_score, acc, f1, latency = 0.8, 0.9, 0.85, 12.0

def run_system(**config):
    return {"throughput": sum(v for v in config.values() if isinstance(v, (int, float))),
            "latency": 1.0, "error_rate": 0.0, "cpu_usage": 0.5}

value1, value2 = 1, 2
ollama_llm = lambda prompt: "{}"  # the guide defines it in the block before the one that uses it

def objective(ctx, **params):
    metrics = {"accuracy": _random.random(), "loss": _random.random(), "f1_score": _random.random(),
               "val_loss": _random.random()}
    for step in range(3):
        ctx.report(step=step, **metrics)
    return _Result(score=_random.random(), metrics=metrics)

space = {"learning_rate": _Float(0.0001, 0.1, log=True), "optimizer": _Choice(["adam", "sgd"]), "layers": _Int(1, 4)}
"""


class _Custom(Strategy):
    def __init__(self, param1, param2):
        self.param1, self.param2 = param1, param2

    def propose(self, study, slots):
        return [Proposal(study.space.sample(self.rng)) for _ in range(slots)]


class _CustomPlugin:
    @hookimpl
    def register_strategies(self, register):
        register("custom_strategy", _Custom)


@pytest.fixture
def fake_ollama(monkeypatch):
    module = types.ModuleType("ollama")
    module.chat = lambda **kwargs: {"message": {"content": "{}"}}
    monkeypatch.setitem(sys.modules, "ollama", module)


def _missing_plugins(code: str) -> list[str]:
    reg = registry()
    wanted = [("strategy", n) for n in re.findall(r'strategy="(\w+)"', code)]
    wanted += [("policy", n) for n in re.findall(r'early_stopping="(\w+)"', code)]
    wanted += [("storage", n) for n in re.findall(r'storage="(\w+)://', code)]
    return [f"{kind} {name}" for kind, name in wanted if name not in reg.names(kind)]


def test_the_guide_has_examples():
    assert sum(where == "docs/api-guide.md" for where, _ in BLOCKS) >= 25


def _suite_marks(code: str) -> list[pytest.MarkDecorator]:
    """A block that needs an extra or a service belongs to that suite (`pytest -m ray`, ...)."""
    if re.search(r"executor\s*=\s*[\"']ray", code):
        return [pytest.mark.ray_cluster] if '"address": "auto"' in code else [pytest.mark.ray]
    marks = []
    if "postgresql://" in code:
        marks.append(pytest.mark.postgres)
    if re.search(r"import (lightgbm|xgboost|keras)|mlflow|wandb|sklearn", code, flags=re.I):
        marks.append(pytest.mark.integrations)
    if "hyperion.plot" in code or "hyperion.dashboard" in code:
        marks.append(pytest.mark.dashboard)
    if re.search(r"LiteLLM\(|[\"']llm[\"']: [\"']", code):  # a litellm model name or adapter
        marks.append(pytest.mark.llm)
    return marks


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(i, marks=_suite_marks(code), id=f"{where.replace('/', '-')}-{i}")
        for i, (where, code) in enumerate(BLOCKS)
    ],
)
def test_api_guide_example_runs_as_written(index, tmp_path, monkeypatch, fake_ollama, register_plugin, capsys, request):
    monkeypatch.chdir(tmp_path)  # examples that write databases write them here
    register_plugin(_CustomPlugin(), name="custom-strategy-plugin")
    where, code = BLOCKS[index]
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "plugin-example"))  # plugins.md's hyperion_halton
    if "resources_per_trial" in code and '"gpu"' in code:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")  # the devices a GPU machine would list
    if "postgresql://" in code:
        code = re.sub(r"postgresql://[^\"']+", request.getfixturevalue("postgres_url"), code)
    namespace: dict = {"__name__": f"api_guide_block_{index}"}
    exec(compile((HYPERION_NAMES if where == "shared" else "") + PRELUDE, "<prelude>", "exec"), namespace)
    missing = _missing_plugins(code)
    if missing and re.search(r"^(\w+ = )?tune\(", code, flags=re.M):  # a tune() the block runs, not one it defines
        with pytest.raises(UnknownPluginError, match="installed"):
            exec(compile(code, f"{where} block {index}", "exec"), namespace)
        return
    with warnings.catch_warnings():
        if where != "shared":  # an example that warns when copied is a bad example
            warnings.simplefilter("error", HyperionWarning)
        exec(compile(code, f"{where} block {index}", "exec"), namespace)
    result = namespace.get("result")
    if result is not None and "tune(" in code:
        assert result["study"]["trials"] > 0
        assert result["study"]["failed"] == 0, [t["error"] for t in result["trials"] if t["error"]][:1]
        assert result["best"] is not None or result.get("pareto_front")  # several objectives: a front
