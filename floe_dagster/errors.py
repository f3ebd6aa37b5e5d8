"""The one error type a user sees for bad product input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (file and field path) and what to do about it."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class FloeConfigError(Exception):
    """A product directory that cannot become definitions; lists every problem found."""

    def __init__(self, product: str, problems: list[Problem]) -> None:
        self.product = product
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"product {product!r} cannot be loaded:\n{lines}")

    @classmethod
    def single(cls, product: str, file: str, field: str, message: str) -> FloeConfigError:
        return cls(product, [Problem(file, field, message)])
