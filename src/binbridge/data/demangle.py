"""C++ symbol names reduced to the function's own name: ``_ZN4gold6Symbol9set_valueEm`` -> ``set_value``.

A mangled name encodes namespaces, classes, template arguments and parameter
types. Word metrics split it into fragments such as ``zn``, ``ili`` or
``elb0ee`` that no name predictor can write, so evaluation compares the
unqualified name, the part a reverse engineer would type for a method.
Demangling uses the C++ runtime's ``__cxa_demangle`` (libstdc++), the same
routine ``c++filt`` calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import re

logger = logging.getLogger(__name__)

_CLONE_NOTE = re.compile(r"(?: \[clone [^\]]*\])+$")
_ABI_TAG = re.compile(r"\[abi:[^\]]*\]")
_OPERATOR = re.compile(r"\boperator\b")


@functools.cache
def _runtime() -> tuple | None:
    """Return (__cxa_demangle, free) from libstdc++ and libc, or None when libstdc++ is missing."""
    path = ctypes.util.find_library("stdc++") or "libstdc++.so.6"
    try:
        cxx = ctypes.CDLL(path)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError as error:
        logger.warning("C++ names stay mangled: libstdc++ could not be loaded (%s)", error)
        return None
    demangle = cxx.__cxa_demangle
    demangle.restype = ctypes.c_void_p
    demangle.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    free = libc.free
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    return demangle, free


@functools.lru_cache(maxsize=65536)
def demangle(name: str) -> str | None:
    """Return the full demangled form of an Itanium C++ symbol (``_Z…``), or None when it is not one."""
    if not name.startswith("_Z"):
        return None
    runtime = _runtime()
    if runtime is None:
        return None
    demangle_function, free = runtime
    status = ctypes.c_int(0)
    pointer = demangle_function(name.encode("ascii", "replace"), None, None, ctypes.byref(status))
    if status.value != 0 or not pointer:
        return None
    try:
        return ctypes.string_at(pointer).decode("utf-8", "replace")
    finally:
        free(pointer)


def unqualified_name(demangled: str) -> str:
    """Return the function's own name from a demangled signature.

    ``gold::Output_section::add_input<64, false>(int) const`` -> ``add_input``;
    ``void ns::f<int>(int)`` -> ``f``; ``X::operator<<(int)`` -> ``operator<<``.
    """
    text = _ABI_TAG.sub("", _CLONE_NOTE.sub("", demangled)).strip()
    text = _drop_parameters(text)
    text = _drop_template_arguments(text).rstrip()
    component = _last_component(text)
    if not _OPERATOR.search(component):
        component = component.rsplit(" ", 1)[-1]
    return component or demangled


def base_function_name(name: str) -> str:
    """Return ``unqualified_name(demangle(name))`` for C++ symbols and ``name`` unchanged otherwise."""
    demangled = demangle(name)
    return name if demangled is None else unqualified_name(demangled)


def _drop_parameters(text: str) -> str:
    """Cut the last top-level parameter list and what follows it (``const``, ``&&``)."""
    close = text.rfind(")")
    if close < 0:
        return text
    depth = 0
    for position in range(close, -1, -1):
        if text[position] == ")":
            depth += 1
        elif text[position] == "(":
            depth -= 1
            if depth == 0:
                head = text[:position]
                # operator() keeps its own brackets: "X::operator()(int)" -> "X::operator()".
                return head if head else text
    return text


def _drop_template_arguments(text: str) -> str:
    """Cut a trailing ``<…>`` template argument list, unless it belongs to an operator name."""
    if not text.endswith(">") or re.search(r"operator[<>=-]*$", text):
        return text
    depth = 0
    for position in range(len(text) - 1, -1, -1):
        if text[position] == ">":
            depth += 1
        elif text[position] == "<":
            depth -= 1
            if depth == 0:
                return text[:position]
    return text


def _last_component(text: str) -> str:
    """Return what follows the last ``::`` that is outside template arguments and brackets."""
    depth = 0
    start = 0
    position = 0
    while position < len(text):
        character = text[position]
        if character in "<({":
            depth += 1
        elif character in ">)}":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith("::", position):
            start = position + 2
            position += 1
        position += 1
    return text[start:]
