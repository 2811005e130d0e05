"""How far a long step (loading sources, embedding) has got: bars on a terminal
when the command line asks for them, silent everywhere else (the bots, the
tests, the benchmarks). One object, made by the entry point and passed down."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class Progress:
    """Shows steps as tqdm bars on stderr when `shown`, else passes them through."""

    shown: bool = False

    def over(self, items: Iterable[Item], what: str, unit: str) -> Iterable[Item]:
        """`items`, counted on a bar labelled `what` when shown."""
        if not self.shown:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=what, unit=unit)


SILENT = Progress()
