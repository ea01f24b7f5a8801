"""What is wrong with a model bundle: one ``Problem`` per finding, located by file, line and element."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle, located as precisely as we can."""

    file: str
    message: str
    line: int | None = None
    element_id: str | None = None
    element_name: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line or 0}"
        return f"{where} {self.element_id or '-'}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "element_id": self.element_id,
            "element_name": self.element_name,
            "message": self.message,
        }


class BundleInvalid(Exception):
    """The bundle cannot be deployed; ``problems`` says why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
