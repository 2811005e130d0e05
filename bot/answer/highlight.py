"""Which part of an answer sentence answers the question, when that is unambiguous.

For questions that ask for a date, a number, a person or a place, an answer
sentence with exactly one candidate of that kind (not already in the
question) gets that candidate marked. Nothing is added or changed: the mark
is a character span, and each platform renders it in its own markup.
"""

from __future__ import annotations

import re

MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
)
DAY = r"\d{1,2}(?:st|nd|rd|th)?"
WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
# the dates news is written in ("last year", "on Monday"): an answer that holds one
# gives a date, but it is shown in bold only where no date says which year, and it does
# not stop the sentence beside that holds a year from being quoted (`relative`)
RELATIVE_DATE = re.compile(
    r"\b(?:(?:[Ll]ast|[Nn]ext|[Tt]his|[Ee]arlier this|[Ll]ater this)\s+"
    r"(?:year|month|week|decade|century|spring|summer|autumn|fall|winter|weekend)"
    rf"|[Yy]esterday|{WEEKDAY})\b"
)
# a date with or without its year ("23 November"), a year, a century, an era's year
# ("13,000 BP"), or a time ago ("2.7 billion years ago")
DATE = re.compile(
    rf"\b(?:{MONTH}\s+{DAY},?\s+\d{{4}}|{DAY}\s+{MONTH}\s+\d{{4}}"
    rf"|{MONTH}\s+\d{{4}}|{MONTH}\s+{DAY}|{DAY}\s+{MONTH}|(?:1[0-9]|20)\d{{2}}s?"
    r"|\d{1,2}(?:st|nd|rd|th)[\s-]centur(?:y|ies)|\d[\d,]{0,6}\s?(?:BC|AD|BCE|CE|BP)"
    r"|AD\s?\d{1,4}|\d[\d,.]*(?:\s?[\u2013-]\s?\d[\d,.]*)?\s+(?:(?:thousand|million|billion)\s+)?"
    r"years\s+ago)\b"
)
UNITS = (
    r"(?:%|percent|per cent|million|billion|thousand|hundred|years?|months?|weeks?|days?|hours?"
    r"|minutes?|seconds?|km|kilometres?|kilometers?|miles?|metres?|meters?|feet|kg|tonnes?|tons?"
    r"|dollars?|euros?|pounds?|people|times)"
)
NUMBER = re.compile(
    rf"(?:[$€£]\s?)?\b\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s+{UNITS}\b)?"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    rf"thirty|forty|fifty|hundred)\s+{UNITS}\b"
    # a count spelled out ("two kinds", "nine affiliates"); not "one", mostly a pronoun,
    # nor a span of time ("two decades" counts no modules)
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundreds?|thousands?|millions?|dozens?|twice|half|\w+fold)"
    # "twenty-five", "six-time" and "four-valve" count; "two-thirds" is a share
    r"(?:-(?:one|two|three|four|five|six|seven|eight|nine))?\b"
    r"(?!-(?:halves|thirds?|quarters?|fifths?|sixths?|sevenths?|eighths?|ninths?|tenths?)\b)"
    r"(?!\s+(?:decades?|centur(?:y|ies)|years?|months?|weeks?|days?|hours?|minutes?)\b)",
    re.IGNORECASE,
)
# what a question for a number asks it to measure, when its words say: money wants
# a currency, a share wants a percentage; a count of things ("how many bridges") is
# never a span of time ("15 years"), unless it counts years, days or hours
MONEY_ASKED = re.compile(
    r"\b(?:money|costs?|costing|price|budget|spend|spent|paid|pay|pays|funding|worth|salary"
    r"|revenue|donat\w+|invest\w*)\b",
    re.IGNORECASE,
)
SHARE_ASKED = re.compile(r"\b(?:percentage|percent|per cent|proportion|fraction)\b", re.I)
# the words after "how many" that may name what is counted: "how many paid holiday days"
COUNT_ASKED = re.compile(r"\bhow many((?:\s+\w+){1,3})", re.IGNORECASE)
MONEY = re.compile(
    r"[$€£¥]|\b(?:dollars?|euros?|pounds?|sterling|francs?|marks|yen|roubles?|rubles?"
    r"|guilders?|florins?|crowns?|lire|pesos?|USD|GBP|EUR)\b",
    re.IGNORECASE,
)
SHARE = re.compile(r"%|\b(?:per ?cent|percent|half|third|quarter|fifth|tenth)\b", re.I)
TIME_UNIT = r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centur(?:y|ies))"
SPAN_OF_TIME = re.compile(rf"\b{TIME_UNIT}\b", re.IGNORECASE)
UNIT_AFTER = 24  # characters after a number that may name its unit: "43 million pounds"
NAME = re.compile(r"\b[A-Z][\w'\u2019-]+(?:\s+(?:of|de|van|von|the|la)?\s*[A-Z][\w'\u2019-]+)*")
ROLES = (
    r"(?:person|man|woman|leader|president|king|queen|emperor|ruler|pope|chief|head|chair"
    r"|chairman|director|founder|author|inventor|scientist|composer|architect|artist|writer"
    r"|wife|husband|father|mother|son|daughter|successor|predecessor|boss|ceo|captain|coach)"
)
# what a question's own words ask for ("when", "how many", "which city")
ASKS = [
    (
        "date",
        r"^\s*(when(?:['\u2019]?s)?|since when|what year|which year|in what year|what date"
        r"|on what date)\b"
        r"|\b(what|which) (year|decade|century)\b",
    ),
    (
        "number",
        r"\bhow (many|much|long|old|far|big|tall|high|large)\b|\bwhat (percentage|number)\b",
    ),
    ("person", rf"^\s*(who|whom|whose)\b|\b(which|what) (\w+ )?{ROLES}\b"),
    ("place", r"^\s*where\b|\b(what|which) (city|country|state|place|town|region|continent)\b"),
]
# failing those, what a terse chat question names last: "IPCC founding year?",
# "which rival club's coach"; not in a question that asks why, how, or yes or no: "Why
# is new oil sold at a higher price?" asks for no number
END = r"\s*[?.!]*\s*$"
AUXILIARY = r"is|are|was|were|do|does|did|can|could|will|would|should|has|have|had"
ASKS_ELSE = re.compile(rf"^\s*(?:why|how|{AUXILIARY})\b", re.IGNORECASE)
YES_OR_NO = re.compile(rf"^\s*(?:{AUXILIARY})\b", re.IGNORECASE)
TERSE_MAX_WORDS = 6  # "What was the Song dynasty's capital?"; a longer one has a verb
# what the words are counted without: an abbreviation's spelling out, which the answerer
# adds ("IPCC (Intergovernmental Panel on Climate Change) founding year?")
IN_BRACKETS = re.compile(r"\([^()]*\)")
# a clause before what is asked: "When the Rhine leaves the lake, which way does it flow?"
CLAUSE_FIRST = re.compile(
    r"^\s*(?:when|if|since|while|although|though|because|after|before|once|given)\b[^,?]*,\s*"
    r"(?=(?:who|whom|whose|what|which|where|when|why|how|in what|on what|is|are|was|were"
    r"|do|does|did)\b)",
    re.IGNORECASE,
)
TERSE = [
    ("date", rf"\b(year|date|founded|founding|born|opened|when){END}"),
    ("number", rf"\b(number of \w+|population|length|height|cost|price|age){END}"),
    ("person", rf"\b{ROLES}{END}"),
    ("place", rf"\b(where|birthplace|hometown|capital|headquarters|location){END}"),
]


def asks_yes_or_no(question: str) -> bool:
    """Whether the question asks yes or no ("Is the ISS going to crash?"), after any
    clause before what is asked: only a sentence that says what it asks answers it."""
    return bool(YES_OR_NO.match(CLAUSE_FIRST.sub("", question, count=1)))


def asked_kind(question: str) -> str | None:
    """The kind of thing the question asks for (date, number, person, place), if any."""
    question = CLAUSE_FIRST.sub("", question, count=1)
    if (found := _first_kind(ASKS, question)) is not None:
        return found
    if ASKS_ELSE.match(question) or len(IN_BRACKETS.sub("", question).split()) > TERSE_MAX_WORDS:
        return None  # not terse
    return _first_kind(TERSE, question)


def _first_kind(patterns: list[tuple[str, str]], question: str) -> str | None:
    return next((kind for kind, pattern in patterns if re.search(pattern, question, re.I)), None)


def asked_measure(question: str) -> re.Pattern[str] | None:
    """For a question that asks for a number, what the number's own words must hold
    (a currency, a percentage), or, for a count of things, must not (a span of time):
    as a pattern, SPAN_OF_TIME being the one excluded (see `_measured`)."""
    if counted := COUNT_ASKED.search(question):  # "how many students pay …" counts
        words = counted.group(1).split()  # "how many pounds of steam": not only money
        counts_time = any(re.fullmatch(TIME_UNIT, word, re.IGNORECASE) for word in words)
        return None if counts_time else SPAN_OF_TIME
    if MONEY_ASKED.search(question):
        return MONEY
    if SHARE_ASKED.search(question):
        return SHARE
    return None


def _measured(question: str, sentence: str, spans: list[tuple[int, int]]) -> list:
    """The numbers that measure what the question asks: "how much money" is not
    answered by "15 years", nor "how many bridges" by "15 years"."""
    measure = asked_measure(question)
    if measure is None:
        return spans
    if measure is SPAN_OF_TIME:  # its unit, if any, is part of the number's span
        return [(a, b) for a, b in spans if not measure.search(sentence[a:b])]
    return [(a, b) for a, b in spans if measure.search(_with_unit(sentence, a, b))]


def _with_unit(sentence: str, start: int, end: int) -> str:
    """A number with the sign before it and the words after it, up to the next
    number: "£43 million", "43 million pounds", "12 %"."""
    after = re.split(r"\d", sentence[end : end + UNIT_AFTER], maxsplit=1)[0]
    return sentence[max(0, start - 1) : end] + after


def _candidates(kind: str, sentence: str, question: str, relative: bool) -> list[tuple[int, int]]:
    if kind == "date":
        dates = [m.span() for m in DATE.finditer(sentence)]
        return dates + [m.span() for m in RELATIVE_DATE.finditer(sentence)] if relative else dates
    if kind == "number":
        dates = [m.span() for m in DATE.finditer(sentence)]
        spans = [m.span() for m in NUMBER.finditer(sentence)]
        undated = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in dates)]
        return _measured(question, sentence, undated)
    names = [m.span() for m in NAME.finditer(sentence)]
    return [s for s in names if s[0] > 0]  # the first word is capitalised anyway


def typed_spans(
    question: str, sentence: str, relative: bool = False
) -> list[tuple[int, int]] | None:
    """The dates, numbers, people or places in `sentence` that could answer the
    question (what it asks for, not already in it), with dates such as "last year" if
    `relative`; None when it asks for no kind."""
    kind = asked_kind(question)
    if kind is None:
        return None
    known = question.casefold()
    found = _candidates(kind, sentence, question, relative)
    return [s for s in found if sentence[s[0] : s[1]].casefold() not in known]


def answer_span(
    question: str, sentences: list[str], searched: list[bool]
) -> tuple[int, int] | None:
    """The one date/number/person/place the question asks for in `sentences` joined
    by spaces, sought only in the `searched` ones (not those quoted for context)."""
    spans, offset = [], 0
    for sentence, search in zip(sentences, searched, strict=True):
        if search:
            found = typed_spans(question, sentence, relative=True) or []
            spans += [(offset + a, offset + b) for a, b in found]
        offset += len(sentence) + 1
    text = " ".join(sentences)  # "last year" (or "Monday") only where nothing else is
    named = [(a, b) for a, b in spans if not RELATIVE_DATE.fullmatch(text[a:b])]
    spans = named or spans
    return spans[0] if len(spans) == 1 else None
