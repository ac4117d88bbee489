"""Bundled early-stopping policies: median (and its presets aggressive, patient, percentile), asha, hyperband,
moasha (several objectives), none."""

from hyperion_core.hookspecs import Register, hookimpl
from hyperion_core.plugins import lazy


@hookimpl
def register_policies(register: Register) -> None:
    from hyperion_policies.halving import ASHA, Hyperband
    from hyperion_policies.median import MedianStopping, NoStopping, aggressive, patient, percentile

    register("none", NoStopping)
    register("median", MedianStopping)
    register("aggressive", aggressive)
    register("patient", patient)
    register("percentile", percentile)
    register("asha", ASHA)
    register("hyperband", Hyperband)
    register("moasha", lazy("hyperion_policies.moasha:MOASHA"))
