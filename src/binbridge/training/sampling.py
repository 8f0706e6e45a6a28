"""Sampling of the training rows that each epoch visits.

A corpus of libraries is lopsided: in the default corpus OpenSSL has 15% of
the functions and zstd 9%, while many projects have under 1%. Trained on that
mix, the decoder's name words follow the big projects (`zstd`, `ossl`, `xml`),
and it writes them for functions of any program.

``ProjectBalancedSampler`` draws a row of a project with ``n_p`` training rows
with probability proportional to ``n_p ** (alpha - 1)``. A project's share of
an epoch is then proportional to ``n_p ** alpha``. Alpha 1 keeps the corpus
mix, alpha 0 gives every project the same share, and values in between
flatten it. Multilingual translation models balance languages the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import torch


def project_weights(projects: Sequence[str], alpha: float) -> torch.Tensor:
    """Return each row's sampling weight [N], normalised to sum to 1."""
    sizes = Counter(projects)
    weights = torch.tensor([sizes[p] ** (alpha - 1.0) for p in projects], dtype=torch.float64)  # [N]
    return weights / weights.sum()


def project_shares(projects: Sequence[str], alpha: float) -> dict[str, float]:
    """Return each project's expected share of an epoch."""
    weights = project_weights(projects, alpha)
    shares: Counter[str] = Counter()
    for project, weight in zip(projects, weights.tolist()):
        shares[project] += weight
    return dict(shares)


class ProjectBalancedSampler(torch.utils.data.Sampler[int]):
    """Sampler that draws ``len(projects)`` rows per epoch with replacement, by ``project_weights``.

    With ``world`` > 1 processes, every rank draws the same sequence from
    ``seed + epoch`` and keeps every ``world``-th index from position ``rank``,
    so the ranks see disjoint parts of one epoch (as DistributedSampler does).
    """

    def __init__(self, projects: Sequence[str], alpha: float, *, seed: int, rank: int = 0, world: int = 1) -> None:
        if not projects:
            raise ValueError("ProjectBalancedSampler needs at least one row")
        self.weights = project_weights(projects, alpha)
        self.seed, self.rank, self.world = seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(range(self.rank, len(self.weights), self.world))

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        drawn = torch.multinomial(self.weights, len(self.weights), replacement=True, generator=generator)  # [N]
        return iter(drawn[self.rank::self.world].tolist())
