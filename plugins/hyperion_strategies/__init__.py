"""Bundled search strategies: random, grid, bayesian (TPE), gp, auto, nsga2 and beam_search."""

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_strategies(register: Register) -> None:
    from hyperion_strategies.auto import AutoSearch
    from hyperion_strategies.beam import BeamSearch
    from hyperion_strategies.gp import GPSearch
    from hyperion_strategies.grid import GridSearch
    from hyperion_strategies.nsga2 import NSGA2
    from hyperion_strategies.random import RandomSearch
    from hyperion_strategies.tpe import TPESearch

    register("random", RandomSearch)
    register("grid", GridSearch)
    register("nsga2", NSGA2)
    register("bayesian", TPESearch)
    register("gp", GPSearch)
    register("auto", AutoSearch)
    register("beam_search", BeamSearch)
