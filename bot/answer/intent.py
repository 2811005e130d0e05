"""Whether a message asks for the gist of an article ("what is this article about?",
"tl;dr", "summarise the comet story") or for the list of articles ("what's new?",
"what articles do you have?") rather than asking a question about them. Such a
message gets the article's summary (stored at build time) or the list, not a
search for its words, which the articles never hold.

A small rule-based classifier, measured on a labelled set of its own
(`tests/questions/intents.jsonl`, `bench/intent.py`): real questions that merely
contain "about" or "new" ("what is the station about to do?") stay questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# the words that ask for a summary whatever surrounds them (typos included)
ASKS_FOR_GIST = re.compile(
    r"\b(?:tl\s*;?\s*dr|tldr|su+m+[ae]r(?:[iy][sz]\w*|y)|gist|recap|synopsis"
    r"|key points|main points|the short version|in a nutshell)\b"
)
# "what is this (article) about", "what's it about", "what was the story about"
WHAT_ABOUT = re.compile(
    r"^(?:so\s+)?what(?:'s|s| is| was| are)\s+(?:this|that|it|the|these|those)"
    r"(?:\s+(?:article|story|piece|news|text|report|articles|stories))?\s+(?:all\s+)?about\s*$"
)
WHAT_HAPPENED = re.compile(r"^(?:so\s+)?what\s+happened\s*$")
# a question of its own ("who wrote the summary report?"), whatever words it holds
OTHER_QUESTION = re.compile(
    r"^(?:who|whom|whose|when|where|why|how|which|what\s+(?:did|does|do))\b"
)
# what is left of the message names the article: "summarize the comet article" -> "comet"
FILLER = re.compile(
    r"\b(?:can|could|would|will|you|u|please|pls|plz|me|give|gimme|a|an|the|of|for|on|"
    r"about|article|story|piece|news|text|report|this|that|it|quick|short|brief|just|"
    r"tell|what|whats|is|was|s|do|does|i|need|want|get|write|make|up|in|its|so|happened)\b"
)
PUNCTUATION = re.compile(r"[^\w\s;']+")


# "what articles do you have", "what's new", "latest news": the list, not a question
ASKS_FOR_LIST = re.compile(
    r"^(?:(?:what|which)\s+(?:articles|stories|sources|news)\s+"
    r"(?:(?:do|can)\s+(?:you|u)\s+(?:have|got|know|cover)|(?:are|is)\s+(?:there|here|in))"
    r"|what(?:'s|s| is)\s+new(?:\s+(?:today|lately|here|this week))?\s*$"
    r"|(?:any\s+)?(?:latest|recent|new)\s+(?:news|articles|stories)\s*$"
    r"|(?:list|show)(?:\s+me)?\s+(?:the\s+|all\s+|your\s+)?(?:articles|stories|sources)\s*$)"
)


def plain(message: str) -> str:
    """The message as the patterns read it: lower case, one apostrophe, no punctuation
    but ";" (tl;dr), single spaces."""
    return " ".join(PUNCTUATION.sub(" ", message.casefold().replace("\u2019", "'")).split())


@dataclass(frozen=True)
class SummaryRequest:
    """A message that asks for an article's gist; `about`: the words that name which
    article ("" when it names none)."""

    about: str


def summary_request(message: str) -> SummaryRequest | None:
    """The summary the message asks for, or None when it is a question like any other."""
    text = plain(message)
    if OTHER_QUESTION.match(text):
        return None
    gist = ASKS_FOR_GIST.search(text)
    if not gist and not WHAT_ABOUT.match(text) and not WHAT_HAPPENED.match(text):
        return None
    rest = ASKS_FOR_GIST.sub(" ", text)
    return SummaryRequest(" ".join(FILLER.sub(" ", rest).replace("'", " ").split()))


def summary_message(words: str = "") -> str:
    """The message `/summary WORDS` (and `articlebot summary WORDS`) stands for."""
    return f"summarize {words}".strip()


def list_request(message: str) -> bool:
    """Does the message ask which articles there are (newest first)?"""
    return bool(ASKS_FOR_LIST.match(plain(message)))
