import pytest

from binbridge.data.names import split_clone_suffix
from binbridge.data.schema import FunctionRecord, read_dataset, write_dataset
from binbridge.data.split import split_by_project
from binbridge.errors import DatasetError


def record(name, assembly, project, opt="O2"):
    return FunctionRecord(name, assembly, "b", "0x0", 1, "x86_64", project, opt)


@pytest.mark.parametrize("name, base, suffix", [
    ("foo", "foo", ""),
    ("foo.cold", "foo", ".cold"),
    ("foo.part.0", "foo", ".part.0"),
    ("foo.isra.3", "foo", ".isra.3"),
    ("foo.constprop.0.isra.0", "foo", ".constprop.0.isra.0"),
    ("foo.lto_priv.0", "foo", ".lto_priv.0"),
    ("memcpy@GLIBC_2.14", "memcpy", ""),
    (".cold", ".cold", ""),
])
def test_split_clone_suffix(name, base, suffix):
    split = split_clone_suffix(name)
    assert split.base == base
    assert split.clone_suffix == suffix


def test_split_keeps_projects_apart():
    records = [record("a", "ret", "p1"), record("b", "nop\nret", "p1"), record("c", "push rbp", "p2"),
               record("d", "push rbx", "p3"), record("e", "ret", "p3")]
    result = split_by_project(records, {"eval": ["p2"], "test": ["p3"]})
    assert [r.function_name for r in result.splits["train"]] == ["a", "b"]
    assert [r.function_name for r in result.splits["eval"]] == ["c"]
    assert [r.function_name for r in result.splits["test"]] == ["d"], "e duplicates a's assembly"
    assert result.summary.duplicates_removed == 1
    assert result.summary.projects == {"train": ["p1"], "eval": ["p2"], "test": ["p3"]}


def test_split_rejects_unknown_project():
    with pytest.raises(DatasetError) as error:
        split_by_project([record("a", "ret", "p1")], {"eval": ["nope"]}, path="x.csv")
    assert "nope" in str(error.value)
    assert "p1" in str(error.value)


def test_dataset_roundtrip_keeps_multiline_assembly(tmp_path):
    path = tmp_path / "d.csv"
    rows = [record("a", 'lea rdi, [rip + "a, \\"b\\""]\ncall <puts>\nret', "p")]
    write_dataset(path, rows)
    assert read_dataset(path) == rows


def test_reader_names_missing_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("function_name,assembly\nf,ret\n")
    with pytest.raises(DatasetError) as error:
        read_dataset(path)
    message = str(error.value)
    assert str(path) in message
    for column in ("binary", "address", "size", "arch", "project", "opt_level"):
        assert column in message


def test_reader_rejects_bad_size(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("function_name,assembly,binary,address,size,arch,project,opt_level\nf,ret,b,0x0,big,x,p,O2\n")
    with pytest.raises(DatasetError) as error:
        read_dataset(path)
    assert "size='big'" in str(error.value)
