"""Word splits of both metric variants, decoration stripping and the lemmatiser."""

from __future__ import annotations

import pytest

from binbridge.evaluation import lemmatize_word, strip_decorations, symlm_words, xfl_words


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("parseHTTPResponse", ["parse", "http", "response"]),
        ("XMLHttpRequest", ["xml", "http", "request"]),
        ("XMLParser", ["xml", "parser"]),
        ("getURL2", ["get", "url"]),
        ("SSL_CTX_new", ["ssl", "ctx", "new"]),
        ("sha256_update", ["sha", "update"]),
        ("md5Init", ["md", "init"]),
        ("__do_global_dtors_aux", ["do", "global", "dtors", "aux"]),
        ("std::vector<int>::push_back", ["std", "vector", "int", "push", "back"]),
        ("foo_foo", ["foo", "foo"]),
        ("1234", []),
        ("", []),
    ],
)
def test_symlm_words_split(name: str, expected: list[str]) -> None:
    assert symlm_words(name) == expected


def test_symlm_words_keep_decorations_by_default() -> None:
    # The SymLM-style split keeps clone suffixes unless EvaluationConfig.symlm_strip_decorations is set.
    assert symlm_words("foo.part.0") == ["foo", "part"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("foo.part.0", "foo"),
        ("bar.isra.3", "bar"),
        ("baz.cold", "baz"),
        ("baz.cold.1", "baz"),
        ("qux.constprop.0", "qux"),
        ("qux.constprop.0.isra.0", "qux"),
        ("quux.part.0.cold", "quux"),
        ("local.lto_priv.0", "local"),
        ("helper.llvm.1234567", "helper"),
        ("memcpy@GLIBC_2.14", "memcpy"),
        ("memcpy@@GLIBC_2.2.5", "memcpy"),
        ("puts@plt", "puts"),
        ("__GI_memcpy", "memcpy"),
        ("__libc_malloc", "malloc"),
        ("__GI___libc_malloc@@GLIBC_2.2.5", "malloc"),
        ("_IO_new_file_open", "new_file_open"),
        ("__isoc99_sscanf", "sscanf"),
        ("__wrap_read", "read"),
        ("_start", "start"),
        ("___tls_get_addr", "tls_get_addr"),
        ("plain_name", "plain_name"),
        ("__", ""),
    ],
)
def test_strip_decorations(name: str, expected: str) -> None:
    assert strip_decorations(name) == expected


def test_strip_decorations_keeps_bare_keyword() -> None:
    # Steps that would leave an empty name are skipped, so a bare keyword or prefix survives.
    assert strip_decorations(".cold") == ".cold"
    assert strip_decorations("__libc_") == "libc_"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("parseHTTPResponse", ["parsehttpresponse"]),
        ("getURL2", ["geturl"]),
        ("SSL_CTX_new", ["ssl", "ctx", "new"]),
        ("foo.part.0", ["foo"]),
        ("bar.isra.3", ["bar"]),
        ("baz.cold", ["baz"]),
        ("x_read_a_byte", ["read", "byte"]),
        ("memcpy@GLIBC_2.14", ["memcpy"]),
        ("__GI___libc_free", ["free"]),
    ],
)
def test_xfl_words_split(name: str, expected: list[str]) -> None:
    assert xfl_words(name) == expected


def test_xfl_words_min_length() -> None:
    assert xfl_words("x_read_a_byte", min_length=1) == ["x", "read", "a", "byte"]
    assert xfl_words("x_read_a_byte", min_length=5) == []


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("parse", "pars"),
        ("parses", "pars"),
        ("parsed", "pars"),
        ("parsing", "pars"),
        ("entries", "entry"),
        ("entry", "entry"),
        ("classes", "class"),
        ("class", "class"),
        ("matches", "match"),
        ("boxes", "box"),
        ("copied", "copy"),
        ("copying", "copy"),
        ("freed", "free"),
        ("freeing", "free"),
        ("getting", "get"),
        ("stopped", "stop"),
        ("calling", "call"),
        ("processing", "process"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("alias", "alias"),
        ("aliases", "alias"),
        ("string", "string"),
        ("thing", "thing"),
        ("does", "do"),
        ("written", "writ"),
        ("writing", "writ"),
        ("used", "use"),
        ("uses", "use"),
        ("get", "get"),
    ],
)
def test_lemmatize_word(word: str, expected: str) -> None:
    assert lemmatize_word(word) == expected


def test_symlm_words_lemmatize_flag() -> None:
    assert symlm_words("parseEntries") == ["parse", "entries"]
    assert symlm_words("parseEntries", lemmatize=True) == ["pars", "entry"]
