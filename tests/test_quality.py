"""Answer quality parts with real components: fusion, rerank, sentence choice,
highlighting, citation checks, and the eval command."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bot.answer.core import Answerer, ScoredSentence, _cited_passages
from bot.answer.evaluation import contains_gold, normalise_answer
from bot.answer.highlight import answer_span, asked_kind
from bot.cli import main
from bot.runtime import make_answerer
from bot.settings import Settings
from index.config import RetrievalConfig
from index.embedding import Embedder
from index.retrieval import Retriever, Terms, normalise, reciprocal_rank_fusion
from index.store import ArticleIndex

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def fixture_answerer(fixture_index_dir: Path, embedder: Embedder, settings: Settings) -> Answerer:
    return make_answerer(settings, ArticleIndex.load(fixture_index_dir, embedder))


def test_rrf_and_score_normalisation() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62) and fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert max(fused, key=fused.get) == 1
    assert normalise({4: 8.0, 5: 2.0}) == {4: 1.0, 5: 0.25}


def test_each_mode_ranks_and_reports_cosines(
    fixture_answerer: Answerer, fixture_index_dir: Path, embedder: Embedder
) -> None:
    index = ArticleIndex.load(fixture_index_dir, embedder)
    question = "Mara Lindqvist"  # a name: BM25's strength
    vector = index.encoder.encode([question])[0]

    def retriever(**settings: object) -> Retriever:
        return Retriever(index, RetrievalConfig(**settings), Terms())  # type: ignore[arg-type]

    lexical = retriever().search(question, 3, "bm25", rerank=False)
    assert lexical[0].chunk.article_id == "harbour-bridge"
    for mode in ("dense", "hybrid"):
        for fusion in ("weighted", "rrf"):
            found = retriever(retrieval_fusion=fusion).search(question, 3, mode, rerank=False)
            assert found[0].chunk.article_id == "harbour-bridge"
            # the cosine is always the exact one, whatever ranked the passage
            for hit in found:
                stored = index.vectors.reconstruct(index.chunks.index(hit.chunk))
                assert hit.cosine == pytest.approx(float(stored @ vector), abs=1e-5)
    # hybrid ranks by the fused score, which mixes both signals
    weighted = retriever(dense_weight=0.5).search(question, 3, "hybrid", rerank=False)
    assert [h.score for h in weighted] == sorted((h.score for h in weighted), reverse=True)


def test_a_misspelt_retrieval_mode_is_refused(fixture_answerer: Answerer) -> None:
    with pytest.raises(ValueError, match="dens"):
        fixture_answerer.search("Mara Lindqvist", 3, "dens")


def test_rerank_prefers_the_passage_whose_sentence_covers_the_question(
    fixture_answerer: Answerer,
) -> None:
    question = "Who designed the harbour bridge and also built the northern tunnel?"
    plain = fixture_answerer.search(question, 3, rerank=False)
    reranked = fixture_answerer.search(question, 3)
    assert reranked[0].article.id == "harbour-bridge"
    assert {p.chunk.id for p in reranked} <= {
        p.chunk.id for p in fixture_answerer.search(question, 20, rerank=False)
    }
    assert plain and reranked[0].score == pytest.approx(
        next(
            p.score
            for p in fixture_answerer.search(question, 20, rerank=False)
            if p.chunk.id == reranked[0].chunk.id
        )
    )


def test_sentence_choice_looks_at_the_question(answerer: Answerer) -> None:
    # both questions retrieve the same passage; each gets its own sentence
    mir = answerer.answer("How long was Mir in orbit?")
    china = answerer.answer("With which country will Russia build a research station on the moon?")
    assert "15 years" in mir.text and "China" in china.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the International Space Station launched?", "1998"),
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


def test_no_highlight_when_ambiguous_or_not_asked() -> None:
    assert asked_kind("What now threatens the work?") is None
    assert (
        answer_span("Who criticised it?", "Officials said Biden and Putin both spoke.") is None
    )  # two names
    assert answer_span("How many stalls?", "It has sixty stalls.") is None  # no digit, no unit
    assert answer_span("How many visitors came?", "A record 18,000 visitors came.") == (9, 15)
    assert answer_span("Where did it open?", "It opened in Kettering Vale last week.") == (13, 27)
    assert answer_span("Where did it open?", "It opened in Kettering Vale on Monday.") is None


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


def test_squad_normalisation() -> None:
    assert normalise_answer("The  Cold-War!") == "coldwar"
    assert contains_gold("after the Cold War, they", ["cold war"])
    assert not contains_gold("anything", [""])


def test_eval_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path))
    questions = tmp_path / "q.jsonl"
    rows = [
        {
            "id": "1",
            "question": "How much did the harbour bridge cost?",
            "answers": ["412 million"],
            "answerable": True,
        },
        {
            "id": "2",
            "question": "What is the new comet called?",
            "answers": ["C/2023 H2"],
            "answerable": True,
        },
        {"id": "3", "question": "Who won the 2022 World Cup?", "answers": [], "answerable": False},
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", str(questions), "--articles", str(FIXTURES), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["questions"] == 3 and result["answerable"] == 2
    assert set(result["retrieval"]) == {"bm25", "dense", "hybrid", "hybrid+rerank"}
    assert result["retrieval"]["hybrid+rerank"]["hit@1"] == 1.0
    assert result["answer_accuracy"] == 1.0 and result["unanswerable_abstained"] == 1.0
    assert result["answerable_wrongly_abstained"] == 0.0 and result["ms_per_question"] > 0
    assert main(["eval", str(questions), "--articles", str(FIXTURES)]) == 0
    table = capsys.readouterr().out
    assert "hybrid+rerank" in table and "answer accuracy" in table
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["eval", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err


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
