"""The search space: validation with dotted paths, sampling, membership, encodings, grids, nesting."""

from __future__ import annotations

import math
import random

import pytest

from hyperion import Bool, Choice, Float, Int, SpaceError
from hyperion_core.space import Space


@pytest.mark.parametrize(
    ("definition", "fragment"),
    [
        ({"model": {"lr": Float(0.1, 0.01)}}, "'model.lr': Float needs low < high"),
        ({"a": {"b": {"c": Int(5, 5)}}}, "'a.b.c': Int needs low < high"),
        ({"lr": Float(0.0, 1.0, log=True)}, "'lr': Float(log=True) needs low > 0"),
        ({"n": Int(-1, 10, log=True)}, "'n': Int(log=True) needs low > 0"),
        ({"opt": Choice([])}, "'opt': Choice needs at least one option"),
        ({"opt": Choice("adam")}, "'opt': Choice takes a list of options"),
        ({"opt": Choice(["a", "a"])}, "'opt': Choice lists option 'a' twice"),
        ({"n": Int(1.5, 3)}, "'n': Int low must be an integer"),
        ({"x": Float("0", 1)}, "'x': Float low must be a finite number"),
        ({"x": Float(0, math.inf)}, "'x': Float high must be a finite number"),
        ({"m": {"f": object()}}, "'m.f': <object object"),
        ({"m": {"f": {1, 2}}}, "'m.f': {1, 2} (set) is not a parameter type"),
        ({"x": Float}, "'x': Float must be called"),
        ({"a.b": Float(0, 1)}, "'a.b' contains '.'"),
        ({"m": {}}, "'m': an empty dict"),
        ({}, "the space is empty"),
    ],
)
def test_invalid_spaces_name_the_parameter_and_the_reason(definition, fragment):
    with pytest.raises(SpaceError) as info:
        Space(definition)
    assert fragment in str(info.value)


def test_space_must_be_a_dict():
    with pytest.raises(SpaceError, match="must be a dict"):
        Space([Float(0, 1)])  # type: ignore[arg-type]


def test_samples_stay_inside_inclusive_bounds_and_respect_types():
    space = Space(
        {
            "lr": Float(1e-5, 1.0, log=True),
            "layers": Int(1, 3),
            "units": Int(16, 512, log=True),
            "opt": Choice(["adam", "sgd"]),
            "bn": Bool(),
        }
    )
    rng = random.Random(0)
    seen_layers = set()
    for _ in range(2000):
        point = space.sample(rng)
        assert 1e-5 <= point["lr"] <= 1.0
        assert isinstance(point["layers"], int) and 1 <= point["layers"] <= 3
        assert isinstance(point["units"], int) and 16 <= point["units"] <= 512
        assert point["opt"] in ("adam", "sgd")
        assert point["bn"] in (True, False)
        seen_layers.add(point["layers"])
        assert space.contains(point)
    assert seen_layers == {1, 2, 3}  # both ends are reachable


def test_log_float_samples_spread_over_decades():
    space = Space({"lr": Float(1e-6, 1.0, log=True)})
    rng = random.Random(1)
    values = [space.sample(rng)["lr"] for _ in range(3000)]
    below = sum(v < 1e-3 for v in values) / len(values)
    assert 0.45 < below < 0.55  # half the decades lie below 1e-3


def test_membership_keeps_bools_apart_from_numbers():
    space = Space({"flag": Bool(), "k": Choice([1, 2]), "n": Int(0, 3)})
    assert not space.contains({"flag": 1, "k": 1, "n": 0})
    assert not space.contains({"flag": True, "k": True, "n": 0})
    assert not space.contains({"flag": True, "k": 1, "n": True})
    assert space.contains({"flag": True, "k": 1, "n": 2.0})  # an integral float is an integer
    assert space.validate({"flag": True, "k": 1, "n": 2.0})["n"] == 2


def test_validate_reports_missing_unknown_and_out_of_range():
    space = Space({"x": Float(0, 1), "fixed": 3})
    with pytest.raises(SpaceError, match="'x' is missing"):
        space.validate({})
    with pytest.raises(SpaceError, match=r"'x': 2 is not in Float\(0, 1\)"):
        space.validate({"x": 2})
    with pytest.raises(SpaceError, match="unknown parameter"):
        space.validate({"x": 0.5, "y": 1})
    with pytest.raises(SpaceError, match="'fixed' is fixed to 3"):
        space.validate({"x": 0.5, "fixed": 4})
    assert space.validate({"x": 0.5}) == {"x": 0.5, "fixed": 3}


def test_nested_and_fixed_values_round_trip_to_the_objective_shape():
    definition = {
        "model": {"n_layers": Int(2, 5), "activation": Choice(["relu", "tanh"]), "head": {"size": 8}},
        "epochs": 50,
        "tags": ["a", "b"],
    }
    space = Space(definition)
    assert space.names == ["model.n_layers", "model.activation"]
    flat = space.validate(space.sample(random.Random(0)))
    nested = space.unflatten(flat)
    assert nested["model"]["head"] == {"size": 8}
    assert nested["epochs"] == 50 and nested["tags"] == ["a", "b"]
    assert set(nested["model"]) == {"n_layers", "activation", "head"}


@pytest.mark.parametrize(
    "param",
    [
        Float(-3.0, 7.0),
        Float(1e-4, 10.0, log=True),
        Int(0, 9),
        Int(1, 1000, log=True),
        Choice(["a", "b", "c"]),
        Bool(),
        Choice([0.1, 0.01, 1.0, 10.0]),
    ],
)
def test_unit_cube_encoding_round_trips(param):
    space = Space({"p": param})
    rng = random.Random(3)
    for _ in range(500):
        value = space.sample(rng)["p"]
        u = space.to_unit({"p": value})[0]
        assert 0.0 <= u <= 1.0
        back = space.from_unit([u])["p"]
        if isinstance(param, Float):
            assert back == pytest.approx(value, rel=1e-9, abs=1e-12)
        else:
            assert back == value
    assert space.params["p"].contains(space.from_unit([0.0])["p"])
    assert space.params["p"].contains(space.from_unit([1.0])["p"])


def test_a_choice_of_numbers_is_ordered_by_value():
    """Choice([64, 16, 32]): models read an option as its rank by value, however the list is written."""
    from hyperion_core.encoding import Encoding

    space = Space(
        {"units": Choice([64, 16, 32]), "lr": Choice([1e-3, 1e-2, 1e-1, 1.0]), "act": Choice(["a", "b", "c"])}
    )
    units = space.params["units"]
    assert units.ordinal
    assert [units.to_unit(v) for v in (16, 32, 64)] == pytest.approx([1 / 6, 3 / 6, 5 / 6])
    assert [space.from_unit([u, 0.5, 0.5])["units"] for u in (0.0, 0.4, 0.99)] == [16, 32, 64]
    encoding = Encoding(space)
    assert encoding.numeric == ["units", "lr"] and encoding.categorical == ["act"]
    for options in (["a", "b", "c"], [1, 2], [1, "a", 2], [True, False, 1], [0, 1, None]):
        assert not Choice(options).ordinal, options


def test_perturbing_a_choice_of_numbers_moves_to_nearby_values():
    """PBT's explore on Choice([16, ..., 1024]): 64 becomes a neighbour, never a far end; labels jump."""
    space = Space({"batch": Choice([1024, 16, 32, 64, 128, 256, 512]), "act": Choice(["relu", "gelu", "tanh"])})
    rng = random.Random(0)
    moves = [space.perturb({"batch": 64, "act": "relu"}, 0.05, rng) for _ in range(400)]
    assert {m["batch"] for m in moves} == {32, 64, 128}
    assert sum(m["batch"] != 64 for m in moves) > 100  # a small spread still moves it, half the time
    assert {m["act"] for m in moves} == {"relu", "gelu", "tanh"}


def test_int_unit_encoding_gives_every_integer_an_equal_share():
    space = Space({"n": Int(1, 4)})
    counts = {}
    for i in range(4000):
        n = space.from_unit([(i + 0.5) / 4000])["n"]
        counts[n] = counts.get(n, 0) + 1
    assert counts == {1: 1000, 2: 1000, 3: 1000, 4: 1000}


def test_grid_points():
    space = Space(
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "x": Float(0, 1),
            "n": Int(1, 4),
            "big": Int(0, 10_000),
            "c": Choice(["a", "b"]),
            "b": Bool(),
        }
    )
    lr, x, n, big, c, b = space.grid(points=4, int_cap=50)
    assert lr == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert x == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert n == [1, 2, 3, 4]
    assert len(big) == 50 and big[0] == 0 and big[-1] == 10_000 and big == sorted(set(big))
    assert c == ["a", "b"] and b == [False, True]


def test_describe_is_json_compatible_and_detects_changes():
    import json

    a = Space({"x": Float(0, 1), "m": {"k": Choice([1, 2])}, "fixed": "v"}).describe()
    b = Space({"x": Float(0, 2), "m": {"k": Choice([1, 2])}, "fixed": "v"}).describe()
    assert json.loads(json.dumps(a)) == a
    assert a != b and a["m.k"] == b["m.k"]
