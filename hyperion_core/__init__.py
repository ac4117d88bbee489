"""The Hyperion kernel: contracts, the search space, the plugin registry and the study loop.

It imports no concrete plugin; everything it runs is found through the plugin registry.
"""
