"""C++ demangling: golden comparison with c++filt on symbols g++ emits, and the unqualified name."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from binbridge.data.demangle import base_function_name, demangle, unqualified_name
from binbridge.evaluation.names import strip_decorations, xfl_words

CXX_SOURCE = """
#include <string>
#include <vector>
namespace gold {
template <int size, bool big_endian> struct Sized_relobj {
    unsigned do_section_entsize(unsigned shndx) const { return shndx * size; }
    ~Sized_relobj() {}
};
struct Symbol {
    long value_;
    void set_value(long v) { value_ = v; }
    bool operator<(const Symbol& o) const { return value_ < o.value_; }
    int operator()(int x) { return x + 1; }
};
template <typename T> T twice(T x) { return x + x; }
}
namespace { int hidden_helper(std::string const& s) { return (int)s.size(); } }
int use_all(std::vector<int>& v, std::string const& s) {
    gold::Sized_relobj<64, false> r;
    gold::Symbol a{1}, b{2};
    a.set_value(3);
    return r.do_section_entsize(2) + (a < b) + a(4) + gold::twice<int>(5) + hidden_helper(s) + (int)v.size();
}
"""

EXPECTED_BASE_NAMES = {
    "do_section_entsize", "~Sized_relobj", "set_value", "operator<", "operator()", "twice", "hidden_helper",
    "use_all",
}


@pytest.fixture(scope="module")
def cxx_symbols(tmp_path_factory) -> list[str]:
    if shutil.which("g++") is None or shutil.which("nm") is None:
        pytest.skip("g++ and nm are needed")
    folder = tmp_path_factory.mktemp("cxx")
    (folder / "names.cc").write_text(CXX_SOURCE)
    subprocess.run(["g++", "-O0", "-c", "names.cc", "-o", "names.o"], cwd=folder, check=True)
    listing = subprocess.run(["nm", "--defined-only", "names.o"], cwd=folder, check=True, capture_output=True,
                             text=True).stdout
    return [line.split()[-1] for line in listing.splitlines() if line.split()[-1].startswith("_Z")]


def test_demangle_matches_cxxfilt(cxx_symbols):
    if shutil.which("c++filt") is None:
        pytest.skip("c++filt is needed")
    golden = subprocess.run(["c++filt"], input="\n".join(cxx_symbols), capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert [demangle(symbol) for symbol in cxx_symbols] == golden


def test_base_names_of_compiled_symbols(cxx_symbols):
    base_names = {base_function_name(symbol) for symbol in cxx_symbols}
    assert EXPECTED_BASE_NAMES <= base_names
    assert not any(name.startswith("_Z") or "::" in name or "(" in name.rstrip("()") for name in base_names)


@pytest.mark.parametrize(("demangled", "expected"), [
    ("gold::Output_section::add_input<64, false>(int) const", "add_input"),
    ("void gold::gc_process_relocs<32, false>(gold::Symbol_table*)", "gc_process_relocs"),
    ("(anonymous namespace)::Target_x86_64<64>::relocate(void*) const [clone .lto_priv.0]", "relocate"),
    ("(anonymous namespace)::io_error_category::message[abi:cxx11](int) const [clone .cold]", "message"),
    ("std::ostream& std::operator<< <std::char_traits<char> >(std::ostream&, char const*)", "operator<<"),
    ("X::operator>>(int)", "operator>>"),
    ("gold::Symbol::~Symbol()", "~Symbol"),
    ("vtable for gold::Symbol", "Symbol"),
    ("X::operator&(int)", "operator&"),
    ("operator new[](unsigned long)", "operator new[]"),
    ("X::operator()(int) const", "operator()"),
    # Declarators in brackets: a function returning a function pointer, an array reference, a member pointer.
    ("int (*pick<int>(int))()", "pick"),
    ("int (&arr<int>(int)) [3]", "arr"),
    ("int (S::*mptr<int>(int))()", "mptr"),
    ("A::operator A::B<int>()", "operator A::B"),
    ("P::operator std::string() const", "operator std::string"),
])
def test_unqualified_name(demangled, expected):
    assert unqualified_name(demangled) == expected


@pytest.mark.parametrize("name", ["main", "ssl_ctx_new", "_Znot_a_symbol", "_Z", ""])
def test_non_cxx_names_pass_through(name):
    assert base_function_name(name) == name


@pytest.mark.parametrize(("symbol", "expected"), [
    ("_Z4pickIiEPFivET_", "pick"),
    ("_Z11parse_valuev.isra.0", "parse_value.isra.0"),
    ("_Z11parse_valuev@@V1", "parse_value"),
])
def test_base_name_keeps_clone_suffix_and_drops_version(symbol, expected):
    assert base_function_name(symbol) == expected


def test_metrics_compare_demangled_names():
    mangled = "_ZN4gold17Sized_relobj_incrILi64ELb0EE18do_section_entsizeEj.isra.0"
    assert strip_decorations(mangled) == "do_section_entsize"
    assert xfl_words(mangled) == ["do", "section", "entsize"]
