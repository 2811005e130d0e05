"""Reading a question the way people type it: abbreviations the articles spell out,
misspelt words, and questions in another language (fast tier: no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer.language import other_language
from bot.answer.records import not_english
from bot.settings import Settings
from bot.wiring import make_answerer
from index.storage.article_index import ArticleIndex
from index.storage.lexicon import Lexicon, is_english, rewrite
from tests.fakes.hashing import HashingEmbedder

TEXTS = [
    "The International Space Station was launched in 1998. The station is run with NASA.",
    "The Intergovernmental Panel on Climate Change (IPCC) was set up in 1988.",
    "The Victoria and Albert Museum holds fashion. Heinrich Himmler wrote about Luther.",
    "The Seine flows through Paris. Warsaw is the capital of Poland.",
]
ENGLISH = frozenset({"when", "what", "resign", "think", "the", "was", "who", "did", "launch"})


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.of(TEXTS)


def test_abbreviations_are_spelled_out(lexicon: Lexicon) -> None:
    assert lexicon.expansion("ISS") == "International Space Station"
    assert lexicon.expansion("IPCC") == "Intergovernmental Panel on Climate Change"
    assert lexicon.expansion("V&A") == "Victoria and Albert Museum"
    assert lexicon.expansion("NATO") is None  # nothing in the articles spells it out
    asked = rewrite("When was the ISS launched?", lexicon, ENGLISH)
    assert asked.text == "When was the ISS (International Space Station) launched?"
    assert asked.expanded == [("ISS", "International Space Station")]


def test_a_bracket_that_is_no_abbreviation_of_the_words_before_it_is_ignored() -> None:
    """ "Fellow of the Royal Society (UK)" says which country, so a question's "UK" is
    not "Royal Society"; a foreign-language abbreviation still counts ("Home Army (AK)",
    for Armia Krajowa)."""
    lexicon = Lexicon.of(
        ["He was a Fellow of the Royal Society (UK) in 1990.", "The Home Army (AK) rose."]
    )
    assert lexicon.expansion("UK") is None
    assert lexicon.expansion("AK") == "Home Army"


def test_misspelt_words_become_the_articles_words(lexicon: Lexicon) -> None:
    asked = rewrite("When was the station lanched in Warsw?", lexicon, ENGLISH)
    assert asked.text == "When was the station launched in Warsaw?"
    assert asked.corrected == [("lanched", "launched"), ("Warsw", "Warsaw")]


def test_what_is_right_as_it_is_stays(lexicon: Lexicon) -> None:
    # an English word the model knows, even if the articles never use it
    assert rewrite("Why did he resign?", lexicon, ENGLISH).corrected == []
    assert is_english("rethinking", frozenset({"think"}))  # prefix and suffix of a known word
    # a name the articles do not hold is another name, not a misspelt one
    assert lexicon.correction("Heine", ENGLISH) is None  # not "Seine": other first letter
    assert lexicon.correction("Bill", ENGLISH) is None  # short names are never corrected
    assert lexicon.correction("Nelson", ENGLISH) is None  # nothing close enough


def test_the_lexicon_round_trips(lexicon: Lexicon) -> None:
    again = Lexicon.from_json(lexicon.to_json())
    assert again == lexicon and "warsaw" in again.names


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Quand la station spatiale a-t-elle été lancée ?", "French"),
        ("Wann wurde die Raumstation gestartet und wer hat sie gebaut?", "German"),
        ("¿Cuándo se lanzó la estación espacial y quién la construyó?", "Spanish"),
        ("Когда была запущена космическая станция?", "another language"),
        ("When was the International Space Station launched?", None),
        ("Rhine Gorge UNESCO year?", None),
        ("Was ist das?", "German"),
    ],
)
def test_questions_in_another_language_are_recognised(question: str, language: str) -> None:
    assert other_language(question) == language


def test_the_answer_says_when_a_question_is_not_english(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    answerer = make_answerer(settings, ArticleIndex.load(fast_index_dir, fast_embedder))
    answer = answerer.answer("Quand la station spatiale a-t-elle été lancée ?")
    assert answer.abstained and answer.text == not_english("French")
    assert answer.sources == []


def test_each_version_keeps_its_lexicon(
    fast_index_dir: Path, fast_embedder: HashingEmbedder
) -> None:
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    assert index.lexicon.expansion("ISS") == "International Space Station"
    assert "launched" in index.lexicon.words
    answerer_question = rewrite(
        "When was the ISS lanched?", index.lexicon, fast_embedder.english_words
    )
    assert answerer_question.text == "When was the ISS (International Space Station) launched?"
