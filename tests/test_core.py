"""The answering core, with the real model and a real FAISS index."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bot.answer.answerer import Answerer, ScoredSentence, _cited_passages
from bot.answer.followup import Conversation
from bot.answer.question import prepare_question
from bot.answer.records import NOT_FOUND
from bot.errors import QuestionError
from bot.settings import Settings
from bot.wiring import make_answerer
from index.embedding.embedder import Embedder
from index.sentence_split import sentence_spans
from index.storage.article_index import ArticleIndex

# Questions on the bundled article, written for these tests (the evaluation sets in
# ../shared/eval are measured by `articlebot eval`, not here, and may be absent).
BUNDLED_QUESTIONS = Path(__file__).parent / "questions" / "bundled-article.jsonl"


def contains(answer: str, golds: list[str]) -> bool:
    return any(g.lower() in answer.lower() for g in golds)


def test_launch_year_is_answered_and_cited(answerer: Answerer) -> None:
    answer = answerer.answer("When was the International Space Station launched?")
    assert not answer.abstained
    assert "1998" in answer.text
    # one sentence: the neighbour adds no question word the answer lacks
    assert answer.text.startswith("The International Space Station was launched in 1998")
    assert len(answer.text) <= 400
    source = answer.sources[0]
    assert source.article.id == "russia-leaves-iss"
    assert source.article.title == "Russia plans to leave the International Space Station"
    assert "launched in 1998" in source.chunk.text
    # the score shown with the citation is the passage's own search score
    (best,) = answerer.search("When was the International Space Station launched?", 1)
    assert best.chunk.id == source.chunk.id and source.score == pytest.approx(best.score)


def test_off_topic_question_abstains(answerer: Answerer) -> None:
    answer = answerer.answer("Who won the 2022 World Cup?")
    assert answer.abstained
    assert answer.text == NOT_FOUND
    assert answer.sources == []


def test_every_answer_sentence_is_quoted_from_its_source(answerer: Answerer) -> None:
    for question in [
        "How long was Mir in orbit?",
        "What is the name of Russia's space agency?",
        "Who criticised Russia's treatment of an opposition leader?",
    ]:
        answer = answerer.answer(question)
        assert not answer.abstained
        for source in answer.sources:
            assert source.article.text[source.chunk.start : source.chunk.end] == source.chunk.text
        # the answer is made only of text found in the cited passages: every sentence
        sentences = [answer.text[x.start : x.end].rstrip("…") for x in sentence_spans(answer.text)]
        assert sentences
        for sentence in sentences:
            assert any(sentence in s.chunk.text for s in answer.sources), sentence


def test_answers_come_from_the_right_article(
    fixture_index_dir: Path, embedder: Embedder, settings: Settings
) -> None:
    answerer = make_answerer(settings, ArticleIndex.load(fixture_index_dir, embedder))
    cases = {
        "How much did the harbour bridge cost?": ("harbour-bridge", "412 million"),
        "What is the new comet called?": ("observatory", "C/2023 H2"),
        "Which team won the cider pressing contest?": ("orchard-festival", "Lower Brook"),
    }
    for question, (article_id, gold) in cases.items():
        answer = answerer.answer(question)
        assert not answer.abstained, question
        assert gold in answer.text, (question, answer.text)
        assert answer.sources[0].article.id == article_id
    dated = answerer.answer("What is the new comet called?").sources[0].article
    assert dated.published == "2023-05-02"


def test_questions_on_the_bundled_article(answerer: Answerer) -> None:
    """Every answerable question answered with its gold answer; off-topic ones abstain."""
    rows = [json.loads(line) for line in BUNDLED_QUESTIONS.read_text().splitlines() if line.strip()]
    wrong = []
    for row in rows:
        answer = answerer.answer(row["question"])
        if row["answerable"] and (answer.abstained or not contains(answer.text, row["answers"])):
            wrong.append((row["id"], answer.text))
        if row.get("off_topic") and not answer.abstained:
            wrong.append((row["id"], answer.text))
    assert wrong == []
    assert sum(r["answerable"] for r in rows) == 9 and sum("off_topic" in r for r in rows) == 2


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x07", "?!?", "…"])
def test_empty_questions_are_refused(answerer: Answerer, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        answerer.answer(question)


def test_huge_question_is_truncated_with_a_note(answerer: Answerer) -> None:
    question = "When was the International Space Station launched? " + "space " * 20_000
    assert len(question) > 100_000
    answer = answerer.answer(question)
    assert len(answer.question) <= answerer.config.question_max_chars
    assert answer.notes and "first" in answer.notes[0]
    assert "1998" in answer.text


def test_control_characters_in_question(answerer: Answerer) -> None:
    answer = answerer.answer("When\x00 was the\x1b International Space\u200b Station launched?\x07")
    assert "1998" in answer.text
    assert "\x00" not in answer.question


def test_prepare_question_keeps_short_questions() -> None:
    prepared = prepare_question("  What   happened?  ", 100)
    assert prepared.text == "What happened?" and prepared.notes == []


def test_swapping_the_index(
    fixture_index_dir: Path, bundled_index_dir: Path, embedder: Embedder, settings: Settings
) -> None:
    answerer = make_answerer(settings, ArticleIndex.load(bundled_index_dir, embedder))
    assert answerer.answer("How much did the harbour bridge cost?").abstained
    answerer.use_index(ArticleIndex.load(fixture_index_dir, embedder))
    answer = answerer.answer("How much did the harbour bridge cost?")
    assert "412 million" in answer.text
    assert answer.index_version == answerer.index.version


def test_json_shape(answerer: Answerer) -> None:
    data = answerer.answer("How long was Mir in orbit?").to_dict()
    assert {"question", "answer", "abstained", "sources"} <= set(data)
    assert {"article", "title", "text", "score"} <= set(data["sources"][0])
    json.dumps(data)


def test_sentence_choice_looks_at_the_question(answerer: Answerer) -> None:
    # both questions retrieve the same passage; each gets its own sentence
    mir = answerer.answer("How long was Mir in orbit?")
    china = answerer.answer("With which country will Russia build a research station on the moon?")
    assert "15 years" in mir.text and "China" in china.text


def test_citation_check_refuses_a_passage_without_the_sentence(answerer: Answerer) -> None:
    passage = answerer.search("How long was Mir in orbit?", 1)[0]
    good = ScoredSentence(passage, 0, 20, 1.0)
    assert _cited_passages([good])[0].cited == (0, 20)
    tampered_article = dataclasses.replace(
        passage.article, text=passage.article.text.replace("Mir", "Zar")
    )
    tampered = dataclasses.replace(passage, article=tampered_article)
    with pytest.raises(AssertionError, match="citation check failed"):
        _cited_passages([ScoredSentence(tampered, 0, 20, 1.0)])


def test_quote_centres_on_the_cited_sentence_and_marks_cuts(answerer: Answerer) -> None:
    answer = answerer.answer("How long was Mir in orbit?")
    passage = answer.sources[0]
    quote = passage.quote(120)
    assert "15 years" in quote and len(quote) <= 121
    assert quote.startswith("…") == (not passage.chunk.text.startswith(quote.lstrip("…")[:20]))
    if not passage.chunk.text.endswith(quote.rstrip("…")[-20:]):
        assert quote.endswith("…")
    whole = passage.quote(10_000)
    assert "…" not in whole and whole == passage.chunk.text.replace("\n\n", " ")


def test_a_follow_up_is_read_in_its_conversation(
    fixture_index_dir: Path, embedder: Embedder, settings: Settings
) -> None:
    """ "where was it held?" after a question on the cider pressing contest: answered
    from the festival's article, where alone it is not answered at all."""
    answerer = make_answerer(settings, ArticleIndex.load(fixture_index_dir, embedder))
    first = answerer.answer("Which team won the cider pressing contest?")
    conversation = Conversation().after(first)
    assert answerer.answer("where was it held?").abstained
    follow_up = answerer.answer("where was it held?", conversation=conversation)
    assert not follow_up.abstained
    assert follow_up.sources[0].article.id == "orchard-festival"
    assert follow_up.read_as == "where was the team won cider pressing contest held?"
    countries = answerer.answer(
        "which countries built it?",
        conversation=Conversation().after(
            answerer.answer("When was the International Space Station launched?")
        ),
    )
    assert "Canada" in countries.text


def test_a_conversation_prefers_the_articles_it_cited(
    fixture_index_dir: Path, embedder: Embedder, settings: Settings
) -> None:
    """ "What was built?" is answered from the bridge article, unless the conversation
    cited the space station article and followup_article_weight is high enough."""
    index = ArticleIndex.load(fixture_index_dir, embedder)
    cited = Conversation((), frozenset({"russia-leaves-iss"}))
    for weight, expected in ((0.0, "harbour-bridge"), (1.0, "russia-leaves-iss")):
        answerer = make_answerer(
            settings.model_copy(update={"followup_article_weight": weight}), index
        )
        answer = answerer.answer("What was built?", conversation=cited)
        assert answer.sources[0].article.id == expected, weight
    assert answerer.answer("What was built?").sources[0].article.id == "harbour-bridge"
