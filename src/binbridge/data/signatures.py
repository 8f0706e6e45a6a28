"""Known-function signatures: names of library functions recognised by their normalised code.

Stripped programs often carry whole functions of libraries that Binbridge
has seen: statically linked libc, zlib or OpenSSL, or a vendored copy of a
library. Disassemblers recognise these with signature files (IDA's FLIRT,
Ghidra's Function ID). Binbridge does the same with the normalised assembly
of its corpus. The normaliser prints no addresses (internal calls are
``FUNC``, data is ``DATA``, jumps are relative labels), so a function
compiled once has the same text in every program that links it.

Two keys are stored per function:

* ``exact``: a hash of the normalised text, with an archive member's
  references written as a linked file prints them (``linked_text``).
* ``shape``: a hash of ``shape_text``, which also drops what the link decides:
  which import a call reaches (``call <malloc>`` in a dynamic program is a
  direct call in a static one) and how an address is loaded (PIE, non-PIE,
  GOT).

A key keeps the name of at least two thirds of the functions that have it.
Only functions of at least ``MIN_INSTRUCTIONS`` instructions (alignment
padding not counted) get both keys, so that short, common bodies
(``xor eax, eax; ret``) name nothing. A shorter function of at least
``MIN_SHORT_INSTRUCTIONS`` gets a third key, ``short`` (its exact key), only
when ``MIN_SHORT_PROJECTS`` projects have that code under one name, and that
name has two thirds of the projects' votes, as the gnulib copies of
``xmalloc`` in many GNU programs do.

A fourth key, ``calls``, adds the names of the functions that a function calls
(``binbridge.data.call_keys``). It names the wrappers that are too short for
the other keys once their callees are known. Call keys are voted on as short
keys are, and one project is enough.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from binbridge.binary import iter_functions
from binbridge.binary.normalize import PADDING_MNEMONICS
from binbridge.binary.runtime import SOURCE_RUNTIME
from binbridge.binary.space import IMPORT_PATTERN, INTERNAL, INTERNAL_CODE
from binbridge.data.call_keys import (MIN_CALL_INSTRUCTIONS, CallKeyPrefix, call_key_prefix, corpus_callee, func_branch_count,
                                      internal_targets, parse_callees)
from binbridge.data.names import split_clone_suffix
from binbridge.data.schema import iter_rows
from binbridge.errors import DatasetError, InputError
from binbridge.outputs import atomic_output
from binbridge.progress import progress

logger = logging.getLogger(__name__)

SOURCE_SIGNATURE = "signature"
SIGNATURE_FILE = "signatures.json"
# Dataset columns that signing reads; binary and address, when present, tell aliases apart.
SIGNATURE_COLUMNS = ("function_name", "assembly")
FORMAT = "binbridge-signatures"
FORMAT_VERSION = 8
MIN_INSTRUCTIONS = 12
# Instructions other than moves, stack frame and padding (see work_count).
MIN_WORK = 3
# A shorter function is signed by its exact key when this many projects (or input files) have its
# code under one name. Measured on held-out projects in docs/BENCHMARKS.md.
# NOTE: a short key can still name unrelated code that compiles alike: flex's yy_fatal_error matches
# any fprintf-then-exit helper, and a wrapper written like gnulib's gets gnulib's name (xmalloc).
MIN_SHORT_INSTRUCTIONS = 7
MIN_SHORT_WORK = 2
MIN_SHORT_PROJECTS = 3
_BOOKKEEPING = frozenset({"mov", "movzx", "movsx", "movsxd", "movq", "movd", "movaps", "movups", "movdqa",
                          "movdqu", "movss", "movsd", "lea", "push", "pop", "ret", "leave", "endbr64"})
# Measured precision against debug symbols is in docs/BENCHMARKS.md ("Known-function signatures").
EXACT_CONFIDENCE = 0.95
SHAPE_CONFIDENCE = 0.85
SHORT_CONFIDENCE = 0.8
CALLS_CONFIDENCE = 0.8
_CONFIDENCE = {"exact": EXACT_CONFIDENCE, "shape": SHAPE_CONFIDENCE, "short": SHORT_CONFIDENCE,
               "calls": CALLS_CONFIDENCE}
_TABLES = ("exact", "shape", "short", "calls")
_KEY_HEX_DIGITS = 16
# A symbol name as a table or CSV can show it: no whitespace and no control characters.
_SYMBOL_NAME = re.compile(r"[^\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")
_INTERNAL_CODE = re.compile(rf"\b{INTERNAL_CODE}\b")
_INTERNAL_DATA = re.compile(rf"\b{INTERNAL}\b")
_NUMBERED_REGISTERS = frozenset(f"r{n}" for n in range(8, 16))
# A rip-relative operand that is not a string: a GOT entry, a variable or a function.
_RIP_TARGET = re.compile(r"\[rip \+ (?:FUNC|DATA)\]")
# An operand that non-PIE code writes as an immediate: ADDR, or DATA (an immediate in a section).
_IMMEDIATE_ADDRESS = re.compile(r"(?<![\[\w])(?:ADDR|DATA)\b")
# A register mov or cmp with a number, or a push of one, from 0x400000 (where non-PIE programs
# start) up to 32 bits. In non-PIE code such a number may lie in a section, and the normaliser
# then prints it as DATA. Also a mov of a small negative number into a register, because a static
# link turns the GOT load of a thread-local variable's offset into that constant.
# Stores and arithmetic constants (imul, xor) stay numbers.
_NUMBER_OPERAND = re.compile(r"^(?:((?:mov|cmp) [a-z0-9]+, |push )0x(?:[4-9a-f][0-9a-f]{5}|[0-9a-f]{7,8})"
                             r"|(mov [a-z0-9]+, )0xffffffff[0-9a-f]{8})$")
# lea/mov REG, [rip + TARGET] (with "qword ptr" for a GOT load), or mov REG, TARGET for an absolute one.
_TARGET = r'ADDR|"(?:[^"\\]|\\.)*"'
_ADDRESS_LOAD = re.compile(rf"^(?:lea|mov) (\w+), (?:qword ptr )?(?:\[rip \+ ({_TARGET})\]|({_TARGET}))$", re.MULTILINE)


@dataclass(frozen=True)
class SignatureMatch:
    name: str
    kind: str  # "exact", "shape", "short" or "calls"

    @property
    def confidence(self) -> float:
        return _CONFIDENCE[self.kind]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_KEY_HEX_DIGITS]


def instruction_count(assembly: str) -> int:
    """Count the instruction lines of normalised assembly, without labels and alignment padding."""
    return sum(1 for line in assembly.splitlines()
               if line and not line.endswith(":") and line.split(" ", 1)[0] not in PADDING_MNEMONICS)


def work_count(assembly: str) -> int:
    """Count the instructions that compute or branch: not moves, stack frame or padding.

    At -O0 a one-line forwarder (``return memcpy(d, s, n);``) spills and reloads every argument
    and reaches 12 instructions. Its only work is the call, so this count is 1.
    """
    count = 0
    for line in assembly.splitlines():
        if not line or line.endswith(":"):
            continue
        mnemonic, _, operands = line.partition(" ")
        if mnemonic in _BOOKKEEPING or mnemonic in PADDING_MNEMONICS:
            continue
        if mnemonic in ("sub", "add") and operands.startswith("rsp, "):
            continue
        count += 1
    return count


def is_signable(assembly: str) -> bool:
    """Whether a function is long enough, and does enough, for its code to identify it."""
    return instruction_count(assembly) >= MIN_INSTRUCTIONS and work_count(assembly) >= MIN_WORK


def is_short_signable(assembly: str) -> bool:
    """Whether a function too short for ``is_signable`` may still be signed by the agreement of projects."""
    return not is_signable(assembly) and _long_enough_for_short(assembly)


def _long_enough_for_short(assembly: str) -> bool:
    """Apply the short-key thresholds to a function that ``is_signable`` already rejected."""
    # An empty string is also how a table whose first byte is 0 prints, so every such table looks alike.
    return (instruction_count(assembly) >= MIN_SHORT_INSTRUCTIONS and work_count(assembly) >= MIN_SHORT_WORK
            and '""' not in assembly)


def linked_text(assembly: str) -> str:
    """Write an archive member's references as a linked file prints them.

    In a static archive, a reference to a symbol of another member prints as
    ``INTERNAL_CODE`` (a function) or ``INTERNAL`` (data). Once linked, the same
    reference prints as ``FUNC`` or ``DATA``. Without this, two functions that
    differ only in which member's data they read (``std::__throw_logic_error`` and
    ``std::__throw_domain_error``) sign apart in the archive but look alike in a program.
    """
    return _INTERNAL_DATA.sub("DATA", _INTERNAL_CODE.sub("FUNC", assembly.strip()))


@dataclass(frozen=True)
class SignatureKeys:
    """The two keys of one function (see the module docstring)."""

    exact: str
    shape: str


def signature_keys(assembly: str) -> SignatureKeys | None:
    """Return both keys of normalised assembly, or None when ``is_signable`` rejects it."""
    if not is_signable(assembly):
        return None
    return SignatureKeys(_digest(linked_text(assembly)), _digest(shape_text(assembly)))


def exact_key(assembly: str) -> str | None:
    """Return the exact signature key of normalised assembly, or None when ``is_signable`` rejects it."""
    return _digest(linked_text(assembly)) if is_signable(assembly) else None


def _full_register(name: str) -> str:
    """``edi`` -> ``rdi``, ``r8d`` -> ``r8``; other names are returned unchanged."""
    if name.endswith("d") and name[:-1] in _NUMBERED_REGISTERS:
        return name[:-1]
    if len(name) == 3 and name[0] == "e":
        return "r" + name[1:]
    return name


def _address_load(match: re.Match) -> str:
    return f"addr {_full_register(match.group(1))}, {match.group(2) or match.group(3)}"


def shape_text(assembly: str) -> str:
    """Rewrite what linking decides and the code does not: which import a call reaches, and how an address loads.

    A call to an import (``call <malloc>``) becomes ``call FUNC``, as in a static link. Every
    address that is not a string becomes ``ADDR``: a rip-relative ``FUNC`` or ``DATA`` (PIE),
    an absolute ``ADDR`` or an immediate in a section (non-PIE). An address load then becomes
    ``addr REG, TARGET`` whether it is ``lea rdi, [rip + DATA]``, ``mov edi, ADDR`` (non-PIE,
    or a GOT load that the linker relaxed) or a GOT load ``mov rdi, qword ptr [rip + DATA]``,
    so the same object file signs alike in each link.
    """
    text = IMPORT_PATTERN.sub("FUNC", linked_text(assembly))
    text = _RIP_TARGET.sub("[rip + ADDR]", text)
    text = "\n".join(_shape_line(line) for line in text.splitlines())
    return _ADDRESS_LOAD.sub(_address_load, text)


def _shape_line(line: str) -> str:
    """Write the immediate addresses of one line as ``ADDR``; a direct call or jump keeps its target."""
    if line.startswith(("call ", "jmp ")) or line.startswith("j") and " ." in line:
        return line
    return _IMMEDIATE_ADDRESS.sub("ADDR", _NUMBER_OPERAND.sub(lambda m: f"{m.group(1) or m.group(2)}ADDR", line))


def shape_key(assembly: str) -> str | None:
    """Return the key of ``shape_text``, or None when ``is_signable`` rejects it."""
    return _digest(shape_text(assembly)) if is_signable(assembly) else None


@dataclass
class SignatureIndex:
    """Signature keys mapped to function names, read from or written to a JSON file."""

    exact: dict[str, str] = field(default_factory=dict)
    shape: dict[str, str] = field(default_factory=dict)
    short: dict[str, str] = field(default_factory=dict)
    """Exact keys of short functions (see ``is_short_signable``)."""
    calls: dict[str, str] = field(default_factory=dict)
    """Call keys: code and callee names (see ``binbridge.data.call_keys``)."""
    description: str = ""

    min_instructions: int = MIN_INSTRUCTIONS

    def __len__(self) -> int:
        return len(self.exact)

    @classmethod
    def build(cls, functions: Iterable[NamedCode], description: str = "") -> "SignatureIndex":
        """Index named functions.

        Aliases (several names at one location, such as ``fputs`` and ``_IO_fputs``) count once,
        under the name with the fewest leading underscores, then the shortest. A key keeps the
        name of at least two thirds of the distinct functions that have it, and is dropped otherwise.
        A short key counts groups (``NamedCode.group``, a project) instead of functions, each for
        the plainest name that it gives the code: the name must have at least ``MIN_SHORT_PROJECTS``
        votes and two thirds of them. Call keys count groups the same way, and one vote is enough.
        Names that a signature file may not hold (with spaces or control characters) are skipped.
        """
        aliases: dict[str, tuple[str, SignatureKeys]] = {}
        short_aliases: dict[str, tuple[str, str]] = {}
        call_aliases: dict[str, tuple[str, str]] = {}
        skipped = 0
        for function in functions:
            if not function.name:
                continue
            if not _SYMBOL_NAME.fullmatch(function.name):
                skipped += 1
                continue
            call_key = function_call_key(function.assembly, function.callees)
            if call_key is not None:
                _keep_alias(call_aliases, f"{function.group}\0{call_key}", (function.name, call_key))
            keys = signature_keys(function.assembly)
            if keys is not None:
                _keep_alias(aliases, f"{function.location}:{keys.exact}", (function.name, keys))
            elif _long_enough_for_short(function.assembly):  # signature_keys rejected it
                # One vote per group and code, for the plainest of the group's names for it: gnulib's
                # xmalloc, ximalloc and xcharalloc are three functions with one body in every program.
                key = _digest(linked_text(function.assembly))
                _keep_alias(short_aliases, f"{function.group}\0{key}", (function.name, key))
        exact_names: dict[str, Counter[str]] = defaultdict(Counter)
        shape_names: dict[str, Counter[str]] = defaultdict(Counter)
        for name, keys in aliases.values():
            exact_names[keys.exact][name] += 1
            shape_names[keys.shape][name] += 1
        if skipped:
            logger.warning("skipped %d functions whose names contain a space or a control character", skipped)
        return cls(exact=_majority(exact_names), shape=_majority(shape_names),
                   short=_group_majority(short_aliases.values(), MIN_SHORT_PROJECTS),
                   calls=_group_majority(call_aliases.values(), 1), description=description)

    def lookup(self, assembly: str) -> SignatureMatch | None:
        """Return the known name of a function's normalised assembly, or None."""
        if not is_signable(assembly):
            if not self.short or not _long_enough_for_short(assembly):
                return None
            short = self.short.get(_digest(linked_text(assembly)))
            return SignatureMatch(short, "short") if short else None
        exact = self.exact.get(_digest(linked_text(assembly)))
        if exact:
            return SignatureMatch(exact, "exact")
        shape = self.shape.get(_digest(shape_text(assembly)))  # computed only when the exact key misses
        return SignatureMatch(shape, "shape") if shape else None

    def lookup_calls(self, prefix: CallKeyPrefix, callees: list[str]) -> SignatureMatch | None:
        """Return the known name of a function's code with these callee names (see ``call_key_prefix``)."""
        key = prefix.key(callees) if self.calls else None
        name = self.calls.get(key) if key else None
        return SignatureMatch(name, "calls") if name else None

    def to_json(self) -> str:
        data = {"format": FORMAT, "version": FORMAT_VERSION, "description": self.description,
                "min_instructions": MIN_INSTRUCTIONS, "min_short_instructions": MIN_SHORT_INSTRUCTIONS,
                "min_short_projects": MIN_SHORT_PROJECTS, "min_call_instructions": MIN_CALL_INSTRUCTIONS,
                "exact": self.exact, "shape": self.shape, "short": self.short, "calls": self.calls}
        return json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "SignatureIndex":
        """Read a signature file written by ``binbridge signatures``."""
        path = Path(path)
        if path.is_dir():
            raise InputError(path, "is a directory, not a signature file", "pass the .json file that "
                             "'binbridge signatures' wrote")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            problem = "nests too deeply" if isinstance(error, RecursionError) else str(error)
            raise InputError(path, f"is not a signature file ({problem})",
                             "rebuild it with 'binbridge signatures'") from error
        return cls._from_data(path, data)

    @classmethod
    def _from_data(cls, path: Path, data: object) -> "SignatureIndex":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(path, f"is not a signature file (no \"format\": \"{FORMAT}\")",
                             "rebuild it with 'binbridge signatures'")
        expected = {"version": FORMAT_VERSION, "min_instructions": MIN_INSTRUCTIONS,
                    "min_short_instructions": MIN_SHORT_INSTRUCTIONS, "min_call_instructions": MIN_CALL_INSTRUCTIONS}
        for field_name, value in expected.items():
            if field_name not in data:
                raise InputError(path, f"has no field {field_name!r}", "rebuild it with this version's "
                                 "'binbridge signatures' (for a model folder's signatures.json, pass "
                                 "--no_signatures to ignore it)")
            if data.get(field_name) != value:
                raise InputError(path, f"has signature {field_name} {data.get(field_name)!r}; this Binbridge reads "
                                 f"{field_name} {value}", "rebuild it with this version's 'binbridge signatures' "
                                 "(for a model folder's signatures.json, pass --no_signatures to ignore it)")
        tables = {}
        for table in _TABLES:
            value = data.get(table)
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                      for k, v in value.items()):
                raise InputError(path, f"field {table!r} is not an object of key to name strings",
                                 "rebuild it with 'binbridge signatures'")
            bad = next((name for name in value.values() if not _SYMBOL_NAME.fullmatch(name)), None)
            if bad is not None:
                raise InputError(path, f"field {table!r} has the name {bad!r}, which contains a space or "
                                 "a control character", "rebuild it with 'binbridge signatures'")
            tables[table] = value
        return cls(**tables, description=str(data.get("description", "")))


@dataclass(frozen=True)
class NamedCode:
    """A named function to sign: ``location`` identifies it, so that its aliases count once."""

    name: str
    assembly: str
    location: str
    group: str = ""
    """Project or input file: a short function is signed only when several groups agree on its name."""
    callees: tuple[str, ...] = ()
    """Names of the functions that its ``FUNC`` branches reach (``binbridge.data.call_keys``); empty if unknown."""


def function_call_key(assembly: str, callees: tuple[str, ...]) -> str | None:
    """Return the call key of a named function, or None when it has none or a callee is unknown."""
    if not callees:
        return None
    text = linked_text(assembly)
    prefix = call_key_prefix(text, instruction_count(text), len(callees))
    return prefix.key(callees) if prefix is not None else None


def _keep_alias(chosen: dict[str, tuple], identity: str, entry: tuple) -> None:
    """Keep one entry per identity (location and code): the one whose name (entry[0]) ranks first."""
    current = chosen.get(identity)
    if current is None or _alias_rank(entry[0]) < _alias_rank(current[0]):
        chosen[identity] = entry


def _alias_rank(name: str) -> tuple[int, int, str]:
    return len(name) - len(name.lstrip("_")), len(name), name


def _group_majority(votes: Iterable[tuple[str, str]], minimum: int) -> dict[str, str]:
    """Keep each key whose majority name (two thirds) has at least ``minimum`` group votes."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for name, key in votes:
        counts[key][name] += 1
    return {key: name for key, name in _majority(counts).items() if counts[key][name] >= minimum}


def _majority(names: dict[str, Counter[str]]) -> dict[str, str]:
    """Keep each key whose most common name covers at least two thirds of its functions."""
    named = {}
    for key, counts in names.items():
        name, count = counts.most_common(1)[0]
        if 3 * count >= 2 * sum(counts.values()):
            named[key] = name
    return named


def load_signatures(paths: Iterable[str | os.PathLike[str]]) -> SignatureIndex:
    """Read and merge signature files; a key that two files name differently is dropped."""
    merged: dict[str, dict[str, Counter[str]]] = {table: defaultdict(Counter) for table in _TABLES}
    for path in _distinct_files(paths):  # a file named twice votes once
        index = SignatureIndex.load(path)
        for table in _TABLES:
            for key, name in getattr(index, table).items():
                merged[table][key][name] += 1
    return SignatureIndex(**{table: _majority(names) for table, names in merged.items()})


def row_location(binary: str, address: str, row: int) -> str:
    """Return the location of a dataset row, which identifies its aliases.

    In a linked file two symbols at one address are aliases. A dataset row from an archive
    member has only an offset in its section. With -ffunction-sections every function starts
    at offset 0 of its own section, so such a row gets a location of its own. So does a row
    without binary or address.
    """
    if not binary or not address or ".a:" in binary or binary.endswith(".o"):
        return f"{binary}:{address}#{row}"
    return f"{binary}:{address}"


def row_code(function_name: str, clone_suffix: str, assembly: str, binary: str, address: str,
             row: int, group: str = "", callees: str = "") -> NamedCode | None:
    """Return a dataset row's function to sign, or None for a row without a name and for a ``.cold`` part.

    ``callees`` is the row's ``callees`` cell; it is ignored unless it names one callee per ``FUNC`` branch.
    """
    name = split_clone_suffix(function_name)
    if not name.base or is_cold_part(clone_suffix or name.clone_suffix):
        return None
    names = tuple(split_clone_suffix(callee).base for callee in parse_callees(callees)) if callees else ()
    if names and (len(names) != func_branch_count(assembly) or not all(map(_SYMBOL_NAME.fullmatch, names))):
        names = ()
    return NamedCode(name.base, assembly, row_location(binary, address, row), group, names)


def is_cold_part(clone_suffix: str) -> bool:
    """A ``.cold`` part is an error path split off a function, not a function: it is not signed."""
    return ".cold" in clone_suffix


def named_functions(path: str | os.PathLike[str]) -> Iterator[NamedCode]:
    """Yield the named functions of a dataset CSV or a binary, with their normalised assembly.

    Clone suffixes are dropped (``inflate_fast.part.0`` is signed as ``inflate_fast``). Functions
    without a symbol and ``.cold`` parts are skipped. A CSV row's group is its ``project`` (else
    the file's content), and a binary's functions have the binary's content as their group.
    """
    group = _file_digest(path)  # copies of one file are one group
    if os.fspath(path).lower().endswith(".csv"):
        for number, row in enumerate(iter_rows(path, SIGNATURE_COLUMNS)):
            if row.get("assembly") is None:
                raise DatasetError(path, f"row {number + 2} has fewer cells than the header",
                                   "fix or regenerate the file")
            code = row_code(row["function_name"] or "", row.get("clone_suffix") or "", row["assembly"],
                            row.get("binary") or os.fspath(path), row.get("address") or "", number,
                            row.get("project") or group, row.get("callees") or "")
            if code is not None:
                yield code
        return
    functions = [f for f in iter_functions(path) if f.source != SOURCE_RUNTIME]  # runtime: named from the headers
    symbols = {f.address: f.name for f in functions if f.name and not f.binary.startswith(os.fspath(path) + ":")}
    for function in functions:
        name = split_clone_suffix(function.name or "")
        if name.base and not is_cold_part(name.clone_suffix):
            # A relocatable object's addresses are offsets in each section.
            location = f"{function.binary}:{function.section}:{function.address:x}"
            callees = tuple(corpus_callee(function.address, function.name, target, symbols)
                            for target in internal_targets(function.outside_branches))
            yield NamedCode(name.base, function.assembly, location, group, callees)


def _file_digest(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return os.path.realpath(path)  # reading the file itself reports the problem
    return digest.hexdigest()


def _each_input_named(inputs: Iterable[str | os.PathLike[str]]) -> Iterator[NamedCode]:
    """Yield the named functions of every input; an input without one is an error."""
    for path in inputs:
        found = 0
        for function in named_functions(path):
            found += 1
            yield function
        if not found:
            raise InputError(path, "contains no named function (stripped, or data only)",
                             "pass an unstripped binary or archive, or a dataset CSV with function names")


def _distinct_files(paths: Iterable[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    """Keep the first of the paths that name one file (``a.a``, ``./a.a``, a symlink), so it counts once."""
    seen: set[str] = set()
    distinct = []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            distinct.append(path)
    return distinct


def build_signature_file(inputs: Iterable[str | os.PathLike[str]], output: str | os.PathLike[str],
                         description: str = "", show_progress: bool = False) -> SignatureIndex:
    """Sign the named functions of ``inputs`` and write the index to ``output`` (replaced atomically)."""
    inputs = _distinct_files(inputs)
    functions = progress(_each_input_named(inputs), enabled=show_progress, desc="signing", unit="fn")
    index = SignatureIndex.build(functions, description=description)
    with atomic_output(output) as handle:
        handle.write(index.to_json())
    logger.info("wrote %d exact and %d shape signatures to %s", len(index.exact), len(index.shape), output)
    return index
