"""`binbridge name` shows how far it got on long binaries."""

import subprocess

from binbridge.inference.naming import name_binary


def test_name_binary_reports_progress(tmp_path, gcc, capsys):
    source = tmp_path / "two.c"
    source.write_text("int add(int a, int b) { return a + b; }\nint main(void) { return add(1, 2); }\n")
    binary = tmp_path / "two"
    subprocess.run([gcc, "-O1", str(source), "-o", str(binary)], check=True)
    # Every function has a symbol, so no model is needed.
    naming = name_binary(binary, None, show_progress=True)
    names = {f.name for f in naming.functions}
    assert {"add", "main"} <= names
    assert f"naming two: {len(naming.functions)}fn" in capsys.readouterr().err


def test_name_binary_is_quiet_without_progress(tmp_path, gcc, capsys):
    source = tmp_path / "one.c"
    source.write_text("int main(void) { return 0; }\n")
    binary = tmp_path / "one"
    subprocess.run([gcc, str(source), "-o", str(binary)], check=True)
    name_binary(binary, None)
    assert capsys.readouterr().err == ""
