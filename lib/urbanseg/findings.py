"""What a check found (``urbanseg validate``, ``verify``, ``rerun``): what held and what did
not, printed one per line with a verdict, and whether all held."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Findings:
    subject: Path
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    # how a subclass words its lines and its verdict
    held: str = field(default="ok", init=False, repr=False)
    failed: str = field(default="PROBLEMA", init=False, repr=False)
    passed: str = field(default="ok", init=False, repr=False)
    counted: str = field(default="problema(s)", init=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        lines = [f"{self.held}: {item}" for item in self.checked]
        lines += [f"{self.failed}: {problem}" for problem in self.problems]
        verdict = self.passed if self.ok else f"{len(self.problems)} {self.counted}"
        return "\n".join([*lines, f"{self.subject}: {verdict}"])
