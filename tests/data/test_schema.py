"""The CSV line writer gives csv.writer's bytes."""

import csv
import io
import random
import subprocess

from binbridge.data.schema import csv_line


def test_csv_line_matches_csv_writer():
    rng = random.Random(0)
    alphabet = ['a', ' ', ',', '"', '\n', '\r', "'", '#', '\t', 'é', '\\', ';']
    rows = [[""], ["only"], [None, 3, 2.5, True, ""], ["mov eax, 1\nret", 'lea rdi, [rip + "a,\\"b"]']]
    rows += [["".join(rng.choice(alphabet) for _ in range(rng.randrange(6))) for _ in range(rng.randrange(1, 5))]
             for _ in range(500)]
    for row in rows:
        expected = io.StringIO()
        csv.writer(expected).writerow(row)
        assert csv_line(row) == expected.getvalue(), row


def test_extracted_csv_reads_back(tmp_path, gcc):
    from binbridge.data.extract import extract_to_csv
    from binbridge.data.schema import iter_rows

    source = tmp_path / "quotes.c"
    source.write_text('#include <stdio.h>\n'
                      'void say(void) { puts("a \\"quoted\\", comma"); }\n'
                      'int twice(int x) { return x + x; }\n')
    subprocess.run([gcc, "-O1", "-c", str(source), "-o", str(tmp_path / "quotes.o")], check=True)
    extract_to_csv([str(tmp_path / "quotes.o")], tmp_path / "quotes.csv")
    rows = {row["function_name"]: row for row in iter_rows(tmp_path / "quotes.csv")}
    assert set(rows) == {"say", "twice"}
    assert '"a \\"quoted\\", comma"' in rows["say"]["assembly"]
    assert "\n" in rows["twice"]["assembly"]
