"""The LiteLLM adapter: litellm's mock path, its errors and time-outs, its real HTTP path against a local
OpenAI-compatible stub server, credentials, banners. Needs the `llm` extra (`pytest -m llm`)."""

from __future__ import annotations

import json

import pytest

from hyperion import ConfigurationError, tune
from tests.plugins.test_llm import SPACE, objective, run

pytestmark = pytest.mark.llm


def test_litellm_mock_response_path_records_tokens():
    from hyperion_llm.adapters import LiteLLM

    reply = json.dumps(
        {
            "suggestions": [
                {"params": {"lr": 0.01, "layers": 4, "opt": "adam", "bn": True}, "rationale": "from the mock"}
            ]
        }
    )
    adapter = LiteLLM("openai/gpt-4o-mini", mock_response=reply)
    result, events = run(adapter, max_trials=1)
    assert result["trials"][0]["rationale"] == "LLM: from the mock"
    call = next(e for e in events if e["kind"] == "llm_call")
    assert call["model"] == "openai/gpt-4o-mini" and call["tokens_in"] and call["tokens_out"]


@pytest.mark.parametrize("mock", [{"mock_response": Exception("rate limited")}, {"mock_timeout": True, "timeout": 0.5}])
def test_litellm_errors_and_timeouts_fall_back(mock):
    from hyperion_llm.adapters import LiteLLM

    adapter = LiteLLM("openai/gpt-4o-mini", **mock)
    result, events = run(adapter, max_trials=2, strategy_kwargs={"retries": 0})
    assert result["study"]["trials"] == 2
    assert all("LLM fallback" in t["rationale"] for t in result["trials"])
    assert next(e for e in events if e["kind"] == "llm_call")["error"]


def test_litellm_http_path_against_a_local_openai_compatible_server():
    from hyperion_llm.adapters import LiteLLM
    from tests.llm_stub import StubServer

    reply = json.dumps(
        {"suggestions": [{"params": {"lr": 0.02, "layers": 5, "opt": "sgd", "bn": False}, "rationale": "over http"}]}
    )
    with StubServer([reply]) as server:
        adapter = LiteLLM("openai/stub-model", api_base=server.url, api_key="test-key", json_mode="schema", timeout=10)
        result, events = run(adapter, max_trials=1)
        request = server.requests[0]
    assert result["trials"][0]["params"]["lr"] == 0.02 and result["trials"][0]["rationale"] == "LLM: over http"
    assert request["model"] == "stub-model"
    assert "Goal: maximize `score`" in request["messages"][-1]["content"]
    assert request["response_format"]["type"] == "json_object"
    assert request["response_format"]["schema"]["properties"]["suggestions"]["type"] == "array"
    call = next(e for e in events if e["kind"] == "llm_call")
    assert call["tokens_in"] == 11 and call["tokens_out"] == 7  # the stub's usage numbers

    with StubServer([]) as server:  # nothing listens after it stops: a connection failure, then a fallback
        url = server.url
    adapter = LiteLLM("openai/stub-model", api_base=url, api_key="k", timeout=5, num_retries=0)
    result, events = run(adapter, max_trials=1, strategy_kwargs={"retries": 0})
    assert "LLM fallback" in result["trials"][0]["rationale"]


def test_bad_credentials_on_the_first_call_are_a_configuration_error():
    import litellm

    class NoKey:
        name = "openai/gpt-4o-mini"

        def complete(self, prompt, schema=None):
            raise litellm.exceptions.AuthenticationError("Incorrect API key provided", "openai", "gpt-4o-mini")

    with pytest.raises(ConfigurationError, match="cannot be used: AuthenticationError.*credentials"):
        # no exploration: every slot waits for the model (with the default 0.3, four random coins in a row
        # end the study before the first call does, about one run in 120)
        tune(
            objective,
            SPACE,
            strategy="llm_agent",
            max_trials=4,
            seed=0,
            strategy_kwargs={"llm": NoKey(), "retries": 3, "exploration_rate": 0.0},
        )


def test_litellm_prints_no_banners(capsys):
    import litellm

    from hyperion_llm.adapters import LiteLLM

    LiteLLM("openai/gpt-4o-mini")
    assert litellm.suppress_debug_info is True
