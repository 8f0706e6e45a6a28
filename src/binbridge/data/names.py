"""Function-name clean-up shared by dataset extraction and the corpus builder."""

from __future__ import annotations

import re
from dataclasses import dataclass

# GCC clone and split suffixes: foo.cold, foo.part.0, foo.isra.3, foo.constprop.0, foo.lto_priv.0,
# and chains of them such as foo.constprop.0.isra.0.
_CLONE_SUFFIX = re.compile(r"((?:\.(?:cold|part|isra|constprop|lto_priv|localalias|str)(?:\.\d+)?)+)$")
_VERSION_SUFFIX = re.compile(r"@+[A-Za-z0-9_.]+$")


@dataclass(frozen=True)
class SplitName:
    base: str
    clone_suffix: str


def split_clone_suffix(name: str) -> SplitName:
    """Split ``foo.isra.0`` into base ``foo`` and suffix ``.isra.0``; symbol versions are dropped."""
    name = _VERSION_SUFFIX.sub("", name)
    match = _CLONE_SUFFIX.search(name)
    if not match or match.start() == 0:
        return SplitName(name, "")
    return SplitName(name[: match.start()], match.group(1))
