"""Known studies for the dashboard tests: what each figure must show is counted from these."""

from __future__ import annotations

import json

from hyperion import Choice, Float, Int, ObjectiveResult, tune

SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'
SPACE = {"lr": Float(1e-4, 1e-1, log=True), "layers": Int(1, 4), "opt": Choice(["adam", "sgd", SCRIPT])}
STEPS = 5


def curve(ctx, lr, layers, opt):
    if layers == 3 and opt == "sgd":
        raise ValueError(f"diverged {IMG}")
    final = (abs(lr - 0.01) * 100) + layers * 0.1 + (opt == "sgd")
    for step in range(STEPS):
        ctx.report(step, loss=final + 1.0 / (step + 1))
        ctx.save_checkpoint({"step": step})  # retention keeps the best trial's last one (the trial page lists it)
        if ctx.should_stop():  # stopped by the median rule: it ends here, killed
            break
    # what a command objective keeps (hyperion.Command): the trial page shows its output
    output = {
        "dir": f"runs/{lr:.5f}",
        "stdout_tail": f"epoch {STEPS - 1}: loss {final:.3f}\n{SCRIPT}",
        "stderr_tail": "",
    }
    return ObjectiveResult(score=final + 1.0 / STEPS, metrics={"loss": final + 1.0 / STEPS}, artifacts=output)


def demo(url: str, name: str = "demo", trials: int = 30) -> dict:
    """A single-objective study with reports, killed trials (median rule), a failure and a Choice
    option that is a script tag."""
    return tune(
        curve,
        SPACE,
        strategy="random",
        metric="loss",
        mode="min",
        max_trials=trials,
        early_stopping="median",
        early_stopping_kwargs={"min_trials": 3},
        storage=url,
        study_name=name,
        seed=3,
    )


def tree_llm(prompt: str) -> str:
    """A scripted LLM for llm_branching_agent: one child per parent named in the prompt."""
    parents = [line.split()[1] for line in prompt.splitlines() if line.startswith("Parent ")]
    out = [
        {"parent": p, "vary": ["x"], "params": {"x": 0.1 * (i + 1), "y": 0.5}, "rationale": f"{SCRIPT} try smaller x"}
        for i, p in enumerate(parents)
    ]
    return json.dumps({"suggestions": out})


def tree(url: str, name: str = "tree") -> dict:
    """An llm_branching_agent study: 4 roots, then 2 depths of beam_width 2 x branch_factor 2."""
    return tune(
        lambda ctx, x, y: ObjectiveResult(score=(x - 0.3) ** 2 + y),
        {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)},
        strategy="llm_branching_agent",
        metric="score",
        mode="min",
        storage=url,
        study_name=name,
        seed=0,
        strategy_kwargs={"llm": tree_llm, "max_depth": 2, "beam_width": 2, "branch_factor": 2},
    )


def two_objectives(url: str, name: str = "mo") -> dict:
    return tune(
        lambda ctx, x: ObjectiveResult(score=x, metrics={"a": x, "b": (1 - x) ** 2}),
        {"x": Float(0.0, 1.0)},
        strategy="random",
        metric=["a", "b"],
        mode=["min", "min"],
        max_trials=20,
        storage=url,
        study_name=name,
        seed=1,
    )
