"""Reading a question the way people type it: abbreviations the articles spell out,
misspelt words, and questions in another language (fast tier: no model)."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize(
    ("text", "abbreviation", "phrase"),
    [
        (
            "The Broncos defeated the National Football Conference (NFC) champion.",
            "NFC",
            "National Football Conference",
        ),
        ("Cam Newton was named the NFL Most Valuable Player (MVP).", "MVP", "Most Valuable Player"),
        ("It used Synthetic aperture radar (SAR) and more.", "SAR", "Synthetic aperture radar"),
        ("He fought in World War II (WWII) at sea.", "WWII", "World War II"),
        ("The underground Home Army (AK) rose.", "AK", "Home Army"),  # for Armia Krajowa
        ("The WGI Summary for Policymakers (SPM) was approved.", "SPM", "Summary for Policymakers"),
        ("He was a Fellow of the Royal Society (UK) in 1990.", "UK", None),  # which country
    ],
)
def test_a_bracket_defines_the_words_before_it_that_spell_it(
    text: str, abbreviation: str, phrase: str | None
) -> None:
    assert Lexicon.of([text]).expansion(abbreviation) == phrase


def test_a_guess_from_initials_is_not_what_the_articles_own_abbreviation_means() -> None:
    """Capitalised words suggest abbreviations ("Treaty of Versailles": TV), but where
    the articles write the abbreviation themselves and never define it, it means what
    they mean ("TV", "BBC" of "BBC Board of Control"), and a question's "TV" is left
    as it is. Nor is a numeral ("II") expanded."""
    lexicon = Lexicon.of(
        [
            "The Treaty of Versailles was signed. Sky showed it on TV, as did the BBC.",
            "The BBC Board of Control met. World War II ended. Art Deco was in fashion.",
        ]
    )
    assert lexicon.expansion("TV") is None and lexicon.expansion("BBC") is None
    assert lexicon.expansion("II") is None
    assert Lexicon.of(["Antibodies such as IgG and IgM circulate."]).expansion("II") is None
    assert lexicon.expansion("AD") == "Art Deco"  # not written by the articles: a guess stands
    assert lexicon.expansion("WWII") == "World War II"
    assert rewrite("Was it on TV?", lexicon, ENGLISH).text == "Was it on TV?"


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
    assert again == lexicon and "warsaw" in again.names and again.written == {"NASA"}
    before_written = json.loads(lexicon.to_json())
    del before_written["written"]  # a version built before it was kept: guesses stand
    assert Lexicon.from_json(json.dumps(before_written)).written is None


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
