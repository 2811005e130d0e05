"""Is a question in English? The model and the articles are English, so a question
in another language gets a note saying so instead of "not in the articles".

Function words decide: a question is not English when it holds at least two of
one other language's commonest words and more of them than English ones, or when
most of its letters are not Latin."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
ENGLISH = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "at",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "and",
        "or",
        "for",
        "with",
        "by",
        "from",
        "as",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
        "there",
        "has",
        "have",
        "had",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "not",
        "no",
    ]
)
OTHERS = {
    "French": "le la les un une des du de et est sont qui que quoi quand où pourquoi comment "
    "dans sur pour avec par au aux ce cette ces il elle ils elles a été était ne pas",
    "German": "der die das ein eine einen dem den des und ist sind war waren wer was wann wo "
    "warum wie mit von zu im auf für nicht hat haben wurde",
    "Spanish": "el la los las un una unos unas del de y es son fue qué quién cuándo dónde "
    "por qué cómo con para en se lo no ha han",
    "Italian": "il lo la gli le un una del della di e è sono chi che cosa quando dove perché "
    "come con per nel non ha hanno era",
    "Portuguese": "o a os as um uma do da dos das de e é são foi quem que quando onde por "
    "como com para em não tem",
    "Dutch": "de het een van en is zijn was wie wat wanneer waar waarom hoe met voor op in "
    "niet heeft hebben werd",
}
FUNCTION_WORDS = {language: frozenset(words.split()) for language, words in OTHERS.items()}


def other_language(question: str) -> str | None:
    """The language a question seems to be in when that is not English, else None."""
    letters = [c for c in question if c.isalpha()]
    if letters:
        latin = sum("LATIN" in unicodedata.name(c, "") for c in letters)
        if latin < len(letters) / 2:
            return "another language"
    words = [w.casefold() for w in WORD.findall(question)]
    english = sum(w in ENGLISH for w in words)
    counts = {lang: sum(w in found for w in words) for lang, found in FUNCTION_WORDS.items()}
    language, hits = max(counts.items(), key=lambda item: item[1])
    return language if hits >= 2 and hits > english else None
