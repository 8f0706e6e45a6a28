"""Make predicted names unique within one binary.

Disassemblers such as IDA and Ghidra reject two functions with one name, so
when the model gives several functions the same name, the most confident one
keeps it and the others get ``_2``, ``_3``, ... in address order. Symbol names
are never changed, and a suffixed name never collides with a symbol. A C++
mangled name (from a signature) gets ``.2``, ``.3`` instead, which demanglers
read as a clone suffix (``foo() [clone .2]``), so it still demangles.
"""

from __future__ import annotations

from collections import defaultdict


def make_names_unique(functions: list) -> int:
    """Rename in place; return how many predicted names received a suffix.

    ``functions`` contains objects with ``name``, ``confidence``, ``source`` and ``address``.
    """
    taken = {f.name for f in functions if f.source == "symbol"}
    groups: dict[str, list] = defaultdict(list)
    for function in functions:
        if function.source != "symbol":
            groups[function.name].append(function)

    # Pick every group's keeper first, so that a suffix never lands on a name another group keeps.
    keepers = {}
    for name, group in groups.items():
        if name not in taken:
            keepers[name] = min(group, key=lambda f: (-f.confidence, f.address))
    taken |= set(keepers)

    renamed = 0
    for name, group in groups.items():
        keeper = keepers.get(name)
        counter = 2
        separator = "." if name.startswith("_Z") else "_"
        for function in sorted(group, key=lambda f: f.address):
            if function is keeper:
                continue
            while f"{name}{separator}{counter}" in taken:
                counter += 1
            function.name = f"{name}{separator}{counter}"
            taken.add(function.name)
            renamed += 1
    return renamed
