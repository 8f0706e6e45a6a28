"""Name every function of a binary: symbol names where the binary has them, predictions elsewhere."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

from binbridge.binary import (
    BinaryInfo,
    ExtractedFunction,
    describe_binary,
    function_names,
    iter_functions,
)
from binbridge.binary.fragments import find_cold_parents, span_of
from binbridge.binary.inputs import open_input
from binbridge.binary.runtime import SOURCE_RUNTIME
from binbridge.data.signatures import SOURCE_SIGNATURE
from binbridge.inference.call_names import CallContext
from binbridge.inference.class_names import ClassInputs, PresetName, class_names
from binbridge.inference.predictor import LIBRARY_KINDS, NamePredictor
from binbridge.inference.string_names import SOURCE_STRING, STRING_NAME_CONFIDENCE, imported_names, string_name
from binbridge.inference.unique import make_names_unique
from binbridge.inference.word_names import SOURCE_WORDS, prefix_strings
from binbridge.progress import progress_bar

logger = logging.getLogger(__name__)

SOURCE_SYMBOL = "symbol"
SOURCE_MODEL = "model"
# Sources of names that a model guessed: the decoder's and the name-word model's.
MODEL_SOURCES = (SOURCE_MODEL, SOURCE_WORDS)
SOURCE_COLD = "cold"
COLD_SUFFIX = ".cold"
_COLD_SYMBOL = re.compile(r"(.+)\.cold(?:\.\d+)?$")


@dataclass
class NamedFunction:
    address: int
    size: int
    name: str
    confidence: float
    # "symbol", "runtime" (GCC start-up code, see binary.runtime), "signature", "rtti" (a C++ virtual
    # function, see inference.class_names), "string" (a __func__ string, see inference.string_names),
    # "cold", "words" (the name-word model, see inference.word_names) or "model" (the decoder)
    source: str
    analysis: str = ""
    # Archive member (``adler32.o``) of a function read from a .a file, whose address is an
    # offset in that member's section; None for ELF files.
    member: str | None = None

    def to_dict(self, with_analysis: bool = False) -> dict:
        data = asdict(self)
        data["address"] = f"0x{self.address:x}"
        data["confidence"] = round(self.confidence, 4)
        if not with_analysis:
            data.pop("analysis")
        if self.member is None:
            data.pop("member")
        return data


@dataclass
class BinaryNaming:
    info: BinaryInfo
    functions: list[NamedFunction] = field(default_factory=list)


def _chunks(functions: Iterator[ExtractedFunction], size: int) -> Iterator[list[ExtractedFunction]]:
    chunk: list[ExtractedFunction] = []
    for function in functions:
        chunk.append(function)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def iter_named_functions(path: str | os.PathLike[str], predictor: NamePredictor | None, *,
                         chunk_size: int = 512, rename_symbols: bool = False, show_progress: bool = False,
                         unnamed: frozenset[int] = frozenset(),
                         preset: dict[int, PresetName] | None = None,
                         info: BinaryInfo | None = None, symbol_names: Sequence[str] = (),
                         strings: Iterable[str] = ()) -> Iterator[NamedFunction]:
    """Yield named functions in address order, predicting in chunks so memory stays bounded.

    ``predictor`` may be None when every function has a symbol; a function
    without one then raises ValueError. With ``rename_symbols`` the model names
    every function, symbol or not (useful to compare against the symbols).
    Functions at the addresses in ``unnamed`` (cold parts, named later by
    ``name_binary``) come back with an empty name and source ``cold``. Functions in ``preset``
    (call keys and RTTI, found during ``name_binary``'s first read) get those names without the model.
    ``info`` (``describe_binary``: kind and SONAME), ``symbol_names`` (the names the binary
    keeps, such as a shared library's exports) and ``strings`` (its read-only strings) tell the
    name-word model the library prefix (``NamePredictor.prefix_for``).
    """
    bar = progress_bar(enabled=show_progress, desc=f"naming {os.path.basename(path)}", unit="fn")
    try:
        yield from _named_chunks(path, predictor, chunk_size, rename_symbols, unnamed, preset or {}, bar, info,
                                 symbol_names, strings)
    finally:
        bar.close()


def _named_chunks(path, predictor, chunk_size: int, rename_symbols: bool, unnamed: frozenset[int],
                  preset: dict[int, PresetName], bar, info: BinaryInfo | None,
                  symbol_names: Sequence[str], strings: Iterable[str]) -> Iterator[NamedFunction]:
    """Yield the named functions of ``path`` chunk by chunk, advancing ``bar`` after each chunk."""
    member_prefix = os.fspath(path) + ":"
    prefix: str | None = None
    prefix_read = False  # the prefix is read once per binary, when the first function needs the model
    for chunk in _chunks(iter_functions(path), chunk_size):
        to_predict = [f for f in chunk if (rename_symbols or not f.name) and f.address not in unnamed
                      and f.address not in preset]
        predictions = {}
        if to_predict:
            if predictor is None:
                raise ValueError("functions without symbols need a model")
            if not isinstance(predictor, NamePredictor):
                predictor = predictor()  # a factory: load the model only once a function needs it
            if not prefix_read:
                prefix = (predictor.prefix_for(path, info.soname, info.kind, symbol_names, strings) if info
                          else predictor.prefix_for(path, symbol_names=symbol_names, strings=strings))
                prefix_read = True
            generated = predictor.predict([f.assembly for f in to_predict], prefixes=[prefix] * len(to_predict))
            predictions = {id(f): g for f, g in zip(to_predict, generated)}
        for function in chunk:
            prediction = predictions.get(id(function))
            member = function.binary[len(member_prefix):] if function.binary.startswith(member_prefix) else None
            if function.address in unnamed:
                yield NamedFunction(function.address, function.size, "", 0.0, SOURCE_COLD, member=member)
            elif function.address in preset:
                known = preset[function.address]
                yield NamedFunction(function.address, function.size, known.name, known.confidence, known.source,
                                    member=member)
            elif prediction is None:
                source = SOURCE_RUNTIME if function.source == SOURCE_RUNTIME else SOURCE_SYMBOL
                yield NamedFunction(function.address, function.size, function.name or "", 1.0, source,
                                    member=member)
            else:
                name = prediction.name or f"sub_{function.address:x}"
                yield NamedFunction(function.address, function.size, name, prediction.confidence, prediction.source,
                                    prediction.analysis, member)
        bar.update(len(chunk))


def name_binary(path: str | os.PathLike[str], predictor: NamePredictor | None, *, unique: bool = True,
                rename_symbols: bool = False, show_progress: bool = False, cold_parts: bool = True,
                string_names: bool = True, rtti: bool = True) -> BinaryNaming:
    """Name all functions of ``path``; with ``unique``, repeated predicted names get distinct suffixes.

    With ``cold_parts``, a part that the compiler split off a function (``binary.fragments``) is
    not sent to the model: it is named after that function's final name plus ``.cold``, with
    source ``cold``. A first pass over the binary finds these parts. With ``string_names``, a
    ``__func__`` string in a cold part names its function when the model would otherwise.
    The same first pass finds the functions that call keys name (``inference.call_names``) and,
    with ``rtti``, the virtual functions of C++ classes (``inference.class_names``), and the
    names the binary keeps, from which the name-word model reads a library's prefix.
    """
    info = describe_binary(path)
    is_library = info.kind in LIBRARY_KINDS or bool(info.soname)
    calls = CallContext(predictor.signatures if isinstance(predictor, NamePredictor) else ())
    if not calls.enabled or info.kind == "archive":
        calls = None
    classes = ClassInputs() if rtti and info.kind != "archive" else None
    cold, preset, kept_names = ColdParts(), {}, []
    if (cold_parts or calls is not None or classes is not None) and info.kind != "archive":
        first = _first_read(path, rename_symbols, calls, classes)
        cold, kept_names = first.cold, first.symbol_names
        if calls is not None:
            # The first read's signature matches are kept, so the model's predictor does not look them up again.
            matches = {**calls.matches, **calls.resolve(cold.parents)}
            preset = {address: PresetName(match.name, match.confidence, SOURCE_SIGNATURE)
                      for address, match in matches.items()}
        if classes is not None:
            known = calls.known if calls is not None else {}
            virtual = class_names(path, classes, known, string_names)
            preset.update({address: name for address, name in virtual.items() if address not in preset})
        if not cold_parts:
            cold = ColdParts()
    elif is_library:
        kept_names = function_names(path)  # no first read, so the prefix needs its own (boundaries only)
    # With rename_symbols the prefix must not come from the names being replaced. A library that keeps
    # names still skips its strings, because they must not outvote its exports.
    symbol_names = [] if rename_symbols else kept_names
    strings = prefix_strings(path, kept_names) if is_library else ()
    functions = list(iter_named_functions(path, predictor, rename_symbols=rename_symbols,
                                          show_progress=show_progress, unnamed=frozenset(cold.parents),
                                          preset=preset, info=info, symbol_names=symbol_names, strings=strings))
    by_address = {f.address: f for f in functions}
    _name_functions_from_parts(cold, by_address, string_names)
    if unique:
        make_names_unique([f for f in functions if f.address not in cold.parents])
    _name_parts(cold, by_address)
    if cold.parents and unique:  # a kept symbol may already carry one of these names
        make_names_unique([f for f in functions if f.source in (SOURCE_SYMBOL, SOURCE_COLD)])
    return BinaryNaming(info=info, functions=functions)


@dataclass
class ColdParts:
    """Cold parts of one linked file and what they tell about their functions."""

    parents: dict[int, int] = field(default_factory=dict)
    """Address of each unnamed cold part -> address of its function."""
    string_names: dict[int, str] = field(default_factory=dict)
    """Address of a cold part in ``parents`` -> the ``__func__`` name it passes."""
    symbol_names: dict[int, str] = field(default_factory=dict)
    """Address of a function -> its name, from the symbol ``NAME.cold`` that its cold part kept."""


@dataclass
class _FirstRead:
    cold: ColdParts
    symbol_names: list[str]
    """The symbol names that the functions keep, start-up code left out (also when renaming)."""


def _first_read(path: str | os.PathLike[str], rename_symbols: bool, calls: CallContext | None,
                classes: ClassInputs | None) -> _FirstRead:
    """Extract the functions once to find the cold parts; parts with a symbol keep it unless renaming.

    Each function is also noted in ``calls`` and ``classes``, when given.
    """
    spans, named, strings, imports, own_names = [], {}, {}, {}, []
    with _quiet_loader():  # the second pass reports the same damaged sections
        for function in iter_functions(path):
            spans.append(span_of(function))
            if function.name and function.source != SOURCE_RUNTIME:
                own_names.append(function.name)
            if function.name and not rename_symbols:
                named[function.address] = function.name
            if calls is not None:
                calls.add(function, None if rename_symbols else function.name)
            found = string_name(function.assembly) if '"' in function.assembly else None
            if found:
                strings[function.address] = found
            imports[function.address] = imported_names(function.assembly)
            if classes is not None:
                own_string = found if found and found not in imports[function.address] else None
                classes.add(function, None if rename_symbols else function.name, own_string)
    found_parents = find_cold_parents(spans, below=_entry_point(path))
    parents = {part: parent for part, parent in found_parents.items() if part not in named}
    # A name that the function's own code calls is a message about that call ("malloc"), not __func__.
    part_strings = {part: strings[part] for part, parent in parents.items()
                    if part in strings and strings[part] not in imports[parent]}
    symbol_names = {}
    for part, parent in found_parents.items():
        base = cold_symbol_base(named.get(part, ""))
        if base and parent not in named:
            symbol_names[parent] = base
    return _FirstRead(ColdParts(parents, part_strings, symbol_names), own_names)


def cold_symbol_base(name: str) -> str | None:
    """Return the function name in a cold part's symbol (``walk.isra.0.cold`` -> ``walk.isra.0``), or None."""
    match = _COLD_SYMBOL.match(name)
    return match.group(1) if match else None


@contextlib.contextmanager
def _quiet_loader():
    """Hold back the binary loader's warnings for the duration of the block."""
    loader = logging.getLogger("binbridge.binary")
    level = loader.level
    loader.setLevel(logging.ERROR)
    try:
        yield
    finally:
        loader.setLevel(level)


def _entry_point(path: str | os.PathLike[str]) -> int | None:
    elf = open_input(path).elf
    return elf.entry if elf is not None and elf.entry else None


def _name_functions_from_parts(cold: ColdParts, by_address: dict[int, NamedFunction], string_names: bool) -> None:
    """Name model-named functions from their cold parts: a kept ``NAME.cold`` symbol, else a ``__func__`` string.

    Error paths, and with them the ``__func__`` strings, are what GCC moves into cold parts.
    """
    for parent, name in cold.symbol_names.items():  # strip -K kept foo.cold but not foo
        function = by_address[parent]
        if function.source in MODEL_SOURCES:
            function.name, function.confidence, function.source, function.analysis = name, 1.0, SOURCE_SYMBOL, ""
    if not string_names:
        return
    for part, name in cold.string_names.items():
        function = by_address[cold.parents[part]]
        if function.source in MODEL_SOURCES:
            function.name, function.confidence, function.source = name, STRING_NAME_CONFIDENCE, SOURCE_STRING
            function.analysis = ""


def _name_parts(cold: ColdParts, by_address: dict[int, NamedFunction]) -> None:
    """Name each cold part after its function: GCC's foo.cold, then foo.cold.1, foo.cold.2 for further parts."""
    parts_seen: Counter[int] = Counter()
    for part, parent in sorted(cold.parents.items()):
        function, parent_function = by_address[part], by_address[parent]
        number = parts_seen[parent]
        parts_seen[parent] += 1
        function.name = parent_function.name + COLD_SUFFIX + (f".{number}" if number else "")
        function.confidence, function.analysis = parent_function.confidence, ""
