"""LLM strategies with scripted models: every kind of reply, timeouts, budgets, the record of
every call (litellm's own paths: test_llm_litellm.py)."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from hyperion import Bool, Choice, ConfigurationError, Float, Int, tune
from hyperion_core.goal import Goal
from hyperion_core.space import Space
from hyperion_llm import prompts, replies
from hyperion_storage.memory import MemoryStorage

SPACE = {
    "lr": Float(1e-5, 1.0, log=True),
    "layers": Int(1, 8),
    "opt": Choice(["adam", "sgd"]),
    "bn": Bool(),
    "epochs": 10,
}


def objective(ctx, lr, layers, opt, bn, epochs):
    return -abs(lr - 0.01) - 0.01 * abs(layers - 4) + (opt == "adam") * 0.1


def wanted(prompt: str) -> int:
    return int(prompt.split("Suggest ")[1].split(" ")[0])


class Scripted:
    """An LLM callable that answers from a list of reply makers, one per call, recording prompts."""

    def __init__(self, *replies) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        make = self.replies[min(len(self.prompts) - 1, len(self.replies) - 1)]
        return make(prompt)


def good(prompt: str) -> str:
    rng = random.Random(len(prompt))
    return json.dumps(
        {
            "suggestions": [
                {
                    "params": {"lr": 10 ** rng.uniform(-4, -1), "layers": rng.randint(1, 8), "opt": "adam", "bn": True},
                    "rationale": f"idea {i}",
                }
                for i in range(wanted(prompt))
            ]
        }
    )


def run(llm, storage=None, **kwargs):
    options = {"max_trials": 6, "seed": 0, "strategy_kwargs": {"llm": llm, "exploration_rate": 0.0, "timeout": 5}}
    options["strategy_kwargs"].update(kwargs.pop("strategy_kwargs", {}))
    options.update(kwargs)
    storage = storage or MemoryStorage()
    result = tune(objective, SPACE, strategy="llm_agent", storage=storage, **options)
    return result, storage.load_events(result["study"]["name"])


def test_good_replies_are_used_with_their_rationale_and_every_call_is_on_record():
    llm = Scripted(good)
    result, events = run(llm, max_concurrent=3)
    assert all(t["rationale"].startswith("LLM: idea") for t in result["trials"])
    assert result["study"]["failed"] == 0
    calls = [e for e in events if e["kind"] == "llm_call"]
    assert len(calls) == len(llm.prompts) < 6  # one call fills several slots
    assert calls[0]["prompt"] == llm.prompts[0] and calls[0]["reply"].startswith('{"suggestions"')
    assert calls[0]["used"] == wanted(llm.prompts[0]) and calls[0]["error"] is None
    decisions = [e for e in events if e["kind"] == "decision"]
    assert len(decisions) == 6 and decisions[0]["rationale"].startswith("LLM: idea")


def test_the_prompt_carries_goal_space_history_running_trials_and_count():
    llm = Scripted(good)
    run(llm, max_trials=8, max_concurrent=2, metric="score", mode="max")
    first, later = llm.prompts[0], llm.prompts[-1]
    assert "Goal: maximize `score` (higher is better)." in first
    assert "- lr: number from 0.00001 to 1 (log scale: think in powers of ten)" in first
    assert "- layers: integer from 1 to 8" in first
    assert '"params": {"lr": <number from 0.00001 to 1>, "layers": <integer from 1 to 8>, ' in first
    assert '- opt: one of ["adam", "sgd"]' in first and "- bn: boolean" in first
    assert "- epochs: fixed at 10 (do not change)" in first
    assert "No trial has finished yet." in first and "Suggest 2 new configuration(s)" in first
    assert "Best trials so far (best first):" in later and "score=" in later


def test_history_shows_best_recent_failed_killed_and_running_trials():
    from hyperion_core.models import Trial, TrialState
    from hyperion_core.state import StudyState

    state = StudyState("s", Space(SPACE), Goal.of("loss", "min"), seed=0)
    base = {"lr": 0.1, "layers": 2, "opt": "sgd", "bn": False, "epochs": 10}
    trials = [
        Trial(number=i, params={**base, "layers": i + 1}, state=TrialState.COMPLETED, value=float(i)) for i in range(6)
    ]
    trials.append(Trial(number=6, params=base, state=TrialState.FAILED, error="ValueError: diverged\ntrace"))
    trials.append(Trial(number=7, params=base, state=TrialState.KILLED, kill_reason="median: worse"))
    trials.append(Trial(number=8, params={**base, "layers": 8}))
    for t in trials:
        state.add(t)
        if t.state.finished:
            state.finish(t)
    text = prompts.history(state, limit=6)
    best = text.split("Most recent")[0]
    assert best.index("trial_0000") < best.index("trial_0001") < best.index("trial_0002") and "trial_0005" not in best
    assert "failed (ValueError: diverged)" in text and "stopped early (median: worse)" in text
    assert 'Running now (do not suggest these again):\n  {"lr": 0.1, "layers": 8' in text
    assert "epochs" not in text  # fixed values are described once, in the space


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (lambda p: "I think you should try a learning rate of 0.01.", "the reply holds no JSON"),
        (
            lambda p: '{"suggestions": [{"params": {"lr": 5.0, "layers": 2, "opt": "adam", "bn": true}}]}',
            "lr: 5.0 is outside [1e-05, 1.0]",
        ),
        (
            lambda p: '{"suggestions": [{"params": {"lr": 0.1, "layers": 2, "opt": "lion", "bn": true}}]}',
            "opt: 'lion' is not one of ['adam', 'sgd']",
        ),
        (lambda p: '{"suggestions": []}', "0 usable suggestion(s)"),
    ],
)
def test_unusable_replies_fall_back_to_random_with_the_reason(reply, reason):
    result, events = run(Scripted(reply), max_trials=3)
    assert result["study"]["trials"] == 3 and result["study"]["failed"] == 0
    for trial in result["trials"]:
        assert trial["rationale"].startswith("random sample (LLM fallback:") and reason in trial["rationale"]


def test_fenced_and_partial_replies_are_used_and_missing_parameters_noted():
    fenced = lambda p: "Here you go:\n```json\n" + good(p) + "\n```\nGood luck!"  # noqa: E731
    result, _ = run(Scripted(fenced), max_trials=3)
    assert all(t["rationale"].startswith("LLM: idea") for t in result["trials"])
    partial = lambda p: json.dumps(
        {
            "suggestions": [
                {
                    "params": {"lr": "0.01", "layers": 3.0, "opt": "Adam"},  # noqa: E731
                    "rationale": "partial",
                }
            ]
        }
    )
    result, _ = run(Scripted(partial), max_trials=1)
    trial = result["trials"][0]
    assert trial["params"]["lr"] == 0.01 and trial["params"]["layers"] == 3 and trial["params"]["opt"] == "adam"
    assert "bn missing: sampled" in trial["rationale"]


def test_a_raising_llm_is_retried_then_falls_back():
    calls = []

    def broken(prompt):
        calls.append(prompt)
        raise ConnectionError("provider down")

    result, events = run(broken, max_trials=1, strategy_kwargs={"retries": 2})
    assert len(calls) == 3  # one call, two retries
    call = next(e for e in events if e["kind"] == "llm_call")
    assert call["attempts"] == 3 and call["error"] == "ConnectionError: provider down"
    assert "LLM fallback: ConnectionError: provider down" in result["trials"][0]["rationale"]

    calls.clear()  # a provider that keeps failing is left alone after max_failures calls
    result, events = run(broken, max_trials=8, strategy_kwargs={"retries": 0, "max_failures": 2})
    assert len(calls) == 2
    assert sum("left alone after 2 failed calls" in t["rationale"] for t in result["trials"]) == 6
    assert any("2 LLM calls in a row gave nothing usable" in n for n in result["study"]["notes"])


def test_a_hung_llm_costs_at_most_its_timeout_and_the_study_goes_on():
    release = threading.Event()

    def hung(prompt):
        release.wait(30)  # far past the timeout; released at the end of the test
        return good(prompt)

    start = time.monotonic()
    result, events = run(hung, max_trials=2, strategy_kwargs={"timeout": 0.3, "retries": 0})
    release.set()
    assert result["study"]["trials"] == 2
    assert all("no reply within 0.3s" in t["rationale"] for t in result["trials"])
    assert time.monotonic() - start < 25  # bounded by the timeout, not by the hung call


def test_other_slots_are_filled_while_the_llm_thinks():
    release = threading.Event()

    def slow(prompt):
        release.wait(10)
        return good(prompt)

    seen = []

    def objective_that_releases(ctx, lr, layers, opt, bn, epochs):
        seen.append(ctx.number)
        release.set()  # a random (exploration) trial ran while the first call was in flight
        return lr

    result = tune(
        objective_that_releases,
        SPACE,
        strategy="llm_agent",
        max_trials=6,
        max_concurrent=3,
        seed=1,
        strategy_kwargs={"llm": slow, "exploration_rate": 0.5, "timeout": 20},
    )
    rationales = [t["rationale"] for t in result["trials"]]
    assert rationales[0].startswith("exploration") and any(r.startswith("LLM") for r in rationales)


def test_no_call_once_the_budget_is_spent_or_no_slot_is_free():
    llm = Scripted(good)
    result, events = run(llm, max_trials=5, strategy_kwargs={"max_calls": 1})
    assert len(llm.prompts) == 1
    assert sum("budget of 1 calls spent" in t["rationale"] for t in result["trials"]) == 4
    exploring = Scripted(good)
    run(exploring, max_trials=5, strategy_kwargs={"exploration_rate": 1.0})
    assert exploring.prompts == []


def test_duplicates_of_past_and_running_trials_are_rejected():
    same = lambda p: json.dumps(
        {
            "suggestions": [
                {
                    "params": {"lr": 0.01, "layers": 2, "opt": "adam", "bn": True},  # noqa: E731
                    "rationale": "same again",
                }
            ]
            * wanted(p)
        }
    )
    result, events = run(Scripted(same), max_trials=3)
    llm_used = [t for t in result["trials"] if t["rationale"].startswith("LLM")]
    assert len(llm_used) == 1
    assert any("duplicate" in r for e in events if e["kind"] == "llm_call" for r in e["rejected"])


def test_validation_coerces_only_the_unambiguous():
    space = Space({"n": Int(1, 10), "x": Float(0, 1), "c": Choice([32, 64]), "b": Bool(), "m": {"d": Float(0, 1)}})
    rng = random.Random(0)
    ok, notes = replies.validate({"n": "3", "x": "0.5", "c": "64", "b": "true", "m": {"d": 0.2}}, space, rng)
    assert ok == {"n": 3, "x": 0.5, "c": 64, "b": True, "m.d": 0.2} and notes == []
    for bad, reason in (
        ({"n": 3.5}, "not a whole number"),
        ({"n": 11}, "outside"),
        ({"x": "abc"}, "not a number"),
        ({"c": 48}, "is not one of"),
        ({"b": "maybe"}, "is not one of"),
        ({"zzz": 1}, "no known"),
    ):
        params, notes = replies.validate(bad, space, rng)
        assert params is None and reason in notes[0], (bad, notes)


def test_missing_llm_and_bad_options_fail_before_any_trial():
    with pytest.raises(ConfigurationError, match="need an LLM"):
        tune(objective, SPACE, strategy="llm_agent", max_trials=1)
    with pytest.raises(ConfigurationError, match="exploration_rate"):
        tune(objective, SPACE, strategy="llm_agent", strategy_kwargs={"llm": good, "exploration_rate": 2}, max_trials=1)
    with pytest.raises(ConfigurationError, match="timeout"):
        tune(objective, SPACE, strategy="llm_branching_agent", strategy_kwargs={"llm": good, "timeout": 0})


def test_without_litellm_the_error_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "litellm", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'hyperion-tune\[llm\]'"):
        tune(objective, SPACE, strategy="llm_agent", strategy_kwargs={"llm": "openai/gpt-4o-mini"}, max_trials=1)


# -- llm_branching_agent ---------------------------------------------------------------------------------
def children(prompt: str) -> str:
    parents = [line.split()[1] for line in prompt.splitlines() if line.startswith("Parent ")]
    out = []
    for i, parent in enumerate(parents):
        out.append(
            {
                "parent": parent,
                "vary": ["lr"],
                "params": {"lr": 0.001 * (i + 1), "layers": 4, "opt": "adam", "bn": False},
                "rationale": "smaller lr",
            }
        )
    out.append({"parent": "trial_9999", "params": {"lr": 0.1}, "rationale": "not a parent"})
    return json.dumps({"suggestions": out})


def test_branching_agent_grows_a_tree_from_named_parents_and_perturbs_what_is_missing():
    llm = Scripted(children)
    storage = MemoryStorage()
    result = tune(
        objective,
        SPACE,
        strategy="llm_branching_agent",
        storage=storage,
        seed=0,
        max_concurrent=2,
        strategy_kwargs={"llm": llm, "max_depth": 2, "beam_width": 2, "branch_factor": 2},
    )
    trials = {t["trial_id"]: t for t in result["trials"]}
    assert len(trials) == 4 + 2 * 2 * 2  # roots, then beam_width * branch_factor per depth
    assert len(llm.prompts) == 2  # one call per depth
    assert "ancestry (nearest first)" in llm.prompts[1]
    llm_children = [t for t in trials.values() if t["rationale"].startswith("LLM, child of")]
    fallback = [t for t in trials.values() if t["rationale"].startswith("perturbed")]
    assert len(llm_children) >= 2 and len(fallback) >= 2  # one LLM child per parent, the second perturbed
    assert all("varies lr: smaller lr" in t["rationale"] for t in llm_children)
    for t in llm_children + fallback:
        assert trials[t["parent_id"]]["depth"] < t["depth"]
    events = [e for e in storage.load_events("objective") if e["kind"] == "llm_call"]
    assert any("parent 'trial_9999' is not in the beam" in r for e in events for r in e["rejected"])


def test_branching_agent_survives_garbage_and_failures():
    result = tune(
        objective,
        SPACE,
        strategy="llm_branching_agent",
        seed=0,
        max_concurrent=3,
        strategy_kwargs={
            "llm": Scripted(lambda p: "no idea", lambda p: 1 / 0),
            "max_depth": 2,
            "beam_width": 2,
            "branch_factor": 2,
            "retries": 0,
        },
    )
    assert result["study"]["trials"] == 12 and result["study"]["failed"] == 0
    late = [t["rationale"] for t in result["trials"] if t["depth"] > 0]
    assert any("the reply holds no JSON" in r for r in late) and any("ZeroDivisionError" in r for r in late)


def test_the_summary_shows_calls_tokens_fallbacks_and_the_best_rationale():
    import io

    from rich.console import Console

    from hyperion_llm.adapters import Reply
    from hyperion_reporters.summary import SummaryReporter

    class Adapter:  # an adapter reporting token counts, failing every other call
        name = "counted"

        def __init__(self):
            self.calls = 0

        def complete(self, prompt, schema=None):
            self.calls += 1
            if self.calls % 2 == 0:
                raise TimeoutError("slow provider")
            return Reply(good(prompt), 0.5, tokens_in=100, tokens_out=20, cost=0.001)

    console = Console(file=io.StringIO(), width=200, color_system=None)
    result = tune(
        objective,
        SPACE,
        strategy="llm_agent",
        max_trials=4,
        seed=0,
        strategy_kwargs={"llm": Adapter(), "exploration_rate": 0.0, "retries": 0},
        reporters=[SummaryReporter(console=console)],
    )
    out = console.file.getvalue()
    fallbacks = sum("LLM fallback" in t["rationale"] for t in result["trials"])
    assert "LLM: 4 calls (2 failed), 200 tokens in / 40 out, $0.0020" in out
    assert f"{fallbacks} proposals fell back" in out and fallbacks == 2
    assert (
        f"rationale: {result['best'] and next(t['rationale'] for t in result['trials'] if t['trial_id'] == result['best']['trial_id'])}"
        in out
    )


@pytest.mark.parametrize("strategy", ["llm_agent", "llm_branching_agent"])
def test_any_reply_ends_in_a_fallback_never_a_crash(strategy):
    nested = "[" * 1500 + "]" * 1500
    deep_dict = '{"suggestions": [{"params": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}]}"
    odd = '{"suggestions": [{"params": [1, 2]}, 7, {"params": {"lr": {"x": []}}, "parent": []}]}'
    llm = Scripted(lambda p: nested, lambda p: deep_dict, lambda p: odd, lambda p: "try the middle [/i]")
    result = tune(
        objective,
        SPACE,
        strategy=strategy,
        max_trials=24,
        seed=0,
        strategy_kwargs={"llm": llm, "timeout": 5, **({"exploration_rate": 0.0} if strategy == "llm_agent" else {})},
    )
    assert result["study"]["trials"] == 24 and len(llm.prompts) >= 2


def test_a_model_that_answered_once_and_then_fails_auth_only_falls_back():
    from hyperion_llm.adapters import Reply

    class Flaky:
        calls = 0

        def complete(self, prompt, schema=None):
            Flaky.calls += 1
            if Flaky.calls > 1:
                raise type("AuthenticationError", (Exception,), {})("token expired")
            return Reply(good(prompt), 0.1)

    result = tune(
        objective,
        SPACE,
        strategy="llm_agent",
        max_trials=6,
        max_concurrent=2,
        seed=0,
        strategy_kwargs={"llm": Flaky(), "exploration_rate": 0.0, "retries": 0},
    )
    assert result["study"]["trials"] == 6
