"""Bundled search strategies: random and grid (bayesian and beam_search come with the search issue)."""

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_strategies(register: Register) -> None:
    from hyperion_strategies.grid import GridSearch
    from hyperion_strategies.random import RandomSearch

    register("random", RandomSearch)
    register("grid", GridSearch)
