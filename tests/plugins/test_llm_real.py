"""Opt-in: llm_agent driven by a real local model (SmolLM2-135M through llama.cpp's server) via the
litellm adapter. Set up with `bash scripts/setup-local-llm.sh`, then run

    HYPERION_LLM_MODEL_PATH=$(cat .local-llm-path) .venv/bin/python -m pytest -m llm_real

HYPERION_LLM_PYTHON names the Python that has llama_cpp installed (default: this one).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hyperion import Choice, Float, Int, tune
from hyperion_storage.memory import MemoryStorage

pytestmark = pytest.mark.llm_real
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from functions import synth_ml  # noqa: E402


@pytest.fixture(scope="module")
def llama_server():
    model = os.environ.get("HYPERION_LLM_MODEL_PATH")
    if not model or not os.path.exists(model):
        pytest.fail("set HYPERION_LLM_MODEL_PATH to a .gguf model: run bash scripts/setup-local-llm.sh first")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    python = os.environ.get("HYPERION_LLM_PYTHON", sys.executable)
    server = subprocess.Popen(
        [
            python,
            "-m",
            "llama_cpp.server",
            "--model",
            model,
            "--n_threads",
            "1",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {server.returncode}")
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("llama_cpp.server did not answer within 180 s")
    yield url
    server.terminate()
    server.wait(timeout=30)


def synth(ctx, optimizer, lr, layers, dropout):
    return synth_ml(optimizer, lr, layers, dropout)


def test_llm_agent_with_a_real_local_model(llama_server):
    from hyperion_llm.adapters import LiteLLM

    adapter = LiteLLM(
        "openai/smollm2", api_base=llama_server, api_key="local", json_mode="schema", timeout=120, temperature=0.3
    )
    storage = MemoryStorage()
    space = {
        "optimizer": Choice(["sgd", "adam", "rmsprop"]),
        "lr": Float(1e-5, 1, log=True),
        "layers": Int(1, 8),
        "dropout": Float(0, 0.5),
    }
    result = tune(
        synth,
        space,
        strategy="llm_agent",
        storage=storage,
        max_trials=6,
        mode="min",
        seed=0,
        strategy_kwargs={"llm": adapter, "exploration_rate": 0.0, "timeout": 120, "retries": 0},
    )
    calls = [e for e in storage.load_events("synth") if e["kind"] == "llm_call"]
    assert calls and all(c["error"] is None for c in calls), [c["error"] for c in calls]  # every call returned
    assert any(t["rationale"].startswith("LLM:") for t in result["trials"])  # used without fallback
    assert result["study"]["failed"] == 0
