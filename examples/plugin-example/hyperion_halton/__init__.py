"""A Hyperion plugin registering the `halton` strategy."""

import hyperion
from hyperion_halton.strategy import HaltonSearch


@hyperion.hookimpl
def register_strategies(register):
    register("halton", HaltonSearch)
