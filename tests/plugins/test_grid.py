"""Grid search: what it enumerates, in what order, and that it ends."""

from __future__ import annotations

import pytest

from hyperion import Bool, Choice, Float, Int, tune


def test_grid_enumerates_choice_bool_every_int_and_float_points():
    space = {"c": Choice(["a", "b"]), "flag": Bool(), "n": Int(1, 3), "lr": Float(1e-3, 1e-1, log=True)}
    result = tune(lambda ctx, **p: p["n"], space, strategy="grid", strategy_kwargs={"points": 3})
    seen = [
        (t["params"]["c"], t["params"]["flag"], t["params"]["n"], round(t["params"]["lr"], 6)) for t in result["trials"]
    ]
    assert len(seen) == len(set(seen)) == 2 * 2 * 3 * 3
    assert {lr for *_, lr in seen} == {0.001, 0.01, 0.1}


def test_grid_default_points_and_int_cap():
    result = tune(
        lambda ctx, x, n: x,
        {"x": Float(0, 1), "n": Int(0, 1_000_000)},
        strategy="grid",
        strategy_kwargs={"max_int_values": 4},
    )
    xs = sorted({t["params"]["x"] for t in result["trials"]})
    ns = sorted({t["params"]["n"] for t in result["trials"]})
    assert xs == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert ns[0] == 0 and ns[-1] == 1_000_000 and len(ns) == 4


def test_grid_fixed_values_pass_through_and_order_is_stable():
    space = {"a": Choice([1, 2]), "b": Choice(["x", "y"]), "const": 7}
    first = tune(lambda ctx, a, b, const: a, space, strategy="grid", max_concurrent=3)
    second = tune(lambda ctx, a, b, const: a, space, strategy="grid")
    assert [t["params"] for t in first["trials"]] == [t["params"] for t in second["trials"]]
    assert [(t["params"]["a"], t["params"]["b"]) for t in second["trials"]] == [(1, "x"), (1, "y"), (2, "x"), (2, "y")]
    assert all(t["params"]["const"] == 7 for t in second["trials"])
