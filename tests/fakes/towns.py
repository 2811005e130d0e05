"""Made-up articles in bulk: the bundled article and 20 about town councils, each of
25 sentences, over BULK_TEXTS sentences in all (a job torch would take where it can)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.settings import bundled_dir

TOWNS = 20
SENTENCES = 25


def town_articles(folder: Path) -> Path:
    """`folder`, made, with the bundled article and one article per town."""
    folder.mkdir()
    shutil.copy(bundled_dir() / "articles" / "russia-leaves-iss.txt", folder)
    for n in range(1, TOWNS + 1):
        minutes = " ".join(
            f"Item {k} of the minutes records that councillor {k} of Town {n} spoke "
            f"about {('parking', 'opening hours', 'the roof', 'books')[k % 4]}."
            for k in range(1, SENTENCES)
        )
        (folder / f"town-{n}.txt").write_text(
            f"Council of Town {n} votes on a new library\n\n"
            f"The council of Town {n} voted {n + 3} to 2 on Tuesday to build a library by "
            f"the river. The library will cost {n} million euros. {minutes}"
        )
    return folder
