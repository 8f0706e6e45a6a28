"""Progress bars that cost nothing when they are off.

Importing tqdm takes about 0.1 s (it loads asyncio and importlib.metadata), a
tenth of extracting a large archive, so it is imported only for a bar that shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T], *, enabled: bool, **tqdm_options) -> Iterable[T]:
    """Return ``iterable`` wrapped in a tqdm bar when ``enabled``, else unchanged."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **tqdm_options)


class _NoBar:
    """Placeholder for a tqdm bar that is off."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(*, enabled: bool, **tqdm_options):
    """Return a manual tqdm bar (``update``, ``close``) when ``enabled``, else one that does nothing."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(**tqdm_options)
