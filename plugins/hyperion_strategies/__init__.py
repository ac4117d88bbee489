"""Bundled search strategies: random, grid, bayesian (TPE), gp, auto, cmaes, local, nsga2, beam_search, pbt and pb2. Each is
imported when first used (numpy and scipy load only then)."""

from hyperion_core.hookspecs import Register, hookimpl
from hyperion_core.plugins import lazy


@hookimpl
def register_strategies(register: Register) -> None:
    register("random", lazy("hyperion_strategies.random:RandomSearch"))
    register("grid", lazy("hyperion_strategies.grid:GridSearch"))
    register("nsga2", lazy("hyperion_strategies.nsga2:NSGA2"))
    register("bayesian", lazy("hyperion_strategies.tpe:TPESearch"))
    register("gp", lazy("hyperion_strategies.gp:GPSearch"))
    register("auto", lazy("hyperion_strategies.auto:AutoSearch"))
    register("cmaes", lazy("hyperion_strategies.cmaes:CMAES"))
    register("local", lazy("hyperion_strategies.local:LocalSearch"))
    register("beam_search", lazy("hyperion_strategies.beam:BeamSearch"))
    register("pbt", lazy("hyperion_strategies.pbt:PBT"))
    register("pb2", lazy("hyperion_strategies.pb2:PB2"))
