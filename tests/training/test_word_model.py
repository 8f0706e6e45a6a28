"""The name-word model: features, prefixes, training on gcc-built libraries, and naming a stripped one."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from binbridge.data.extract import extract_to_csv
from binbridge.errors import ConfigError, ModelLoadError
from binbridge.inference.word_names import (
    WordNamer,
    exported_prefix,
    is_cpp_library,
    library_prefix,
    string_prefix,
)
from binbridge.model.word_features import LATEST_FEATURE_SET, function_feature_ids, function_features, operand_shape
from binbridge.model.word_model import PREFIX_WORD, NameWordModel, WordModelConfig, load_word_model
from binbridge.training.word_training import WordTrainingArguments, frequent_features, target_words, train_words

ROOT = Path(__file__).resolve().parents[2]

# Each library gets the same five functions under its own prefix; only the prefix differs.
LIBRARY_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct PFX_buffer { char *data; size_t size; };

struct PFX_buffer *PFX_buffer_create(size_t size) {
    struct PFX_buffer *buffer = malloc(sizeof *buffer);
    if (!buffer) return NULL;
    buffer->data = calloc(size, 1);
    buffer->size = size;
    return buffer;
}

void PFX_buffer_destroy(struct PFX_buffer *buffer) {
    if (!buffer) return;
    free(buffer->data);
    free(buffer);
}

FILE *PFX_open_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) perror("cannot open input file");
    return file;
}

void PFX_print_version(void) {
    printf("PFX library version %d.%d\n", 1, 4);
}

int PFX_compare_names(const char *left, const char *right) {
    return strcmp(left, right);
}
"""


def build_library(root: Path, gcc: str, prefix: str, opt: str, *, strip: bool = False) -> Path:
    """Build lib{prefix}.so; a stripped copy hides its functions too, so that no dynamic symbol names them."""
    source = root / f"{prefix}.c"
    source.write_text(LIBRARY_SOURCE.replace("PFX", prefix))
    output = root / f"lib{prefix}-{opt}.so"
    hidden = ["-fvisibility=hidden"] if strip else []
    subprocess.run([gcc, f"-{opt}", "-fPIC", "-shared", *hidden, f"-Wl,-soname,lib{prefix}.so.1", str(source),
                    "-o", str(output)], check=True)
    if strip:
        stripped = root / f"lib{prefix}-{opt}.stripped"
        subprocess.run(["strip", "-o", str(stripped), str(output)], check=True)
        return stripped
    return output


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write dataset rows (dicts with the same keys) to a CSV file."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def word_corpus(tmp_path_factory, gcc):
    """Training rows from two gcc-built libraries at four opt levels, and an eval copy of a third."""
    root = tmp_path_factory.mktemp("words")
    rows = []
    for prefix in ("alpha", "beta"):
        for opt in ("O0", "O1", "O2", "Os"):
            library = build_library(root, gcc, prefix, opt)
            part = root / f"{prefix}-{opt}.csv"
            extract_to_csv([str(library)], part, project=prefix, opt_level=opt)
            with part.open(newline="") as handle:
                rows.extend(row for row in csv.DictReader(handle) if row["function_name"].startswith(prefix))
    train = root / "train.csv"
    write_rows(train, rows)
    evaluation = root / "eval.csv"
    extract_to_csv([str(build_library(root, gcc, "delta", "O1"))], evaluation, project="delta", opt_level="O1")
    return root, train, evaluation


@pytest.fixture(scope="module")
def trained_folder(word_corpus):
    root, train, evaluation = word_corpus
    folder = root / "model"
    result = train_words(WordTrainingArguments(train_data=str(train), eval_data=str(evaluation),
                                               output_dir=str(folder), epochs=60, batch_size=8))
    assert result.rows == 40
    return folder


def test_features_keep_imports_strings_and_constants():
    assembly = 'push rbp\nlea rdi, [rip + "cannot open input file"]\ncall <fopen>\nmov esi, 0x1f4\ncall FUNC\nret'
    features = function_features(assembly)
    for feature in ("i:fopen", "iw:fopen", "s:cannot open input file", "sw:cannot", "c:0x1f4", "m:call",
                    "b:call_mov", "nc:1", "nf:1"):
        assert feature in features, feature
    # A number inside a string is not a constant.
    assert not any(f.startswith("c:") for f in function_features('lea rdi, [rip + "error 404"]'))


@pytest.mark.parametrize("operands, shape", [
    ("qword ptr [rbp - 0x18], rdi", "qwordptr[R-N],R"),
    ("eax, dword ptr [rsi + rdx*4 + 8]", "R,dwordptr[R+R*N+N]"),
    ("r8d, r12b", "R,R"),
    ("xmm0, xmmword ptr [DATA]", "R,xmmwordptr[DATA]"),
    ('rdi, [rip + "a b, c"]', "R,[R+S]"),
    ("<strlen>", "I"),
    (".L11", "L"),
    ("FUNC", "FUNC"),
    ("rax, qword ptr fs:[0x28]", "R,qwordptrfs:[N]"),
    ("", ""),
])
def test_operand_shape(operands, shape):
    assert operand_shape(operands) == shape


def test_feature_set_2_adds_shapes_only():
    assembly = 'push rbp\nmov rax, qword ptr [rdi + 0x10]\njne .L0\nret'
    first, second = function_features(assembly, 1), function_features(assembly, 2)
    assert not any(f.startswith("o:") for f in first)
    assert [f for f in second if not f.startswith("o:")] == first
    assert [f for f in second if f.startswith("o:")] == ["o:push R", "o:mov R,qwordptr[R+N]", "o:jne L", "o:ret"]


def test_folder_without_feature_set_reads_set_1(trained_folder, tmp_path):
    import shutil

    assert load_word_model(trained_folder).config.feature_set == LATEST_FEATURE_SET
    folder = tmp_path / "older"
    shutil.copytree(trained_folder, folder)
    _edit(folder, lambda d: d["config"].pop("feature_set"))
    model = load_word_model(folder)
    assert model.config.feature_set == 1
    # The namer reads the features of the model's own set; the shapes of set 2 have rows in this model.
    assembly = "push rbp\nmov rax, qword ptr [rdi + 0x10]\ncall <strlen>\nret"
    with torch.no_grad():
        by_set = {n: torch.softmax(model(*model.bags([function_feature_ids(assembly, n)])), -1) for n in (1, 2)}
    read = WordNamer(model).probabilities([assembly])
    assert torch.allclose(read, by_set[1])
    assert not torch.allclose(read, by_set[2])


def test_frequent_features_need_several_projects():
    id_lists = [[1, 2], [1, 2], [1, 3], [3]]
    projects = ["a", "a", "b", "b"]
    assert frequent_features(id_lists, 10, 1).tolist() == [1, 2, 3]
    assert frequent_features(id_lists, 10, 1, projects, 2).tolist() == [1]
    assert frequent_features(id_lists, 10, 2, projects, 1).tolist() == [1, 2, 3]
    assert frequent_features(id_lists, 1, 1).tolist() == [1]


def test_train_on_two_csvs_with_a_given_rule(word_corpus, tmp_path):
    root, train, evaluation = word_corpus
    result = train_words(WordTrainingArguments(train_data=[str(train), str(evaluation)], eval_data=str(evaluation),
                                               output_dir=str(tmp_path / "m"), epochs=2, batch_size=8,
                                               max_words=3, relative_threshold=0.1))
    rows = sum(1 for _ in csv.DictReader(train.open())) + sum(1 for _ in csv.DictReader(evaluation.open()))
    assert result.rows == rows
    model = load_word_model(tmp_path / "m")
    assert (model.config.max_words, model.config.relative_threshold) == (3, 0.1)


@pytest.mark.parametrize("field, value, rule", [
    ("max_words", 0, "positive integer"), ("relative_threshold", -0.5, "[0, 1]"), ("feature_set", 3, "one of 1, 2"),
    ("min_feature_projects", 0, "positive integer"), ("train_data", [], "at least one dataset CSV"),
    ("prefix_share", 0.0, "(0, 1]"),
])
def test_training_arguments_name_the_field(field, value, rule, tmp_path):
    with pytest.raises(ConfigError) as caught:
        WordTrainingArguments(**{"train_data": "t.csv", "output_dir": str(tmp_path), field: value})
    assert f"train-words.{field}=" in str(caught.value)
    assert rule in str(caught.value)


@pytest.mark.parametrize("path, expected", [
    ("libpcap.so.0.8", "pcap"),
    ("/usr/lib/x86_64-linux-gnu/libpng16.so.16", "png"),
    ("/usr/lib/x86_64-linux-gnu/libjpeg.a:jcapi.o", "jpeg"),
    ("libcjson-O0.pie.stripped", "cjson"),
    ("libz.so.1", None),
    ("/usr/bin/ls", None),
    ("", None),
    (None, None),
])
def test_library_prefix(path, expected):
    assert library_prefix(path) == expected


@pytest.mark.parametrize("names, expected", [
    (["XML_Parse", "XML_SetUserData", "XML_GetBase", "XmlInitEncoding"], "XML"),
    (["cJSON_Parse", "cJSON_Delete", "cjson_helper"], "cJSON"),
    (["xmlParseFile", "xmlFree", "xmlReadFile", "htmlParseDoc"], "xml"),
    (["sqlite3_open", "sqlite3_close", "sqlite3_exec"], "sqlite3"),
    (["sqlite3VdbeExec", "sqlite3BtreeOpen", "sqlite3_open"], "sqlite3"),
    (["FcPatternCreate", "FcFontList", "FcInit", "FcConfigGetCurrent"], "Fc"),
    (["BrotliDecoderCreateInstance", "BrotliDecoderDecompress", "BrotliDecoderVersion"], "Brotli"),
    (["WebPDecode", "WebPGetInfo", "WebPDecodeRGBA"], "WebP"),
    (["evthread_use_pthreads"], None),
    # zlib: no namespace covers half of the exports.
    (["deflate", "deflateEnd", "inflate", "inflateEnd", "adler32", "crc32", "compress", "uncompress", "gzopen"],
     None),
    (["_Z3foov", "_ZN3fooC1Ev", "isl_map_free"], None),
    ([], None),
])
def test_exported_prefix(names, expected):
    assert exported_prefix(names) == expected


LZMA_MESSAGES = ["Unexpected NULL pointer argument(s) to lzma_str_to_filters()", "lzma_block_decoder failed",
                 "lzma_index_init: out of memory", "see lzma_code()", "lzma_stream_buffer_decode"]


@pytest.mark.parametrize("strings, expected", [
    (LZMA_MESSAGES, "lzma"),
    # libexpat's feature list: the namespace wins over the one version string that names the project.
    (["sizeof(XML_Char)", "sizeof(XML_LChar)", "XML_DTD", "XML_CONTEXT_BYTES", "XML_NS", "expat_2.5.0"], "XML"),
    (["xmlStrdup failed", "xmlParseFile", "xmlFree", "xmlNewNode", "xmlReadMemory"], "xml"),
    # Four identifiers are too few to show a namespace.
    (LZMA_MESSAGES[:4], None),
    # Five of thirty identifiers with a namespace is under the 20% share.
    (LZMA_MESSAGES + [f"opt{n}_value" for n in range(25)], None),
    # Each identifier counts once, however often a string repeats it.
    (LZMA_MESSAGES[:1] * 10 + ["png_read_info", "png_write", "png_error", "png_free", "png_malloc"], "png"),
    # C++ type names in RTTI strings are no namespace.
    (["N5boost6detail17sp_counted_base", "N5boost6detail12shared_count", "N5boost6system12system_error",
      "N5boost9exception", "N5boost6detail9spinlock"], None),
    (["St9money_getIcLb0EE", "St10moneypunctIcLb0EE", "St8time_getIcE", "St7num_putIcE", "St5ctype_byIcE"], None),
    # printf conversions are no namespace ("%lu_item" gives no "lu").
    (["%lu_item", "cpu%lu_freq", "%llx_a", "%lu_x", "%lu_y", "%02lu_z"], None),
    # A literal percent sign before a name leaves the name whole, as does one around a variable name.
    (["%%zorp_open", "%%zorp_close", "%%zorp_read", "%%zorp_write", "%%zorp_seek"], "zorp"),
    (["%ZORP_HOME%", "%ZORP_PATH%", "%ZORP_LOG%", "%ZORP_TMP%", "%ZORP_USER%"], "ZORP"),
    # Constants in capitals count, but the spelling comes from the other identifiers.
    (["ZORP_DEBUG", "ZORP_HOME", "ZORP_PATH", "ZORP_LEVEL", "zorp_open", "zorp_close"], "zorp"),
    (["cannot open input file", "version %d.%d\n", "usage: tool [options]"], None),
    ([], None),
])
def test_string_prefix(strings, expected):
    assert string_prefix(strings) == expected


def test_string_prefix_skips_generic_words():
    """A namespace that is a common name word (get) loses to the next one, or gives none."""
    messages = [f"get_{part}: invalid argument" for part in ("width", "height", "depth", "size", "mode")]
    assert string_prefix(messages) == "get"
    assert string_prefix(messages, generic_words={"get"}) is None
    assert string_prefix(messages + LZMA_MESSAGES, generic_words={"get"}) == "lzma"


def test_generic_words_leave_namespaces_out(trained_folder):
    """The model's common words that stand inside names are generic; words nearer the start are not."""
    namer = WordNamer.from_folder(trained_folder)
    positions = dict(zip(namer.model.words, namer.model.word_positions))
    positions.pop(PREFIX_WORD)
    middle = (min(positions.values()) + max(positions.values())) / 2
    generic = namer.generic_words(len(namer.model.words), max_position=middle)
    early = {word for word, position in positions.items() if position <= middle}
    assert generic
    assert early
    assert PREFIX_WORD not in generic
    assert not early & generic
    assert generic | early == set(positions)


def test_string_prefix_tie_same_every_run():
    """Two namespaces with as many identifiers each give the same prefix whatever the hash seed."""
    code = ("from binbridge.inference.word_names import string_prefix; "
            "print(string_prefix([f'{n}_func_{i}' for n in ('beta', 'alpha') for i in range(6)]))")
    answers = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip() for seed in range(6)}
    assert answers == {"alpha"}


def test_cpp_library_by_mangled_names():
    assert is_cpp_library(["_ZNSt6locale5facetD2Ev", "_ZSt9terminatev", "__cxa_throw"])
    assert not is_cpp_library(["XML_Parse", "XML_GetBase", "_ZN3fooC1Ev"])
    assert not is_cpp_library([])


def test_target_words_file_name_prefix():
    names = ["pcap_open_live", "cJSON_Parse", "xmlParseFile", "open_live", "gcry_md_open", "XML_Parse"]
    binaries = ["/x/libpcap.pie", "/x/libcjson-O2.pie", "/x/libxml2.a:parser.o", "/x/libpcap.pie",
                "/x/gcrypt-bundle", "/x/libexpat.pie"]
    targets = target_words(names, binaries)
    assert targets[0] == [PREFIX_WORD, "open", "live"]
    assert targets[1] == [PREFIX_WORD, "parse"]  # c, json: the letters of cJSON
    assert targets[2] == [PREFIX_WORD, "parse", "file"]
    assert targets[3] == ["open", "live"]
    assert targets[4] == ["gcry", "md", "open"]  # no lib* file name and no projects given
    assert targets[5] == ["xml", "parse"]  # libexpat's file name does not give XML


def test_target_words_project_prefix():
    """The project's most common first word counts where the file name gives no prefix."""
    names = ["gcry_md_open", "gcry_md_close", "do_hash", "sha_init"]
    targets = target_words(names, ["/x/gcrypt-bundle"] * 4, ["libgcrypt"] * 4)
    assert targets[0] == [PREFIX_WORD, "md", "open"]
    assert targets[2] == ["do", "hash"]


@pytest.mark.parametrize("field, value, rule", [
    ("dim", 0, "positive integer"), ("max_words", 9, "at most 8"), ("relative_threshold", 1.5, "[0, 1]"),
    ("max_words", True, "positive integer"), ("feature_set", 0, "one of 1, 2"), ("feature_set", 2.0, "one of 1, 2"),
])
def test_config_names_the_field(field, value, rule):
    with pytest.raises(ConfigError) as caught:
        WordModelConfig(**{field: value})
    assert f"word_model.{field}={value!r}" in str(caught.value)
    assert rule in str(caught.value)


def test_choose_prefix_first_or_dropped():
    words = ["open", PREFIX_WORD, "file", "init"]
    model = NameWordModel(WordModelConfig(max_words=3, relative_threshold=0.3), torch.tensor([5, 9]), words,
                          [0.2, 0.0, 0.9, 0.5])
    namer = WordNamer(model)
    probabilities = torch.tensor([0.4, 0.35, 0.2, 0.05])
    assert namer.choose(probabilities, "pcap").words == ("pcap", "open", "file")
    assert namer.choose(probabilities, None).words == ("open", "file")
    assert namer.choose(probabilities, None, max_words=1).words == ("open",)
    # A name is never the prefix alone.
    prefix_first = torch.tensor([0.1, 0.8, 0.06, 0.04])
    assert namer.choose(prefix_first, "pcap", max_words=1).words == ("pcap", "open")


def test_unknown_features_are_left_out():
    model = NameWordModel(WordModelConfig(), torch.tensor([30, 10, 20]), ["a", "b"], [0.0, 1.0])
    assert model.rows([10, 99, 30, 10]).tolist() == [0, 2, 0]
    flat, offsets = model.bags([[99], [20, 10]])
    assert flat.tolist() == [1, 0]
    assert offsets.tolist() == [0, 0]


def test_training_writes_a_loadable_model(trained_folder):
    document = json.loads((trained_folder / "word_model.json").read_text())
    assert PREFIX_WORD in document["words"]
    assert "alpha" not in document["words"]
    model = load_word_model(trained_folder)
    assert len(model.feature_ids) > 10
    assert model.embedding.weight.shape[1] == 64
    assert 1 <= model.config.max_words <= 4


def test_name_stripped_library_prefix_and_words(trained_folder, word_corpus, gcc):
    """A third library, never seen, stripped: its SONAME gives the prefix, the imports give the words."""
    root, _, _ = word_corpus
    stripped = build_library(root, gcc, "gamma", "O2", strip=True)
    names = _name(stripped, trained_folder)
    assert names
    assert all(source == "words" for source in names.values())
    assert all(name.startswith("gamma_") for name in names)
    assert any("destroy" in name for name in names)
    assert any("open" in name or "file" in name for name in names)
    without = _name(stripped, trained_folder, "--prefix", "none")
    assert not any(name.startswith("gamma") for name in without)
    assert _name(stripped, trained_folder, "--prefix", "None") == without  # the keyword, in any case
    chosen = _name(stripped, trained_folder, "--prefix", "zz9")
    assert all(name.startswith("zz9_") for name in chosen)


def _name(binary: Path, folder: Path, *extra: str) -> dict[str, str]:
    """Run 'binbridge name' with a model folder made of the default model plus the trained word model."""
    model = folder.parent / "combined"
    if not model.exists():
        import shutil

        shutil.copytree(ROOT / "src" / "binbridge" / "default_model", model)
        for name in ("word_model.json", "word_model.safetensors"):
            shutil.copy(folder / name, model / name)
    return {f["name"]: f["source"] for f in _functions(binary, folder, *extra) if f["source"] in ("words", "model")}


def _functions(binary: Path, folder: Path, *extra: str) -> list[dict]:
    model = folder.parent / "combined"
    result = subprocess.run([sys.executable, "-m", "binbridge.cli", "name", str(binary), "--model_path", str(model),
                             "--format", "json", "--no_signatures", "--keep_duplicates", *extra],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["functions"]


def test_word_model_folder_alone(trained_folder, word_corpus, gcc):
    """A folder with only the name-word model names a stripped library without any decoder."""
    root, _, _ = word_corpus
    stripped = build_library(root, gcc, "gamma", "O2", strip=True)
    command = [sys.executable, "-m", "binbridge.cli", "name", str(stripped), "--model_path", str(trained_folder),
               "--format", "json", "--no_signatures", "--keep_duplicates"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    sources = {f["source"] for f in json.loads(result.stdout)["functions"]}
    assert "words" in sources
    assert "model" not in sources
    decoder = subprocess.run(command + ["--namer", "decoder"], capture_output=True, text=True, timeout=600)
    assert decoder.returncode == 2
    assert str(trained_folder) in decoder.stderr
    assert "the folder has only a name-word model" in decoder.stderr
    assert "Traceback" not in decoder.stderr
    guided = subprocess.run(command + ["--guidance_scale", "2"], capture_output=True, text=True, timeout=600)
    assert guided.returncode == 0
    assert "--guidance_scale apply to the decoder" in guided.stderr


def test_words_namer_needs_a_word_model(tmp_path):
    from binbridge.inference.predictor import NamePredictor

    folder = tmp_path / "plain"
    import shutil

    shutil.copytree(ROOT / "src" / "binbridge" / "default_model", folder,
                    ignore=shutil.ignore_patterns("word_model.*", "signatures.json"))
    with pytest.raises(ModelLoadError, match="has no name-word model"):
        NamePredictor.from_path(folder, namer="words")


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "word_model.json").write_text("{"), "not a JSON file"),
    (lambda f: (f / "word_model.safetensors").write_bytes(b"\x00" * 16), "cannot read safetensors"),
    (lambda f: (f / "word_model.safetensors").unlink(), "weights file not found"),
    (lambda f: _edit(f, lambda d: d.update(format=99)), "format 99"),
    (lambda f: _edit(f, lambda d: d["config"].update(dim=32)), "tensor 'embedding'"),
    (lambda f: _edit(f, lambda d: d.update(word_positions=[0.5])), "word_positions"),
    (lambda f: _edit(f, lambda d: d["config"].update(colour=1)), "unknown config field(s) colour"),
    (lambda f: _edit(f, lambda d: d["config"].update(dim=10**9)), "must be at most 4096"),
    (lambda f: _edit(f, lambda d: d["config"].update(dim=64.0)), "word_model.dim=64.0"),
    (lambda f: _edit(f, lambda d: d["words"].__setitem__(0, "get\nset")), "lowercase words"),
    (lambda f: _edit(f, lambda d: d.update(words=[])), "non-empty list"),
    (lambda f: _rewrite_weights(f, "embedding", lambda t: t.fill_(float("nan"))), "not finite"),
    (lambda f: _rewrite_weights(f, "feature_ids", lambda t: t.flip(0)), "strictly increasing"),
])
def test_damaged_word_model_fails_with_the_file(trained_folder, tmp_path, damage, message):
    import shutil

    folder = tmp_path / "damaged"
    shutil.copytree(trained_folder, folder)
    damage(folder)
    with pytest.raises(ModelLoadError) as caught:
        load_word_model(folder)
    assert message in str(caught.value)
    assert str(folder) in str(caught.value)


def _edit(folder: Path, change) -> None:
    path = folder / "word_model.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _rewrite_weights(folder: Path, key: str, change) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / "word_model.safetensors"
    state = load_file(str(path))
    state[key] = change(state[key].clone()).contiguous()
    save_file(state, str(path))


def test_train_words_refuses_useless_input(word_corpus, tmp_path):
    root, train, _ = word_corpus
    nameless = tmp_path / "nameless.csv"
    with train.open(newline="") as source, nameless.open("w", newline="") as target:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            writer.writerow({**row, "function_name": "x"})
    cases = [
        (["--train_data", str(nameless), "-o", str(tmp_path / "a")], "no function name has a word"),
        (["--train_data", str(train), "-o", str(tmp_path / "b"), "--min_feature_count", "1000"], "no feature occurs"),
        (["--train_data", str(train), "-o", str(tmp_path / "d"), "--min_feature_projects", "3"],
         "rows of 2 project(s) ('alpha', 'beta'), fewer than --min_feature_projects 3"),
        (["--train_data", str(train), str(tmp_path / "missing.csv"), "-o", str(tmp_path / "e")], "missing.csv"),
        (["--train_data", str(train), str(train), "-o", str(tmp_path / "f")], "given twice in --train_data"),
        (["--train_data", str(train), "-o", str(train)], "is a file, not a folder"),
        (["--train_data", str(train), "--eval_data", str(nameless), "-o", str(tmp_path / "c")],
         "no function name has a word to score against"),
    ]
    for arguments, message in cases:
        result = subprocess.run([sys.executable, "-m", "binbridge.cli", "train-words", "--no_progress", *arguments],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 2, (arguments, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    # A failed run leaves no folder of its own behind.
    assert not any((tmp_path / name).exists() for name in ("a", "c", "d", "e", "f"))


def test_repeated_train_data_flag_reads_every_file():
    from binbridge.cli import build_parser

    args = build_parser().parse_args(["train-words", "--train_data", "a.csv", "--train_data", "b.csv", "c.csv",
                                      "-o", "out"])
    assert args.train_data == ["a.csv", "b.csv", "c.csv"]


def test_no_automatic_prefix_for_programs(trained_folder, word_corpus, gcc):
    """An executable whose file name starts with lib (libtool) is not a library."""
    root, _, _ = word_corpus
    source = root / "tool.c"
    source.write_text(LIBRARY_SOURCE.replace("PFX", "tool") + "int main(void) { tool_print_version(); return 0; }\n")
    program = root / "libtool"
    subprocess.run([gcc, "-O1", "-fvisibility=hidden", str(source), "-o", str(program)], check=True)
    subprocess.run(["strip", str(program)], check=True)
    names = _name(program, trained_folder)
    assert names
    assert not any(name.startswith("tool_") for name in names)


EXPORTED_API = r"""
#define API __attribute__((visibility("default")))
API int GmLib_api_version(void) { return 3; }
API int GmLib_api_check(int level) { return level > 2; }
API void *GmLib_api_handle(void) { return (void *)GmLib_buffer_create(16); }
"""


# A program interpreter makes a shared library runnable, as libc.so.6 and libcap.so.2 are.
INTERPRETER = 'const char interpreter[] __attribute__((section(".interp"))) = "/lib64/ld-linux-x86-64.so.2";\n'


def build_exporting_library(root: Path, gcc: str, *, runnable: bool = False) -> Path:
    """libgamma.so.1 whose API is GmLib_*: hidden helpers, three exported functions, stripped."""
    source = root / "gmlib.c"
    source.write_text(LIBRARY_SOURCE.replace("PFX", "GmLib") + EXPORTED_API + (INTERPRETER if runnable else ""))
    library = root / ("libgamma-runnable.so" if runnable else "libgamma-exports.so")
    subprocess.run([gcc, "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-Wl,-soname,libgamma.so.1",
                    str(source), "-o", str(library)], check=True)
    subprocess.run(["strip", str(library)], check=True)
    return library


def test_prefix_from_exports(trained_folder, word_corpus, gcc):
    """A stripped library's exports show its prefix and its spelling; they win over the SONAME."""
    root, _, _ = word_corpus
    library = build_exporting_library(root, gcc)
    names = _name(library, trained_folder)
    functions = _functions(library, trained_folder)
    assert {f["name"] for f in functions if f["source"] == "symbol"} >= {"GmLib_api_version", "GmLib_api_check"}
    assert names
    assert all(name.startswith("GmLib_") for name in names)
    assert not any(name.startswith("gamma") for name in names)
    renamed = _functions(library, trained_folder, "--rename_symbols")
    # Renaming every function must not read the prefix from the names it replaces.
    assert not any(f["name"].startswith("GmLib_") for f in renamed if f["source"] == "words")


def test_infer_reads_prefix_from_binary_column(trained_folder, word_corpus, gcc, tmp_path):
    """'infer' on rows extracted from a stripped library uses the library's exports, as 'name' does."""
    root, _, _ = word_corpus
    library = build_exporting_library(root, gcc)
    _name(library, trained_folder)  # builds the combined model folder
    rows = tmp_path / "rows.csv"
    extract_to_csv([str(library)], rows, keep_unnamed=True)
    output = tmp_path / "named.csv"
    result = subprocess.run([sys.executable, "-m", "binbridge.cli", "infer", "--input", str(rows), "--output",
                             str(output), "--model_path", str(root / "combined"), "--no_signatures", "--no_progress"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with output.open(newline="") as handle:
        named = [row["predicted_name"] for row in csv.DictReader(handle)
                 if row["name_source"] == "words" and not row["function_name"]]
    assert named
    assert all(name.startswith("GmLib_") for name in named)


def test_infer_binary_column_relative_or_unreadable(trained_folder, word_corpus, gcc, tmp_path):
    """A relative binary path is found beside the CSV; a path that cannot be read falls back to its file name."""
    import shutil

    root, _, _ = word_corpus
    library = build_exporting_library(root, gcc)
    _name(library, trained_folder)  # builds the combined model folder
    shutil.copy(library, tmp_path / "libgamma.so.1")
    rows = tmp_path / "rows.csv"
    extract_to_csv([str(library)], rows, keep_unnamed=True)
    with rows.open(newline="") as handle:
        table = [row for row in csv.DictReader(handle) if not row["function_name"]]
    cells = ["libgamma.so.1", "/nonexistent/libdelta.so", "/tmp/lib" + "a" * 300 + ".so.1"]
    for number, row in enumerate(table):
        row["binary"] = cells[number % len(cells)]
    edited = tmp_path / "edited.csv"
    write_rows(edited, table)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    output = tmp_path / "named.csv"
    result = subprocess.run([sys.executable, "-m", "binbridge.cli", "infer", "--input", str(edited), "--output",
                             str(output), "--model_path", str(root / "combined"), "--no_signatures", "--no_progress"],
                            capture_output=True, text=True, timeout=600, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "2 binary path(s)" in result.stderr
    with output.open(newline="") as handle:
        named = {(row["binary"], row["predicted_name"]) for row in csv.DictReader(handle)}
    assert all(name.startswith("GmLib_") for binary, name in named if binary == "libgamma.so.1")
    assert all(name.startswith("delta_") for binary, name in named if binary.endswith("libdelta.so"))


def test_runnable_library_prefix_from_exports(trained_folder, word_corpus, gcc):
    """A library with a program interpreter and a SONAME is still a library."""
    from binbridge.binary import describe_binary

    root, _, _ = word_corpus
    library = build_exporting_library(root, gcc, runnable=True)
    assert describe_binary(library).kind == "executable"
    _assert_word_prefix(library, trained_folder, "GmLib_")


def test_prefix_from_exports_without_first_read(trained_folder, word_corpus, gcc):
    """With cold parts, RTTI and signatures off, the exports still give the prefix."""
    root, _, _ = word_corpus
    library = build_exporting_library(root, gcc)
    _assert_word_prefix(library, trained_folder, "GmLib_", "--no_cold_parts", "--no_rtti")


def test_archive_prefix_from_member_names(trained_folder, word_corpus, gcc):
    """An archive whose members keep only their global names takes the prefix from those names."""
    root, _, _ = word_corpus
    source = LIBRARY_SOURCE.replace("PFX", "GmLib")
    for head in ("struct GmLib_buffer *GmLib_buffer_create", "void GmLib_buffer_destroy", "FILE *GmLib_open_file",
                 "void GmLib_print_version", "int GmLib_compare_names"):
        source = source.replace(head, "static __attribute__((used)) " + head)
    (root / "zeta.c").write_text(source + EXPORTED_API.replace("(void *)GmLib_buffer_create(16)", "(void *)0"))
    subprocess.run([gcc, "-O1", "-c", str(root / "zeta.c"), "-o", str(root / "zeta.o")], check=True)
    subprocess.run(["strip", "--strip-unneeded", str(root / "zeta.o")], check=True)
    archive = root / "libzeta.a"
    subprocess.run(["ar", "rcs", str(archive), str(root / "zeta.o")], check=True)
    _assert_word_prefix(archive, trained_folder, "GmLib_")


MESSAGES = r"""
static const char *const messages[] = {"GmLib_open_file: cannot open", "GmLib_buffer_create failed",
    "GmLib_print_version", "GmLib_compare_names: NULL name", "GmLib_buffer_destroy: double free"};
int GmLib_report(int number) { return puts(messages[number % 5]); }
"""


def test_prefix_from_strings_without_exports(trained_folder, word_corpus, gcc):
    """A stripped library that exports nothing takes its prefix from the identifiers its messages name."""
    root, _, _ = word_corpus
    source = root / "gmlib-strings.c"
    source.write_text(LIBRARY_SOURCE.replace("PFX", "GmLib") + MESSAGES)
    library = root / "libgamma-strings.so"
    subprocess.run([gcc, "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-Wl,-soname,libgamma.so.1",
                    str(source), "-o", str(library)], check=True)
    subprocess.run(["strip", str(library)], check=True)
    _assert_word_prefix(library, trained_folder, "GmLib_")
    assert not [f for f in _functions(library, trained_folder) if f["source"] == "symbol"]
    assert "GmLib_" in _interactive_answer(library, trained_folder)


def test_exports_beat_strings_even_when_renaming(trained_folder, word_corpus, gcc):
    """Strings that name another namespace neither outvote the exports nor replace them under --rename_symbols."""
    root, _, _ = word_corpus
    source = root / "gmlib-zorp.c"
    source.write_text(LIBRARY_SOURCE.replace("PFX", "GmLib") + EXPORTED_API + MESSAGES.replace('"GmLib_', '"Zorp_'))
    library = root / "libgamma-zorp.so"
    subprocess.run([gcc, "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-Wl,-soname,libgamma.so.1",
                    str(source), "-o", str(library)], check=True)
    subprocess.run(["strip", str(library)], check=True)
    _assert_word_prefix(library, trained_folder, "GmLib_")
    renamed = [f["name"] for f in _functions(library, trained_folder, "--rename_symbols") if f["source"] == "words"]
    assert renamed
    assert not any(name.startswith("Zorp_") for name in renamed)


def _assert_word_prefix(binary: Path, folder: Path, prefix: str, *extra: str) -> None:
    """Check that 'binbridge name' gives word-model names, all starting with ``prefix``."""
    _name(binary, folder)  # builds the combined model folder
    names = [f["name"] for f in _functions(binary, folder, *extra) if f["source"] == "words"]
    assert names
    assert all(name.startswith(prefix) for name in names)


def test_interactive_prefix_from_soname(trained_folder, word_corpus, gcc):
    """A BINARY ADDRESS query reads the prefix from the SONAME, as 'binbridge name' does."""
    root, _, _ = word_corpus
    renamed = root / "renamed.so"
    renamed.write_bytes(build_library(root, gcc, "gamma", "O2", strip=True).read_bytes())
    assert "gamma_" in _interactive_answer(renamed, trained_folder)


def test_interactive_prefix_from_exports(trained_folder, word_corpus, gcc):
    """A BINARY ADDRESS query reads the prefix from the library's exports, as 'binbridge name' does."""
    root, _, _ = word_corpus
    library = build_exporting_library(root, gcc)
    assert "GmLib_" in _interactive_answer(library, trained_folder)


def test_interactive_rereads_file_with_old_time(tmp_path, gcc):
    """A binary rewritten in place with its old size and time is read again by the next query."""
    import os
    import shutil
    import time

    from binbridge.inference.interactive import BinaryFactsCache

    library = tmp_path / "libgamma.so"
    shutil.copy(build_library(tmp_path, gcc, "gamma", "O2", strip=True), library)
    cache = BinaryFactsCache()
    first = cache.get(str(library))
    assert cache.get(str(library)) is first
    status = os.stat(library)
    time.sleep(0.05)
    library.write_bytes(library.read_bytes())
    os.utime(library, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert cache.get(str(library)) is not first


def _interactive_answer(binary: Path, folder: Path) -> str:
    """Ask an interactive session for the name at the address of one word-model function of ``binary``."""
    from binbridge.inference.interactive import run_interactive
    from binbridge.inference.predictor import NamePredictor

    _name(binary, folder)  # builds the combined model folder
    address = next(f["address"] for f in _functions(binary, folder) if f["source"] == "words")
    predictor = NamePredictor.from_path(folder.parent / "combined", model_signatures=False)
    lines = iter([f"{binary} {address}\n"])
    written: list[str] = []
    run_interactive(predictor, lambda: next(lines, None), written.append)
    return "".join(written)


@pytest.mark.parametrize("text", ["3d", "foo-bar", "_x", ""])
def test_prefix_option_rejects_non_words(text):
    result = subprocess.run([sys.executable, "-m", "binbridge.cli", "name", "/bin/true", "--prefix", text],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "invalid prefix" in result.stderr
