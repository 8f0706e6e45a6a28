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
_ARRAY_SUFFIX = re.compile(r"(?:\s*\[\d+\])+$")
_TRAILING_QUALIFIERS = re.compile(r"(?:\s*\b(?:const|volatile|noexcept)|\s*&&|\s*&)+$")
# The start of a declarator in brackets: "*", "&" or a member pointer "S::*".
_DECLARATOR_START = re.compile(r"(?:[\w<>, ]+(?:::[\w<>, ]+)*::)?[*&]+\s*")
_OPERATOR_END = re.compile(r"(?<!\w)operator\W+$")
# The last "operator" keyword of a name.
_OPERATOR_NAME = re.compile(r"(?<!\w)operator\b(?!.*(?<!\w)operator\b)")
# GCC clone suffixes after a mangled name (see binbridge.data.names).
_CLONE_SUFFIX = re.compile(r"(?:\.(?:cold|part|isra|constprop|lto_priv|localalias|clone|llvm)(?:\.\d+)?)+$")


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
    ``void ns::f<int>(int)`` -> ``f``; ``X::operator<<(int)`` -> ``operator<<``;
    ``int (*pick<int>(int))()`` -> ``pick``.
    """
    text = _ABI_TAG.sub("", _CLONE_NOTE.sub("", demangled)).strip()
    text = _drop_template_arguments(_declarator_name(text)).rstrip()
    operator = _OPERATOR_NAME.search(text)
    if operator:
        return text[operator.start():].strip()
    component = _last_component(text).rsplit(" ", 1)[-1].lstrip("*&")
    return component or demangled


def base_function_name(name: str) -> str:
    """Return the unqualified name of a C++ symbol, keeping a clone suffix; other names unchanged.

    ``_ZN4gold6Symbol9set_valueEm.isra.0`` -> ``set_value.isra.0``, so C and C++ names
    carry their suffixes alike; a symbol version (``@@V1``) is dropped before demangling.
    """
    if not name.startswith("_Z"):
        return name
    core = name.partition("@")[0]
    suffix = _CLONE_SUFFIX.search(core)
    clone = ""
    if suffix and suffix.start() > 0:
        core, clone = core[: suffix.start()], suffix.group()
    demangled = demangle(core)
    return name if demangled is None else unqualified_name(demangled) + clone


def _declarator_name(text: str) -> str:
    """Cut parameter lists, qualifiers and declarator brackets down to the qualified name.

    ``int (&arr<int>(int)) [3]`` gives ``arr<int>``, and ``int (S::*mptr<int>(int))()`` gives ``mptr<int>``.
    """
    parameters_cut = False
    for _ in range(16):
        if parameters_cut and _OPERATOR_END.search(text):
            return text  # "X::operator&" or "X::operator()" after its parameters are cut
        text = _TRAILING_QUALIFIERS.sub("", _ARRAY_SUFFIX.sub("", text)).rstrip()
        if not text.endswith(")") or text.endswith("operator()"):
            return text
        start = _matching_open(text)
        if start is None:
            return text
        wrapper = _DECLARATOR_START.match(text[start + 1:-1])
        if wrapper:  # (*name(params)): a pointer or reference to what name returns
            text, parameters_cut = text[start + 1 + wrapper.end():-1], False
        elif not parameters_cut:
            text, parameters_cut = text[:start], True
        else:
            return text
    return text


def _matching_open(text: str, opening: str = "(", closing: str = ")") -> int | None:
    """Return the index of the ``opening`` bracket that matches the final ``closing`` one of ``text``."""
    depth = 0
    for position in range(len(text) - 1, -1, -1):
        if text[position] == closing:
            depth += 1
        elif text[position] == opening:
            depth -= 1
            if depth == 0:
                return position
    return None


def _drop_template_arguments(text: str) -> str:
    """Cut a trailing ``<…>`` template argument list, unless it belongs to an operator name."""
    if not text.endswith(">") or re.search(r"operator[<>=-]*$", text):
        return text
    start = _matching_open(text, "<", ">")
    return text if start is None else text[:start]


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
