"""Name every function of a binary: symbol names where the binary has them, predictions elsewhere."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

from binbridge.binary import BinaryInfo, ExtractedFunction, describe_binary, iter_functions
from binbridge.binary.fragments import FunctionSpan, find_cold_parents, span_of
from binbridge.inference.predictor import NamePredictor
from binbridge.inference.string_names import SOURCE_STRING
from binbridge.inference.unique import make_names_unique
from binbridge.progress import progress_bar

logger = logging.getLogger(__name__)

SOURCE_SYMBOL = "symbol"
SOURCE_MODEL = "model"
SOURCE_COLD = "cold"
COLD_SUFFIX = ".cold"


@dataclass
class NamedFunction:
    address: int
    size: int
    name: str
    confidence: float
    source: str  # "symbol", "string" (a __func__ string, see inference.string_names), "cold" or "model"
    analysis: str = ""
    # Archive member (``adler32.o``) of a function read from a .a file, whose address is an
    # offset in that member's section; None for ELF files.
    member: str | None = None
    # Address range and outgoing calls and jumps, used to find cold parts; not written.
    span: FunctionSpan | None = field(default=None, repr=False)

    def to_dict(self, with_analysis: bool = False) -> dict:
        data = {item.name: getattr(self, item.name) for item in fields(self) if item.name != "span"}
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
                         chunk_size: int = 512, rename_symbols: bool = False,
                         show_progress: bool = False) -> Iterator[NamedFunction]:
    """Yield named functions in address order, predicting in chunks so memory stays bounded.

    ``predictor`` may be None when every function has a symbol; a function
    without one then raises ValueError. With ``rename_symbols`` the model names
    every function, symbol or not (useful to compare against the symbols).
    """
    bar = progress_bar(enabled=show_progress, desc=f"naming {os.path.basename(path)}", unit="fn")
    try:
        yield from _named_chunks(path, predictor, chunk_size, rename_symbols, bar)
    finally:
        bar.close()


def _named_chunks(path, predictor, chunk_size: int, rename_symbols: bool, bar) -> Iterator[NamedFunction]:
    """Yield the named functions of ``path`` chunk by chunk, advancing ``bar`` after each chunk."""
    member_prefix = os.fspath(path) + ":"
    for chunk in _chunks(iter_functions(path), chunk_size):
        to_predict = [f for f in chunk if rename_symbols or not f.name]
        predictions = {}
        if to_predict:
            if predictor is None:
                raise ValueError("functions without symbols need a model")
            if not isinstance(predictor, NamePredictor):
                predictor = predictor()  # a factory: load the model only once a function needs it
            generated = predictor.predict([f.assembly for f in to_predict])
            predictions = {id(f): g for f, g in zip(to_predict, generated)}
        for function in chunk:
            prediction = predictions.get(id(function))
            member = function.binary[len(member_prefix):] if function.binary.startswith(member_prefix) else None
            if prediction is None:
                yield NamedFunction(function.address, function.size, function.name or "", 1.0, SOURCE_SYMBOL,
                                    member=member, span=span_of(function))
            else:
                name = prediction.name or f"sub_{function.address:x}"
                yield NamedFunction(function.address, function.size, name, prediction.confidence, prediction.source,
                                    prediction.analysis, member, span_of(function))
        bar.update(len(chunk))


def name_binary(path: str | os.PathLike[str], predictor: NamePredictor | None, *, unique: bool = True,
                rename_symbols: bool = False, show_progress: bool = False, cold_parts: bool = True) -> BinaryNaming:
    """Name all functions of ``path``; with ``unique``, repeated predicted names get distinct suffixes.

    With ``cold_parts``, a part that the compiler split off a function (``binary.fragments``) is
    named after that function's final name plus ``.cold``, with source ``cold``.
    """
    info = describe_binary(path)
    functions = list(iter_named_functions(path, predictor, rename_symbols=rename_symbols,
                                          show_progress=show_progress))
    parents = _cold_parents(functions) if cold_parts else {}
    by_address = {f.address: f for f in functions}
    _lend_string_names(parents, by_address)
    if unique:
        make_names_unique([f for f in functions if f.address not in parents])
    for part, parent in parents.items():
        function, parent_function = by_address[part], by_address[parent]
        function.name = parent_function.name + COLD_SUFFIX
        function.confidence, function.source, function.analysis = parent_function.confidence, SOURCE_COLD, ""
    if parents and unique:  # a function with two cold parts gives both one name
        make_names_unique([f for f in functions if f.source in (SOURCE_SYMBOL, SOURCE_COLD)])
    return BinaryNaming(info=info, functions=functions)


def _lend_string_names(parents: dict[int, int], by_address: dict[int, NamedFunction]) -> None:
    """Give a function the string name found in its cold part, where the model named the function.

    Error paths, and with them the ``__func__`` strings, are what GCC moves into cold parts.
    """
    for part, parent in parents.items():
        cold, function = by_address[part], by_address[parent]
        if cold.source == SOURCE_STRING and function.source == SOURCE_MODEL:
            function.name, function.confidence, function.source = cold.name, cold.confidence, SOURCE_STRING
            function.analysis = ""


def _cold_parents(functions: list[NamedFunction]) -> dict[int, int]:
    """Map each unnamed cold part to its parent's address; empty for archives, whose addresses are offsets."""
    if any(f.member is not None for f in functions):
        return {}
    spans = [f.span or FunctionSpan(f.address, f.size) for f in functions]
    named = {f.address for f in functions if f.source == SOURCE_SYMBOL}
    return {part: parent for part, parent in find_cold_parents(spans).items() if part not in named}
