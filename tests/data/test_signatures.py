"""Known-function signatures: signed from a library gcc builds here, found again in programs that link it."""

from __future__ import annotations

import json
import subprocess

import pytest

from binbridge.binary import iter_functions
from binbridge.data.names import split_clone_suffix
from binbridge.data.call_keys import MIN_CALL_INSTRUCTIONS
from binbridge.data.signatures import (
    FORMAT_VERSION,
    MIN_INSTRUCTIONS,
    MIN_SHORT_INSTRUCTIONS,
    MIN_SHORT_PROJECTS,
    SHORT_CONFIDENCE,
    NamedCode,
    SignatureIndex,
    build_signature_file,
    exact_key,
    instruction_count,
    work_count,
    load_signatures,
    named_functions,
    shape_text,
)
from binbridge.errors import DatasetError, InputError
from binbridge.inference.predictor import NamePredictor
from tests.cli.cli_helpers import assert_clean_failure, run_cli

LIBRARY = r"""
#include <stdlib.h>
#include <string.h>

struct buffer { char *data; size_t used, size; };

int buffer_grow(struct buffer *b, size_t extra) {
    size_t want = b->used + extra;
    if (want <= b->size) return 0;
    size_t size = b->size ? b->size : 16;
    while (size < want) size *= 2;
    char *data = realloc(b->data, size);
    if (!data) return -1;
    b->data = data;
    b->size = size;
    return 0;
}

int buffer_append(struct buffer *b, const char *text) {
    size_t n = strlen(text);
    if (buffer_grow(b, n + 1)) return -1;
    memcpy(b->data + b->used, text, n + 1);
    b->used += n;
    return 0;
}

unsigned checksum(const unsigned char *p, size_t n) {
    unsigned a = 1, s = 0;
    for (size_t i = 0; i < n; i++) { a = (a + p[i]) % 65521; s = (s + a) % 65521; }
    return (s << 16) | a;
}

int is_empty(const struct buffer *b) { return b->used == 0; }
"""

PROGRAM = r"""
#include <stdio.h>
struct buffer { char *data; unsigned long used, size; };
int buffer_append(struct buffer *b, const char *text);
unsigned checksum(const unsigned char *p, unsigned long n);
int is_empty(const struct buffer *b);
int main(int argc, char **argv) {
    struct buffer b = {0};
    for (int i = 1; i < argc; i++) buffer_append(&b, argv[i]);
    printf("%u %d\n", is_empty(&b) ? 0 : checksum((const unsigned char *)b.data, b.used), is_empty(&b));
    return 0;
}
"""

SIGNED = {"buffer_grow", "buffer_append", "checksum"}


def _compile(gcc, tmp_path, name: str, source: str, *flags: str, archive: str | None = None):
    path = tmp_path / f"{name}.c"
    path.write_text(source)
    libraries = [archive] if archive else []
    subprocess.run([gcc, "-O2", *flags, str(path), *libraries], cwd=tmp_path, check=True, capture_output=True)


@pytest.fixture(scope="module")
def builds(tmp_path_factory, gcc):
    """The library as an archive, a PIE that links it against libc.so, and a stripped static non-PIE."""
    root = tmp_path_factory.mktemp("signatures")
    _compile(gcc, root, "buffer", LIBRARY, "-fPIE", "-c")
    subprocess.run(["ar", "rcs", "libbuffer.a", "buffer.o"], cwd=root, check=True)
    _compile(gcc, root, "main", PROGRAM, "-o", "program_pie", "-pie", "-fPIE", archive="libbuffer.a")
    _compile(gcc, root, "main", PROGRAM, "-o", "program_static", "-static", "-no-pie", archive="libbuffer.a")
    subprocess.run(["strip", "-o", "program_static_stripped", "program_static"], cwd=root, check=True)
    subprocess.run(["strip", "-o", "program_pie_stripped", "program_pie"], cwd=root, check=True)
    return root


def _names_found(index: SignatureIndex, stripped, unstripped) -> dict[str, tuple[str, str]]:
    """Map each true name to (found name, match kind) for the functions the index recognises."""
    truth = {f.address: split_clone_suffix(f.name).base for f in iter_functions(unstripped) if f.name}
    found = {}
    for function in iter_functions(stripped):
        match = index.lookup(function.assembly)
        if match is not None:
            found[truth.get(function.address, "?")] = (match.name, match.kind)
    return found


def test_archive_signatures_name_stripped_pie(builds):
    index = SignatureIndex.build(named_functions(builds / "libbuffer.a"))
    assert set(index.exact.values()) == SIGNED
    found = _names_found(index, builds / "program_pie_stripped", builds / "program_pie")
    assert found == {name: (name, "exact") for name in SIGNED}


def test_static_link_matches_by_shape(builds):
    """In the static non-PIE, realloc is a direct call and addresses load as immediates."""
    index = SignatureIndex.build(named_functions(builds / "program_pie"))
    found = _names_found(index, builds / "program_static_stripped", builds / "program_static")
    assert found["buffer_grow"] == ("buffer_grow", "shape")
    assert found["checksum"] == ("checksum", "exact")
    assert all(found_name == true_name for true_name, (found_name, _) in found.items())


def test_short_functions_are_not_signed(builds):
    short = [c for c in named_functions(builds / "libbuffer.a") if c.name == "is_empty"]
    assert short, "is_empty should be in the archive"
    assert exact_key(short[0].assembly) is None


BODY = "\n".join(["push rbx", "mov rbx, rdi", "call FUNC", "test eax, eax", "jne .L1", "mov eax, 1",
                  "add rax, rbx", "shl rax, 3", "pop rbx", "ret", ".L1:", "xor eax, eax", "pop rbx", "ret"])
OTHER_BODY = BODY.replace("mov eax, 1", "mov eax, 2")


def test_two_names_one_body_unsigned():
    index = SignatureIndex.build([NamedCode("open_file", BODY, "a.o:0"), NamedCode("close_file", BODY, "b.o:0")])
    assert index.lookup(BODY) is None


def test_archive_references_sign_as_linked():
    """In a program, another member's data prints as DATA, as the member's own data does."""
    own = BODY.replace("call FUNC", "lea rdi, [rip + DATA]\ncall FUNC")
    other_member = BODY.replace("call FUNC", "lea rdi, [rip + INTERNAL]\ncall INTERNAL_CODE")
    index = SignatureIndex.build([NamedCode("throw_logic_error", own, "e.o:0"),
                                  NamedCode("throw_domain_error", other_member, "e.o:40")])
    assert exact_key(own) == exact_key(other_member)
    assert index.lookup(own) is None


def test_two_thirds_majority_keeps_a_name():
    functions = [NamedCode("open_file", BODY, f"{n}.o:0") for n in range(2)] + [NamedCode("xopen", BODY, "c.o:0")]
    assert SignatureIndex.build(functions).lookup(BODY).name == "open_file"


def test_aliases_count_once_under_the_plainest_name():
    functions = [NamedCode("_IO_fputs", BODY, "io.o:0"), NamedCode("fputs", BODY, "io.o:0"),
                 NamedCode("_IO_fputs", OTHER_BODY, "other.o:0")]
    index = SignatureIndex.build(functions)
    assert index.lookup(BODY).name == "fputs"
    assert index.lookup(OTHER_BODY).name == "_IO_fputs"


def test_shape_text_address_loads():
    pie = 'lea rdi, [rip + DATA]\nmov rax, qword ptr [rip + DATA]\ncall <malloc>\nlea rsi, [rip + "x"]'
    static = 'mov edi, ADDR\nmov rax, ADDR\ncall FUNC\nmov esi, "x"'
    assert shape_text(pie) == shape_text(static)
    # A load of a variable's value is not an address load, but its operand is an address.
    assert shape_text("mov eax, dword ptr [rip + DATA]") == "mov eax, dword ptr [rip + ADDR]"
    # Non-PIE code may compare with an immediate that lies in a section, so it prints as DATA.
    assert shape_text("cmp ecx, 0x7ffffe") == shape_text("cmp ecx, DATA")
    # A static link turns the GOT load of a thread-local offset into a negative constant.
    assert shape_text("mov rax, qword ptr [rip + DATA]") == shape_text("mov rax, 0xffffffffffffffb8")
    # A function pointer is FUNC in PIE and ADDR in non-PIE code.
    assert shape_text("lea rsi, [rip + FUNC]") == shape_text("mov esi, ADDR")
    assert shape_text("call FUNC\njne .L3") == "call FUNC\njne .L3"


def test_cold_parts_are_not_signed(tmp_path):
    csv_path = tmp_path / "rows.csv"
    header = "function_name,assembly,binary,address,size,arch,project,opt_level,clone_suffix\n"
    rows = [f'parse,"{BODY}",p,0x10,40,x86_64,p,O2,.cold', f'parse,"{OTHER_BODY}",p,0x90,40,x86_64,p,O2,']
    csv_path.write_text(header + "\n".join(rows) + "\n")
    assert [c.assembly for c in named_functions(csv_path)] == [OTHER_BODY]


def test_file_round_trip_and_merge(tmp_path):
    empty = build_signature_file([], tmp_path / "empty.json")
    assert len(empty) == 0
    opener = tmp_path / "opener.json"
    closer = tmp_path / "closer.json"
    opener.write_text(SignatureIndex.build([NamedCode("open_file", BODY, "a:0")]).to_json())
    closer.write_text(SignatureIndex.build([NamedCode("close_file", BODY, "b:0"),
                                         NamedCode("reset", OTHER_BODY, "b:1")]).to_json())
    assert SignatureIndex.load(opener).lookup(BODY).name == "open_file"
    merged = load_signatures([opener, closer])
    assert merged.lookup(BODY) is None
    assert merged.lookup(OTHER_BODY).name == "reset"


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "is not a signature file"),
    ('{"format": "something-else"}', "is not a signature file"),
    (json.dumps({"format": "binbridge-signatures", "version": 99, "min_instructions": MIN_INSTRUCTIONS}),
     "version 99"),
    (json.dumps({"format": "binbridge-signatures", "version": FORMAT_VERSION, "min_instructions": MIN_INSTRUCTIONS,
                 "min_short_instructions": MIN_SHORT_INSTRUCTIONS, "min_call_instructions": MIN_CALL_INSTRUCTIONS,
                 "exact": [], "shape": {}}), "field 'exact'"),
])
def test_bad_signature_files_name_the_path(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=problem) as raised:
        SignatureIndex.load(path)
    assert str(path) in str(raised.value)


def test_cli_signatures_then_name(builds, tmp_path):
    signatures = tmp_path / "buffer.json"
    built = run_cli("signatures", str(builds / "libbuffer.a"), "-o", str(signatures))
    assert built.returncode == 0, built.stderr
    assert "3 exact signatures" in built.stderr
    named = run_cli("name", str(builds / "program_pie_stripped"), "--signatures", str(signatures),
                    "--format", "json", "--no_progress")
    assert named.returncode == 0, named.stderr
    by_source = {}
    for function in json.loads(named.stdout)["functions"]:
        by_source.setdefault(function["source"], set()).add(function["name"])
    assert by_source["signature"] == SIGNED


def test_cli_signature_errors_one_line(builds, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = run_cli("name", str(builds / "program_pie_stripped"), "--signatures", str(bad))
    assert_clean_failure(result, str(bad), "is not a signature file")
    archive = builds / "libbuffer.a"
    result = run_cli("signatures", str(archive), "-o", str(archive))
    assert_clean_failure(result, "output path is the input")
    missing = tmp_path / "missing.a"
    output = tmp_path / "out.json"
    result = run_cli("signatures", str(missing), "-o", str(output))
    assert_clean_failure(result, str(missing))
    assert not output.exists()


TWINS = r"""
int sum_weights(const int *w, int n) { int s = 0; for (int i = 0; i < n; i++) s += w[i] * (i + 3); return s > 99 ? s : -s; }
int sum_scores(const int *w, int n) { int s = 0; for (int i = 0; i < n; i++) s += w[i] * (i + 3); return s > 99 ? s : -s; }
"""


def test_function_sections_are_not_aliases(gcc, tmp_path):
    """With -ffunction-sections both twins start at offset 0 of their own section."""
    _compile(gcc, tmp_path, "twins", TWINS, "-ffunction-sections", "-fno-ipa-icf", "-c")
    subprocess.run(["ar", "rcs", "libtwins.a", "twins.o"], cwd=tmp_path, check=True)
    functions = list(named_functions(tmp_path / "libtwins.a"))
    assert {f.name for f in functions} == {"sum_weights", "sum_scores"}
    assert functions[0].assembly == functions[1].assembly
    assert SignatureIndex.build(functions).lookup(functions[0].assembly) is None


def test_arithmetic_constants_stay_numbers():
    assert shape_text("imul edx, edx, 0x1000193") == "imul edx, edx, 0x1000193"
    assert shape_text("xor eax, 0xbadf00d") == "xor eax, 0xbadf00d"


def test_padding_is_not_counted():
    assert instruction_count("push rbx\nnop\nnop dword ptr [rax]\n.L1:\npop rbx\nret\nint3") == 3


def test_same_file_twice_votes_once(tmp_path):
    opener = tmp_path / "opener.json"
    closer = tmp_path / "closer.json"
    opener.write_text(SignatureIndex.build([NamedCode("open_file", BODY, "a:0")]).to_json())
    closer.write_text(SignatureIndex.build([NamedCode("close_file", BODY, "b:0")]).to_json())
    assert load_signatures([opener, opener, closer]).lookup(BODY) is None


def test_deeply_nested_file_is_one_line_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000)
    with pytest.raises(InputError, match="is not a signature file"):
        SignatureIndex.load(path)


def test_csv_needs_only_name_and_assembly(tmp_path):
    path = tmp_path / "two_columns.csv"
    path.write_text('function_name,assembly\nparse,"' + BODY + '"\n')
    assert [f.name for f in named_functions(path)] == ["parse"]


def test_cli_rejects_input_without_names(builds, tmp_path):
    output = tmp_path / "out.json"
    stripped = builds / "program_pie_stripped"
    result = run_cli("signatures", str(builds / "libbuffer.a"), str(stripped), "-o", str(output))
    assert_clean_failure(result, str(stripped), "no named function")
    assert not output.exists()


def test_cli_name_keeps_signature_file(builds, tmp_path):
    signatures = tmp_path / "buffer.json"
    assert run_cli("signatures", str(builds / "libbuffer.a"), "-o", str(signatures)).returncode == 0
    before = signatures.read_bytes()
    result = run_cli("name", str(builds / "program_pie_stripped"), "--signatures", str(signatures),
                     "-o", str(signatures))
    assert_clean_failure(result, "output path is the input")
    assert signatures.read_bytes() == before


O0_WRAPPER = "\n".join(["push rbp", "mov rbp, rsp", "sub rsp, 0x20", "mov qword ptr [rbp - 8], rdi",
                        "mov qword ptr [rbp - 0x10], rsi", "mov qword ptr [rbp - 0x18], rdx",
                        "mov rdx, qword ptr [rbp - 0x18]", "mov rcx, qword ptr [rbp - 0x10]",
                        "mov rax, qword ptr [rbp - 8]", "mov rsi, rcx", "mov rdi, rax", "call <memcpy>", "leave",
                        "ret"])


def test_o0_wrapper_is_not_signed():
    """At -O0 'return memcpy(d, s, n);' has 14 instructions but does no work of its own."""
    assert instruction_count(O0_WRAPPER) >= 12
    assert work_count(O0_WRAPPER) == 1
    assert exact_key(O0_WRAPPER) is None


def test_rows_without_location_are_not_aliases(tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text(f'function_name,assembly\ngzseek,"{BODY}"\ngzseek64,"{BODY}"\n')
    index = SignatureIndex.build(named_functions(path))
    assert index.lookup(BODY) is None


def test_short_row_is_dataset_error(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("function_name,assembly\nparse\n")
    with pytest.raises(DatasetError, match="row 2"):
        list(named_functions(path))


def test_rows_without_names_are_rejected(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text(f'function_name,assembly\n,"{BODY}"\n')
    with pytest.raises(InputError, match="no named function"):
        build_signature_file([path], tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


def test_user_signatures_win_over_model():
    user = SignatureIndex.build([NamedCode("list_free", BODY, "a:0")])
    shipped = SignatureIndex.build([NamedCode("jent_memset_secure", BODY, "b:0")])
    predictor = NamePredictor.__new__(NamePredictor)  # known_name needs no model
    predictor.signatures, predictor.string_names = [user, shipped], False
    assert predictor.known_name(BODY).name == "list_free"


def test_input_under_two_paths_counts_once(tmp_path, monkeypatch):
    """``mine.csv`` and ``./mine.csv`` are one file, so it must not outvote ``theirs.csv``."""
    monkeypatch.chdir(tmp_path)
    for file, name in (("mine.csv", "open_file"), ("theirs.csv", "close_file")):
        (tmp_path / file).write_text(f'function_name,assembly\n{name},"{BODY}"\n')
    index = build_signature_file(["mine.csv", "./mine.csv", "theirs.csv"], tmp_path / "out.json")
    assert index.lookup(BODY) is None


# gnulib's xmalloc as GNU programs compile it: 7 instructions, too short for the exact and shape keys.
XMALLOC = "\n".join(["push rbx", "call <malloc>", "test rax, rax", "je .L1", "pop rbx", "ret", ".L1:", "call FUNC"])


def short_copies(name: str, projects: int, body: str = XMALLOC) -> list[NamedCode]:
    return [NamedCode(name, body, f"prog{n}:0x10", f"project{n}") for n in range(projects)]


def test_short_function_signed_by_agreeing_projects():
    assert exact_key(XMALLOC) is None
    index = SignatureIndex.build(short_copies("xmalloc", MIN_SHORT_PROJECTS))
    match = index.lookup(XMALLOC)
    assert match.name == "xmalloc"
    assert match.kind == "short"
    assert match.confidence == SHORT_CONFIDENCE


def test_short_function_of_too_few_projects_unsigned():
    functions = short_copies("xmalloc", MIN_SHORT_PROJECTS - 1)
    # Copies within one project (opt levels, a library and its relinked twin) count as one.
    functions += [NamedCode("xmalloc", XMALLOC, f"prog0:0x{n}0", "project0") for n in range(2, 6)]
    assert SignatureIndex.build(functions).lookup(XMALLOC) is None


def test_short_function_needs_two_thirds_of_projects():
    # gnulib's xcharalloc compiles to xmalloc's code, in fewer projects.
    functions = short_copies("xmalloc", 5) + [NamedCode("xcharalloc", XMALLOC, "other:0x10", "other")]
    assert SignatureIndex.build(functions).lookup(XMALLOC).name == "xmalloc"
    split = short_copies("xmalloc", 3) + [NamedCode("ck_malloc", XMALLOC, f"o{n}:0x10", f"o{n}") for n in range(2)]
    assert SignatureIndex.build(split).lookup(XMALLOC) is None


def test_very_short_function_never_signed():
    tiny = "mov eax, 1\nret"
    assert SignatureIndex.build(short_copies("return_one", 10, tiny)).lookup(tiny) is None


def test_short_signatures_round_trip_and_merge(tmp_path):
    first = tmp_path / "first.json"
    second = tmp_path / "second.json"
    first.write_text(SignatureIndex.build(short_copies("xmalloc", MIN_SHORT_PROJECTS)).to_json())
    second.write_text(SignatureIndex.build(short_copies("xalloc", MIN_SHORT_PROJECTS)).to_json())
    assert SignatureIndex.load(first).lookup(XMALLOC).name == "xmalloc"
    assert load_signatures([first]).lookup(XMALLOC).name == "xmalloc"
    assert load_signatures([first, second]).lookup(XMALLOC) is None


def test_one_vote_per_project_for_plainest_name():
    functions = []
    for project in ("grep", "sed", "tar"):
        for offset, name in enumerate(("xcharalloc", "xmalloc", "ximalloc")):
            functions.append(NamedCode(name, XMALLOC, f"{project}:0x{offset}0", project))
    assert SignatureIndex.build(functions).lookup(XMALLOC).name == "xmalloc"


def test_csv_rows_grouped_by_project(tmp_path):
    csv_path = tmp_path / "rows.csv"
    header = "function_name,assembly,project\n"
    rows = [f'xmalloc,"{XMALLOC}",{project}' for project in ("grep", "sed", "tar")]
    csv_path.write_text(header + "\n".join(rows) + "\n")
    functions = list(named_functions(csv_path))
    assert [function.group for function in functions] == ["grep", "sed", "tar"]
    assert SignatureIndex.build(functions).lookup(XMALLOC).name == "xmalloc"


def test_copies_of_one_input_are_one_project(builds, tmp_path):
    copies = []
    for number in range(3):
        copy = tmp_path / f"copy{number}.a"
        copy.write_bytes((builds / "libbuffer.a").read_bytes())
        copies.append(copy)
    functions = [function for path in copies for function in named_functions(path)]
    assert len({function.group for function in functions}) == 1


def test_forwarder_never_short_signed():
    # An -O0 one-call forwarder: 9 instructions, but the call is its only work.
    forwarder = "\n".join(["push rbp", "mov rbp, rsp", "sub rsp, 0x10", "mov qword ptr [rbp - 8], rdi",
                           "mov rax, qword ptr [rbp - 8]", "mov rdi, rax", "call <malloc>", "leave", "ret"])
    assert SignatureIndex.build(short_copies("XXH_malloc", 5, forwarder)).lookup(forwarder) is None


def test_signature_name_with_newline_rejected(tmp_path):
    index = SignatureIndex.build(short_copies("xmalloc", MIN_SHORT_PROJECTS))
    data = json.loads(index.to_json())
    data["short"] = {key: "x\nmalloc" for key in data["short"]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="control character"):
        SignatureIndex.load(path)


def test_empty_string_body_never_short_signed():
    # A 256-bit table whose first byte is 0 prints as "", so every such lookup looks alike.
    lookup = "\n".join(["mov eax, edi", "lea rdx, [rip + \"\"]", "shr al, 5", "movzx eax, al",
                        "mov eax, dword ptr [rdx + rax*4]", "shr eax, cl", "and eax, 1", "ret"])
    assert SignatureIndex.build(short_copies("is_basic", 5, lookup)).lookup(lookup) is None
