"""Typed access to the JSON objects of a corpus manifest, with errors that name the field.

Every problem raises ``InputError(manifest path, "<field path>: <problem>", fix)``,
where the field path reads like ``sources.libs.packages[3].libraries[0].project``,
so one line shows the user what to change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from binbridge.errors import InputError

_MISSING = object()


class FieldReader:
    """One JSON object of the manifest and its location, for reading typed fields."""

    def __init__(self, data: object, where: str, manifest: Path) -> None:
        self.where = where
        self.manifest = manifest
        if not isinstance(data, dict):
            self.fail(f"{where or 'manifest'} must be a JSON object, not {type(data).__name__}",
                      "see corpus/README.md for the manifest layout")
        self.data: dict[str, Any] = data

    def field_path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, problem: str, fix: str) -> None:
        raise InputError(self.manifest, problem, fix)

    def check_keys(self, allowed: set[str], noun: str = "field") -> None:
        """Raise for keys that the layout does not define, which are usually typos."""
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            self.fail(f"{self.field_path(unknown[0])}: unknown {noun}",
                      f"use only {', '.join(sorted(allowed))} (see corpus/README.md)")

    def _value(self, key: str, default: object) -> object:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            self.fail(f"{self.field_path(key)}: missing required field",
                      f"add \"{key}\" to this entry (see corpus/README.md)")
        return default

    def text(self, key: str, default: object = _MISSING) -> str:
        value = self._value(key, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{self.field_path(key)}={value!r} is invalid: must be a non-empty string",
                      "write the value as a JSON string")
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        """Return a string field, or None when it is absent or null."""
        if self.data.get(key) is None:
            return None
        return self.text(key)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._value(key, default)
        if not isinstance(value, bool):
            self.fail(f"{self.field_path(key)}={value!r} is invalid: must be true or false",
                      "write a JSON boolean")
        return value

    def integer(self, key: str, default: object = _MISSING) -> int:
        value = self._value(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{self.field_path(key)}={value!r} is invalid: must be an integer", "write a JSON integer")
        return value

    def text_list(self, key: str, default: object = _MISSING) -> tuple[str, ...]:
        value = self._value(key, default)
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
            self.fail(f"{self.field_path(key)}={value!r} is invalid: must be a list of non-empty strings",
                      "write a JSON array of strings")
        return tuple(value)

    def child(self, key: str, default: object = _MISSING) -> FieldReader:
        return FieldReader(self._value(key, default), self.field_path(key), self.manifest)

    def children(self, key: str, default: object = _MISSING) -> list[FieldReader]:
        value = self._value(key, default)
        if not isinstance(value, list):
            self.fail(f"{self.field_path(key)} must be a JSON array, not {type(value).__name__}",
                      "write a JSON array of objects")
        return [FieldReader(item, f"{self.field_path(key)}[{index}]", self.manifest)
                for index, item in enumerate(value)]
