"""`beam_search`: a tree of trials. Depth 0 samples the space; each further depth perturbs the beam,
the best `K` trials of the tree so far (`width` children each), with perturbations that shrink with
depth. With `prune=True`, a running trial that can no longer make its depth's top K is stopped."""

from __future__ import annotations

from hyperion_core.lineage import TreeSearch


class BeamSearch(TreeSearch):
    """K: the beam, parents of the next depth (default 3). width: children per parent (default 2).
    max_depth: depths after the first (default 4). prune: stop hopeless running trials (default True).
    initial: trials at depth 0 (default K * width). scale: perturbation size at depth 1 as a share of
    each parameter's range, log-scaled ones in log space (default 0.2); it halves at every depth."""

    name = "beam_search"
