"""Exception hierarchy shared by every Binbridge component.

The CLI turns any ``BinbridgeError`` into a one-line message and exit code 2,
so each subclass must carry enough context (path, value, fix) to stand alone.
"""

from __future__ import annotations

import os


class BinbridgeError(Exception):
    """Base class of every error that the CLI reports without a traceback."""


class InputError(BinbridgeError):
    """An input file or value that Binbridge cannot use."""

    def __init__(self, path: str | os.PathLike[str] | None, problem: str, fix: str = "") -> None:
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.path}: " if self.path is not None else ""
        tail = f"; {self.fix}" if self.fix else ""
        return f"{where}{self.problem}{tail}"


class ConfigError(BinbridgeError):
    """A configuration field whose value breaks a rule; names the field, the value and the rule."""

    def __init__(self, component: str, field: str, value: object, rule: str) -> None:
        self.component = component
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{component}.{field}={value!r} is invalid: {rule}")


class DatasetError(InputError):
    """A dataset file with missing columns or unreadable rows."""


class ModelLoadError(InputError):
    """A model folder or hub id that cannot be loaded."""
