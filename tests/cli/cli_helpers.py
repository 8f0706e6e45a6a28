"""Helpers shared by the CLI tests: run the CLI in a subprocess, check clean failures."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

SAMPLE_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count_words(const char *text) {
    int words = 0, inside = 0;
    for (; *text; text++) {
        if (*text == ' ' || *text == '\n') inside = 0;
        else if (!inside) { inside = 1; words++; }
    }
    return words;
}

char *duplicate_string(const char *text) {
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy == NULL) { fprintf(stderr, "out of memory\n"); exit(1); }
    memcpy(copy, text, length + 1);
    return copy;
}

void print_usage(const char *program) {
    printf("usage: %s [--help] FILE\n", program);
}

long sum_array(const long *values, int count) {
    long total = 0;
    for (int i = 0; i < count; i++) total += values[i];
    return total;
}

int main(int argc, char **argv) {
    if (argc < 2) { print_usage(argv[0]); return 2; }
    char *copy = duplicate_string(argv[1]);
    long values[3] = {1, 2, 3};
    printf("%d %ld\n", count_words(copy), sum_array(values, 3));
    free(copy);
    return 0;
}
"""


@dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, stdin: str | None = None, timeout: int = 600) -> CommandResult:
    completed = subprocess.run([sys.executable, "-m", "binbridge.cli", *args], input=stdin, capture_output=True,
                               text=True, timeout=timeout)
    return CommandResult(completed.returncode, completed.stdout, completed.stderr)


def assert_clean_failure(result: CommandResult, *needles: str) -> None:
    """Exit code 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
