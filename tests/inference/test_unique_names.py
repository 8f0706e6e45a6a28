from dataclasses import dataclass

from binbridge.inference.unique import make_names_unique


@dataclass
class Named:
    address: int
    name: str
    confidence: float
    source: str = "model"


def test_most_confident_keeps_plain_name():
    functions = [Named(0x10, "parse", 0.2), Named(0x20, "parse", 0.9), Named(0x30, "parse", 0.5)]
    renamed = make_names_unique(functions)
    assert renamed == 2
    assert [f.name for f in functions] == ["parse_2", "parse", "parse_3"]


def test_symbols_are_never_renamed():
    functions = [Named(0x10, "main", 1.0, "symbol"), Named(0x20, "main", 0.9), Named(0x30, "main_2", 0.4)]
    make_names_unique(functions)
    assert functions[0].name == "main"
    assert functions[1].name == "main_3", "main is taken by a symbol and main_2 by another prediction"
    assert functions[2].name == "main_2"


def test_distinct_names_untouched():
    functions = [Named(1, "a", 0.1), Named(2, "b", 0.1)]
    assert make_names_unique(functions) == 0
    assert [f.name for f in functions] == ["a", "b"]


def test_mangled_names_get_clone_suffix():
    """c++filt reads _ZN3foo3barEv.2 as foo::bar() [clone .2]; an _2 suffix would not demangle."""
    functions = [Named(0x10, "_ZN3foo3barEv", 0.95, "signature"), Named(0x20, "_ZN3foo3barEv", 0.95, "signature")]
    make_names_unique(functions)
    assert [f.name for f in functions] == ["_ZN3foo3barEv", "_ZN3foo3barEv.2"]
