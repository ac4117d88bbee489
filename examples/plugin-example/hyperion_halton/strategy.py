"""Halton sequence sampling with a random shift per dimension (Cranley-Patterson rotation)."""

from __future__ import annotations

from hyperion import Proposal, Strategy


def _primes(count: int) -> list[int]:
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


def _radical_inverse(index: int, base: int) -> float:
    result, fraction = 0.0, 1.0 / base
    while index:
        index, digit = divmod(index, base)
        result += digit * fraction
        fraction /= base
    return result


class HaltonSearch(Strategy):
    """Evenly spread points; `skip` leading points of the sequence are dropped (default 0)."""

    def __init__(self, skip: int = 0) -> None:
        if not isinstance(skip, int) or skip < 0:
            raise ValueError(f"halton: skip must be a whole number >= 0, got {skip!r}")
        self.skip = skip

    def setup(self, study):
        super().setup(study)
        self.bases = _primes(len(self.space))
        self.shift = [self.rng.random() for _ in self.bases]
        self.index = self.skip + 1

    def propose(self, study, slots):
        proposals = []
        for _ in range(slots):
            unit = [(_radical_inverse(self.index, b) + s) % 1.0 for b, s in zip(self.bases, self.shift)]
            self.index += 1
            proposals.append(Proposal(self.space.from_unit(unit)))
        return proposals
