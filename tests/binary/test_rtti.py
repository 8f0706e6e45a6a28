"""C++ virtual functions named from RTTI in a stripped program that g++ builds here."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from binbridge.binary import iter_functions
from binbridge.binary.extract import make_space
from binbridge.binary.inputs import open_input
from binbridge.binary.rtti import (
    KIND_DELETING_DESTRUCTOR,
    class_of_type_name,
    KIND_DESTRUCTOR,
    KIND_METHOD,
    find_virtual_functions,
)
from tests.cli.cli_helpers import run_cli

SOURCE = r"""
#include <cstdio>
#include <string>
namespace geo {
struct Shape { virtual ~Shape() {} virtual double area() const = 0; virtual const char *kind() const { return "shape"; } };
struct Circle : Shape {
    double r; explicit Circle(double r) : r(r) {}
    ~Circle() override { std::puts("circle gone"); }
    double area() const override { return 3.14159 * r * r; }
};
struct Square : Shape {
    double s; std::string label;
    explicit Square(double s) : s(s), label("a square with a long label") {}
    double area() const override { return s * s; }
    const char *kind() const override { return label.c_str(); }
};
}
int main(int argc, char **argv) {
    geo::Shape *shape = argc > 1 ? static_cast<geo::Shape *>(new geo::Circle(argc))
                                 : static_cast<geo::Shape *>(new geo::Square(argc));
    std::printf("%f %s\n", shape->area(), shape->kind());
    delete shape;
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed")
    root = tmp_path_factory.mktemp("rtti")
    (root / "shapes.cc").write_text(SOURCE)
    subprocess.run([compiler, "-O2", "-o", "shapes", "shapes.cc"], cwd=root, check=True, capture_output=True)
    subprocess.run(["strip", "-o", "shapes_stripped", "shapes"], cwd=root, check=True)
    # operator delete linked in: a jmp to free, which no signature names.
    subprocess.run([compiler, "-O2", "-static-libstdc++", "-o", "shapes_static", "shapes.cc"], cwd=root, check=True,
                   capture_output=True)
    subprocess.run(["strip", "-o", "shapes_static_stripped", "shapes_static"], cwd=root, check=True)
    return root


def _symbols(path) -> dict[int, set[str]]:
    """Address -> demangled names, from nm (several names share an address: D1 and D2)."""
    listing = subprocess.run(["nm", "-C", str(path)], check=True, capture_output=True, text=True).stdout
    names: dict[int, set[str]] = {}
    for line in listing.splitlines():
        address, _, name = line.split(" ", 2)
        if address.strip():  # undefined symbols have no address
            names.setdefault(int(address, 16), set()).add(name)
    return names


def test_vtables_give_classes_and_destructors(program):
    stripped = program / "shapes_stripped"
    functions = list(iter_functions(stripped))
    deleting = {f.address for f in functions if "<_ZdlPv" in f.assembly}
    found = find_virtual_functions(make_space(open_input(stripped).elf), {f.address for f in functions},
                                   deleting.__contains__)
    truth = _symbols(program / "shapes")
    by_name = {}
    for address, function in found.items():
        for name in truth[address]:
            by_name[name] = function
    assert by_name["geo::Circle::area() const"].class_name == "geo::Circle"
    assert by_name["geo::Circle::area() const"].kind == KIND_METHOD
    assert by_name["geo::Square::kind() const"].class_name == "geo::Square"
    assert by_name["geo::Square::~Square()"].class_name == "geo::Square"
    kinds = {found[address].kind for address, names in truth.items() if "geo::Square::~Square()" in names}
    assert kinds == {KIND_DESTRUCTOR, KIND_DELETING_DESTRUCTOR}
    # Shape is abstract and never built on its own, so g++ emits no vtable for it: its kind(), which
    # Circle inherits, is found in Circle's vtable only.
    assert by_name["geo::Shape::kind() const"].class_name == "geo::Circle"


@pytest.mark.parametrize("binary", ["shapes_stripped", "shapes_static_stripped"])
def test_cli_names_destructors(program, binary):
    result = run_cli("name", str(program / binary), "--format", "json", "--no_progress", "--no_signatures")
    assert result.returncode == 0, result.stderr
    named = {f["name"] for f in json.loads(result.stdout)["functions"] if f["source"] == "rtti"}
    assert {"geo::Square::~Square", "geo::Square::~Square_deleting", "geo::Circle::~Circle_deleting"} <= named


def test_cli_names_virtual_functions(program):
    result = run_cli("name", str(program / "shapes_stripped"), "--format", "json", "--no_progress")
    assert result.returncode == 0, result.stderr
    named = {f["name"]: f for f in json.loads(result.stdout)["functions"]}
    assert named["geo::Square::~Square"]["source"] == "rtti"
    assert named["geo::Square::~Square_deleting"]["source"] == "rtti"
    assert named["geo::Circle::vfunc_2"]["confidence"] == 0.5
    off = run_cli("name", str(program / "shapes_stripped"), "--format", "json", "--no_progress", "--no_rtti")
    assert off.returncode == 0, off.stderr
    assert all(f["source"] != "rtti" for f in json.loads(off.stdout)["functions"])


def test_c_program_has_no_classes(gcc, tmp_path):
    (tmp_path / "plain.c").write_text("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
    subprocess.run([gcc, "-O2", "-o", "plain", "plain.c"], cwd=tmp_path, check=True, capture_output=True)
    functions = list(iter_functions(tmp_path / "plain"))
    space = make_space(open_input(tmp_path / "plain").elf)
    assert find_virtual_functions(space, {f.address for f in functions}, lambda address: False) == {}


def test_type_names():
    assert class_of_type_name("N4gold14Output_sectionE") == "gold::Output_section"
    assert class_of_type_name("*N12_GLOBAL__N_14AnonE") == "(anonymous namespace)::Anon"
    assert class_of_type_name("not a type") is None
    # Each level doubles the demangled text through back-references: refused, not demangled.
    bomb = "1xI1aIiE" + "".join(f"1{chr(99 + k)}IS{k}_S{k}_E" for k in range(20)) + "E"
    assert class_of_type_name(bomb) is None


LIBRARY = r"""
#define HIDDEN __attribute__((visibility("hidden")))
struct Stream { virtual ~Stream(); HIDDEN virtual int color(); HIDDEN virtual int flush(); };
struct HIDDEN FileStream : Stream { ~FileStream() override; int flush() override; };
Stream::~Stream() {}
int Stream::color() { return 3; }
int Stream::flush() { return 4; }
FileStream::~FileStream() {}
int FileStream::flush() { return 5; }
Stream *make_stream() { return new FileStream; }
"""


def test_shared_object_symbol_relocations(tmp_path):
    """An exported class's vtable reaches its type_info and name through R_X86_64_64 relocations."""
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed")
    (tmp_path / "stream.cc").write_text(LIBRARY)
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", "libstream.so", "stream.cc"], cwd=tmp_path,
                   check=True, capture_output=True)
    subprocess.run(["strip", "-o", "libstream_stripped.so", "libstream.so"], cwd=tmp_path, check=True)
    result = run_cli("name", str(tmp_path / "libstream_stripped.so"), "--format", "json", "--no_progress")
    assert result.returncode == 0, result.stderr
    truth = _symbols(tmp_path / "libstream.so")
    named = {name: f["name"] for f in json.loads(result.stdout)["functions"]
             for name in truth.get(int(f["address"], 16), ())}
    assert named["Stream::color()"] == "Stream::vfunc_2"
    assert named["Stream::flush()"] == "Stream::vfunc_3"
    assert named["FileStream::flush()"] == "FileStream::vfunc_3"
