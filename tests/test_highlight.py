"""Highlighting the part of an answer that was asked for (bot/answer/highlight.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer.answerer import Answerer, ScoredSentence, runner_up
from bot.answer.highlight import answer_span, asked_kind, asks_yes_or_no
from bot.answer.records import Passage
from bot.settings import load_settings
from bot.wiring import make_answerer
from index.records import Article, Chunk
from tests.fakes.hashing import HashingEmbedder
from tests.one_article import answerer_of


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the International Space Station launched?", "1998"),
        ("iss launch year", "1998"),  # terse; "Last year, …" shares a word with it
        ("How long was Mir in orbit?", "15 years"),
        ("When does Russia plan to build its own orbiting station?", "2025"),
    ],
)
def test_the_asked_for_part_is_highlighted(
    answerer: Answerer, question: str, expected: str
) -> None:
    answer = answerer.answer(question)
    assert answer.highlight is not None
    start, end = answer.highlight
    assert answer.text[start:end] == expected
    assert answer.marked("**").count(f"**{expected}**") == 1
    assert answer.marked("**").replace("**", "") == answer.text  # nothing else changed


def span_in(question: str, sentence: str) -> tuple[int, int] | None:
    """The highlight of an answer that is this one sentence."""
    return answer_span(question, [sentence], [True])


def test_a_date_that_says_which_year_is_preferred_to_last_year() -> None:
    sentences = ["Last year, SpaceX flew there.", "The station was launched in 1998."]
    year = " ".join(sentences).index("1998")
    assert answer_span("iss launch year", sentences, [True, True]) == (year, year + 4)


def test_no_highlight_when_ambiguous_or_not_asked() -> None:
    assert asked_kind("What now threatens the work?") is None
    assert (
        span_in("Who criticised it?", "Officials said Biden and Putin both spoke.") is None
    )  # two names
    assert span_in("How many stalls?", "It has sixty stalls.") == (7, 12)  # spelled out
    assert span_in("How many stalls?", "No one counted them.") is None  # "one": a pronoun
    assert span_in("How many modules?", "For two decades it has flown.") is None  # a span
    assert span_in("How many visitors came?", "A record 18,000 visitors came.") == (9, 15)
    assert span_in("Where did it open?", "It opened in Kettering Vale last week.") == (13, 27)
    assert span_in("Where did it open?", "It opened in Kettering Vale near Lower Brook.") is None
    # a day of the week is no place
    assert span_in("Where did it open?", "It opened in Kettering Vale on Monday.") == (13, 27)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # chat questions name what they ask for last, with no question word
        ("Newcomen engine year?", "date"),
        ("IPCC founding year?", "date"),
        # as the answerer reads it: an abbreviation's spelling out adds no words
        ("IPCC (Intergovernmental Panel on Climate Change) founding year?", "date"),
        ("Which century did it start in?", "date"),
        ("Luther's wife?", "person"),
        ("Which Harvard head served longest?", "person"),
        ("which rival club's coach", "person"),
        ("Chopin's birthplace?", "place"),
        ("Warsaw population?", "number"),
        ("Harvard founded when?", "date"),
        ("whens the next launch", "date"),
        ("When's the next launch?", "date"),
        # a question word decides first: not a date for "born", nor for "a year"
        ("Where was Friedrich Ratzel born?", "place"),
        ("How many projects does it realise a year?", "number"),
        ("What is the head of the river called?", None),  # "head" not asked for as a role
        ("What did the son say?", None),
        ("Russia's space agency?", None),
        # no terse form in a question that asks why, how, or yes or no
        ("what's the IPCC founding year?", "date"),
        ("Why is new oil sold at a higher price?", None),
        ("Is the ticket price?", None),
        # a clause before the question word is not what is asked
        ("When the cells divide, what do they become?", None),
        ("If it rains, which day does it open?", None),
        ("If it rains, when does it open?", "date"),
    ],
)
def test_chat_questions_ask_for_a_kind(question: str, kind: str | None) -> None:
    assert asked_kind(question) == kind


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        (
            "When did the reform begin?",
            "In the early 11th century the dukes began it.",
            "11th century",
        ),
        ("When was the wall built?", "The wall went up around 122 AD under Hadrian.", "122 AD"),
        ("How many kinds were there?", "There were two kinds of networks.", "two"),
        ("How much higher was it?", "It was twice the average.", "twice"),
        ("How large is the difference?", "There is a tenfold difference.", "tenfold"),
        # "two-thirds" is no count of days
        ("How many days?", "It has 30 days to override it by a two-thirds vote.", "30 days"),
        # a day of a date is no count, and a count ends at its last digit
        ("How long did it go on?", "From 1 August 1944, it went on for 63 days.", "63 days"),
        ("How many came?", "In 1348, 25,000 came.", "25,000"),
        # a day without its year, a time ago, a count joined to its noun
        ("When did it open?", "It opened on January 30.", "January 30"),
        ("When did it begin?", "It began 8,000 years ago.", "8,000 years ago"),
        ("How many Grammys?", "Six-time Grammy winner Lady Gaga sang.", "Six"),
        ("How many were there?", "There were twenty-five of them.", "twenty-five"),
        # news dates itself from the day it is written
        ("When did it open?", "It opened to traffic on Monday.", "Monday"),
        ("When did SpaceX fly there?", "Last year, SpaceX flew there.", "Last year"),
    ],
)
def test_dates_and_counts_in_words_are_found(question: str, sentence: str, expected: str) -> None:
    span = span_in(question, sentence)
    assert span is not None and sentence[span[0] : span[1]] == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # a number that measures something else is no answer: money wants a currency
        ("How much money does it put in each year?", "It has flown for 15 years.", None),
        ("How much did the bridge cost?", "It cost £43 million and took 5 years.", "£43 million"),
        ("How much did it cost?", "Begun in 1990, it cost 43 million pounds.", "43 million"),
        # a share wants a percentage, and a count of things is no span of time
        ("What percentage are macrophages?", "Of 50 or 60 kinds, 30 per cent.", "30 per cent"),
        ("How many bridges cross it?", "For 15 years, 12 bridges have crossed it.", "12"),
        ("How many years did it last?", "It lasted 15 years.", "15 years"),
        # what is counted is named by a word or two after "how many"
        ("How many paid holiday days?", "Most require more than 28 days.", "28 days"),
        ("How many pounds of steam?", "It uses 8.8 pounds an hour.", "8.8 pounds"),
        # a count is a count, whatever its question says about money
        ("How many students pay full fees?", "About 2,000 students pay full fees.", "2,000"),
        ("How many dollars did it cost?", "It cost 40 dollars in 1990.", "40 dollars"),
    ],
)
def test_a_number_must_measure_what_was_asked(
    question: str, sentence: str, expected: str | None
) -> None:
    span = span_in(question, sentence)
    assert (sentence[span[0] : span[1]] if span else None) == expected


def test_the_runner_up_is_another_sentence_not_a_copy_of_the_best() -> None:
    """Passages overlap: the best sentence is a candidate twice, and the runner-up
    is the next sentence that is not it."""
    text = "The quay opened in 2019. Gulls nest under it."
    article = Article("a", "Quay", text, "quay.txt")
    chunk = Chunk("a:0", "a", 0, len(text), text)
    passages = [Passage(rank, chunk, article, 1.0) for rank in (1, 2)]
    scored = [
        ScoredSentence(passages[0], 0, 24, 2.0),
        ScoredSentence(passages[1], 0, 24, 1.9),  # the same sentence again
        ScoredSentence(passages[1], 25, 45, 1.8),
    ]
    assert runner_up(scored, [0, 1, 2]) == [2]
    assert runner_up(scored[:2], [0, 1]) == []


def test_the_sentence_beside_gives_what_was_asked_for(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """The sentence that matches the question best holds no date; the one after it
    does, and comes with it."""
    answerer = answerer_of(
        tmp_path,
        fast_embedder,
        "Orchard festival returns\n\nThe Orchard Festival returns to Kettering Vale this "
        "autumn with cider, music and a parade. It was first held in 1987 by the valley's "
        "growers.\n",
    )
    answer = answerer.answer("When did the Orchard Festival in Kettering Vale begin?")
    assert "Kettering Vale this autumn" in answer.text and "1987" in answer.text
    assert answer.highlight is not None
    assert answer.text[answer.highlight[0] : answer.highlight[1]] == "1987"
    # asked for no date, the best sentence alone
    offered = answerer.answer("What does the Orchard Festival in Kettering Vale offer?")
    assert "cider" in offered.text and "1987" not in offered.text


LONG_BEST = (
    "The Orchard Festival returns to Kettering Vale this autumn with cider from twelve "
    "farms, music on three stages, a parade of decorated tractors, a lantern walk along "
    "the river and stalls selling preserves, cheeses and breads from across the valley."
)
LONG_AFTER = (
    "It was first held in {early} by the valley's growers, who wanted a day to sell what "
    "the summer had left over, and it has grown every year since then, drawing visitors "
    "from the coast, the capital and the hill towns, with a record crowd in {late}."
)


@pytest.mark.parametrize(
    ("early", "late", "shown"),
    [
        ("1987", "the end", "1987"),  # early in the sentence after: shown, the rest cut
        ("the end", "2019", None),  # only past the cut: the best sentence alone
    ],
)
def test_the_sentence_after_gives_what_was_asked_for_even_if_cut_short(
    tmp_path: Path, fast_embedder: HashingEmbedder, early: str, late: str, shown: str | None
) -> None:
    """The two sentences do not fit in one answer (400 characters); the one after the
    best is quoted when the date it holds comes before the cut."""
    after = LONG_AFTER.format(early=early, late=late)
    assert len(LONG_BEST) + 1 + len(after) > 400
    answerer = answerer_of(
        tmp_path, fast_embedder, f"Orchard festival returns\n\n{LONG_BEST} {after}\n"
    )
    answer = answerer.answer("When did the Orchard Festival in Kettering Vale begin?")
    assert answer.text.startswith(LONG_BEST)
    if shown is None:
        assert answer.text == LONG_BEST  # ("this autumn" is the date it shows)
    else:
        assert answer.text.endswith("…") and len(answer.text) <= 400
        assert answer.highlight is not None
        assert answer.text[answer.highlight[0] : answer.highlight[1]] == shown


def test_a_sentence_that_points_back_comes_with_the_one_before_it(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """The best sentence opens with "It": the sentence before says what "it" is and
    is quoted first; a sentence that points nowhere is quoted alone, and a sentence
    before that does not fit in one answer is left out."""
    article = (
        "Lantern fair\n\nThe lantern fair of Brindle Cove is run by the harbour guild. It "
        "sets the fees for every stall each spring. Gulls circle the quay at dusk.\n"
    )
    answerer = answerer_of(tmp_path, fast_embedder, article)
    fees = answerer.answer("Who sets the fees for every stall each spring?")
    assert fees.text.startswith("The lantern fair of Brindle Cove is run by the harbour guild.")
    assert fees.text.endswith("It sets the fees for every stall each spring.")
    # the source is cited for the sentence that answers, not the one before it
    cited = fees.sources[0]
    assert cited.cited is not None
    start, end = cited.cited
    assert cited.chunk.text[start:end] == "It sets the fees for every stall each spring."
    gulls = answerer.answer("What circles the quay at dusk?")
    assert gulls.text == "Gulls circle the quay at dusk."
    short = make_answerer(load_settings(data_dir=tmp_path, answer_max_chars=80), answerer.index)
    alone = short.answer("Who sets the fees for every stall each spring?")
    assert alone.text == "It sets the fees for every stall each spring."


def test_a_sentence_quoted_for_context_lends_no_highlight(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """The sentence before the answer is quoted for what "It" means; its own date is
    not what was asked, so the answer's one date stays marked."""
    answerer = answerer_of(
        tmp_path,
        fast_embedder,
        "Lantern fair\n\nThe lantern fair of Brindle Cove began in 1987 under the harbour "
        "guild. It first set the fees for every stall in 2001. Gulls circle the quay.\n",
    )
    answer = answerer.answer("When did the guild first set the fees for every stall?")
    assert answer.text.startswith("The lantern fair") and "in 2001." in answer.text
    assert answer.highlight is not None
    assert answer.text[answer.highlight[0] : answer.highlight[1]] == "2001"


def test_a_close_runner_up_with_what_was_asked_for_comes_with_the_best(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """The best sentence holds every word of the question but no date; the runner-up,
    two sentences on, holds the date and no word the best lacks: it is quoted too."""
    answerer = answerer_of(
        tmp_path,
        fast_embedder,
        "Harbour bridge\n\nThe open day of the Port Elsworth harbour bridge draws crowds "
        "to the old quarter. Gulls nest under its deck. The open day of the harbour bridge "
        "was first held in 2019.\n",
    )
    answer = answerer.answer("When was the open day of the Port Elsworth harbour bridge?")
    assert "open day" in answer.text and "2019" in answer.text and "Gulls" not in answer.text
    # asked for no date, the best sentence alone
    where = answerer.answer(
        "Where does the open day of the Port Elsworth harbour bridge draw crowds?"
    )
    assert "old quarter" in where.text and "2019" not in where.text


@pytest.mark.parametrize(
    ("question", "yes_or_no"),
    [
        ("Is the ISS going to crash?", True),
        ("did russia build mir", True),
        ("If it rains, is the festival called off?", True),  # after a clause
        ("When did the bridge open?", False),
        ("What is the bridge made of?", False),
        ("Isaac Newton's birthplace?", False),
        ("Why is the station ageing?", False),
    ],
)
def test_a_yes_or_no_question_is_told_from_others(question: str, yes_or_no: bool) -> None:
    assert asks_yes_or_no(question) is yes_or_no
