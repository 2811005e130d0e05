"""Evidence beyond word overlap (bot/answer/signals.py) and the sentence table it
rests on (index/storage/sentences.py), on the hashing embedder: fast tier; and the
threshold, at its edge (fast) and on near misses of the bundled article (real model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.answer.answerer import NEWS_ON, Answerer
from bot.answer.signals import FEATURES, question_names, unknown_names
from bot.settings import Settings, load_settings
from bot.wiring import make_answerer
from index.embedding.embedder import Embedder
from index.storage.article_index import ArticleIndex
from index.storage.layout import MANIFEST, read_pointer
from index.storage.lexicon import Lexicon
from index.storage.sentences import CHUNK_ROWS, SPANS, TERM_KEYS, TERM_OFFSETS, VECTORS
from tests.fakes.hashing import HashingEmbedder


def test_the_names_a_question_is_about() -> None:
    assert question_names("What did NASA chief Bill Nelson say about Russia's plan?") == [
        "NASA",
        "Bill",
        "Nelson",
        "Russia",
    ]
    assert question_names("How did Luther respond to Henry VIII's attack?") == ["Luther", "Henry"]
    assert question_names("Who built the Saint-Clair bridge?") == ["Saint", "Clair"]
    assert question_names("Luther's wife?") == []  # the first word is capitalised anyway
    assert question_names("Besides the station's age, what else?") == []
    assert question_names("NASA's plans?") == ["NASA"]  # an abbreviation even when first
    # a bare "who is" question names someone however it is typed; a description does not
    assert question_names("who is yuri borisov") == ["yuri", "borisov"]
    assert question_names("Who's rogozin?") == ["rogozin"]
    assert question_names("Who is Yuri Borisov?") == ["Yuri", "Borisov"]  # counted once
    assert question_names("who was the first astronaut on the station?") == []
    assert question_names("who is luther's wife") == []
    assert question_names("who is putin and what did he say about the station?") == []


def test_names_no_article_mentions_are_counted() -> None:
    lexicon = Lexicon.of(["NASA and Russia run the International Space Station together."])
    assert unknown_names("What did NASA chief Bill Nelson say about Russia?", lexicon) == 2
    assert unknown_names("When did the ISS open?", lexicon) == 0  # spelled out in the articles
    assert unknown_names("What did Bill say?", Lexicon()) == 0  # no lexicon: no evidence


def test_a_name_in_a_form_of_its_own_is_not_unknown() -> None:
    lexicon = Lexicon.of(
        ["Genoese traders fled Kaffa in Crimea. Egypt and America lost many. Stephenson won."]
    )
    # the articles may spell an abbreviation out another way, or not at all
    assert unknown_names("Which landmark was a present from the USSR?", lexicon) == 0
    # a people, a language or a plural made from an article's name
    assert unknown_names("Who besieged the Crimean town?", lexicon) == 0
    assert unknown_names("How many Egyptians died?", lexicon) == 0
    assert unknown_names("Were the Americans there?", lexicon) == 0
    # a name is not a derived form of a shorter one, nor a close spelling of another
    assert unknown_names("Which Stevenson loco won?", lexicon) == 1
    assert unknown_names("Did Egyptologist Carter go?", lexicon) == 2


def test_every_sentence_is_stored_with_its_vector(
    fast_index_dir: Path, fast_embedder: HashingEmbedder
) -> None:
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    table = index.sentences
    assert table is not None and len(table.spans) > len(index.chunks)
    for position, chunk in enumerate(index.chunks):
        rows = table.rows_of(position)
        texts = [chunk.text[start:end] for _, start, end in table.spans[rows]]
        assert texts and all(texts) and " ".join(texts).split() == chunk.text.split()
        assert np.allclose(table.vectors[rows], fast_embedder.encode(texts), atol=1e-6)


def test_a_version_without_a_sentence_table_still_answers(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    """Versions built before sentence vectors load, and answer without them."""
    version = fast_index_copy / "versions" / read_pointer(fast_index_copy)
    manifest = json.loads((version / MANIFEST).read_text())
    for name in (SPANS, VECTORS):
        (version / name).unlink()
        del manifest["files"][name]
    (version / MANIFEST).write_text(json.dumps(manifest))
    index = ArticleIndex.load(fast_index_copy, fast_embedder)
    assert index.sentences is None
    answer = make_answerer(settings, index).answer("How much did the harbour bridge cost?")
    assert answer.question and (answer.abstained or answer.sources)


def test_a_version_without_sentence_terms_ranks_and_answers_the_same(
    fast_index_dir: Path, fast_index_copy: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    """Versions built before sentence terms were stored work them out per question,
    with the same result."""
    version = fast_index_copy / "versions" / read_pointer(fast_index_copy)
    manifest = json.loads((version / MANIFEST).read_text())
    for name in (CHUNK_ROWS, TERM_OFFSETS, TERM_KEYS):
        (version / name).unlink()
        del manifest["files"][name]
    (version / MANIFEST).write_text(json.dumps(manifest))
    older = make_answerer(settings, ArticleIndex.load(fast_index_copy, fast_embedder))
    newer = make_answerer(settings, ArticleIndex.load(fast_index_dir, fast_embedder))
    assert older.index.sentences.terms is None and newer.index.sentences.terms is not None
    for question in ["How much did the harbour bridge cost?", "When was the ISS launched?"]:
        a, b = older.answer(question), newer.answer(question)
        assert (a.text, [p.chunk.id for p in a.sources]) == (
            b.text,
            [p.chunk.id for p in b.sources],
        )


@pytest.mark.parametrize("damage", ["truncate", "other-shape", "terms"])
def test_a_damaged_sentence_table_is_named(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, damage: str
) -> None:
    from index.errors import IndexCorruptError

    version = fast_index_copy / "versions" / read_pointer(fast_index_copy)
    path = version / VECTORS
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-8])
    elif damage == "terms":  # offsets past the end of the terms: same size, other values
        offsets = version / TERM_OFFSETS
        values = np.load(offsets)
        with open(offsets, "wb") as handle:
            np.save(handle, values + 1)
    else:  # same size, other shape: only the table's own check can tell
        vectors = np.load(path)
        with open(path, "wb") as handle:
            np.save(handle, vectors.reshape(-1, vectors.shape[1] // 2 * 2)[:, ::2].copy())
        manifest = json.loads((version / MANIFEST).read_text())
        manifest["files"][VECTORS] = path.stat().st_size
        (version / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="sentence"):
        ArticleIndex.load(fast_index_copy, fast_embedder)


def features_by_sentence(answerer: Answerer, question: str) -> dict[str, dict[str, float]]:
    """Each candidate sentence's features, by the sentence's text, as the answerer
    weighs them."""
    found = answerer.candidates(question)
    return {
        text: dict(zip(FEATURES, map(float, row), strict=True))
        for text, row in zip(found.sentence_texts(), found.values, strict=True)
    }


def sentence_with(found: dict[str, dict[str, float]], words: str) -> dict[str, float]:
    return next(f for text, f in found.items() if words in text)


def test_each_feature_on_a_hand_made_article(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    answerer = make_answerer(settings, ArticleIndex.load(fast_index_dir, fast_embedder))
    who = features_by_sentence(answerer, "Who designed the harbour bridge?")
    designer = sentence_with(who, "designed by the engineer Mara Lindqvist")
    traffic = sentence_with(who, "40,000 vehicles")
    assert designer["kind_found"] == 1.0 and traffic["kind_found"] == 0.0  # a person
    assert designer["coverage"] > traffic["coverage"]
    question = fast_embedder.encode(["Who designed the harbour bridge?"])[0]
    sentence = fast_embedder.encode([next(t for t in who if "Mara Lindqvist" in t)])[0]
    assert designer["sentence_cosine"] == pytest.approx(float(sentence @ question), abs=1e-5)
    assert designer["unknown_names"] == 0 and designer["missing_numbers"] == 0

    stranger = features_by_sentence(answerer, "Who did Bill Nelson say designed the bridge?")
    assert sentence_with(stranger, "Mara Lindqvist")["unknown_names"] == 2
    year = features_by_sentence(answerer, "How much did the harbour bridge cost in 2011?")
    assert sentence_with(year, "412 million dollars")["missing_numbers"] == 1
    cost = features_by_sentence(answerer, "How much did the bridge cost, 412 million dollars?")
    assert sentence_with(cost, "412 million dollars")["missing_numbers"] == 0

    # "it" is the bridge: the sentence before adds the question's "bridge"
    traffic = features_by_sentence(answerer, "How many vehicles a day cross the bridge?")
    assert sentence_with(traffic, "40,000 vehicles")["context_coverage"] > 0.0
    assert sentence_with(traffic, "Mara Lindqvist")["context_coverage"] == 0.0  # it has "bridge"


def test_evidence_adds_and_subtracts_as_configured(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, tmp_path: Path
) -> None:
    weights = {
        "sentence_weight": 2.0,
        "lexical_weight": 3.0,
        "answer_kind_weight": 5.0,
        "unknown_name_penalty": 0.5,
        "missing_number_penalty": 0.25,
        "context_weight": 1.5,
    }
    settings = load_settings(data_dir=tmp_path, **weights)
    answerer = make_answerer(settings, ArticleIndex.load(fast_index_dir, fast_embedder))
    values = (0.5, 0.25, 0.5, 1.0, 2.0, 4.0, 0.5)
    assert float(np.array(values) @ answerer.evidence_weights()) == pytest.approx(
        0.5 + 0.5 + 1.5 + 5.0 - 1.0 - 1.0 + 0.75
    )


def confidence_with(
    settings_dir: Path, index: ArticleIndex, question: str, missing_kind_penalty: float
) -> float:
    settings = load_settings(data_dir=settings_dir, missing_kind_penalty=missing_kind_penalty)
    return make_answerer(settings, index).answer(question).confidence


@pytest.mark.parametrize(
    ("question", "taken_off"),
    [
        # the article names her tunnel and gives no year for it
        ("When did Mara Lindqvist build the northern tunnel?", 0.25),
        ("How many vehicles a day cross the bridge?", 0.0),  # 40,000
        ("When did the harbour bridge open to traffic?", 0.0),  # on Monday
        # a yes-or-no question: only a sentence that says what it asks about answers it
        ("Is the harbour bridge going to collapse in a storm?", 0.25),
        ("Did the harbour bridge open to traffic on Monday?", 0.0),
    ],
)
def test_an_answer_without_what_was_asked_for_is_less_sure(
    fast_index_dir: Path,
    fast_embedder: HashingEmbedder,
    tmp_path: Path,
    question: str,
    taken_off: float,
) -> None:
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    without = confidence_with(tmp_path, index, question, 0.0)
    assert without - confidence_with(tmp_path, index, question, 0.25) == pytest.approx(taken_off)


@pytest.mark.parametrize(
    "question",
    ["When was the International Space Station launched?", "How many vehicles a day cross it?"],
)
def test_how_sure_an_answer_is_reads_its_sentences_not_how_near_their_passage_is(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, tmp_path: Path, question: str
) -> None:
    """The confidence is the best sentence's own evidence: how near its passage is to
    the question (which on-topic questions the articles do not answer have too) and
    what the sentence before adds rank the sentences but are no sign of an answer."""
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    found = []
    for context_weight in (0.0, 2.0):
        settings = load_settings(data_dir=tmp_path, min_score=-1.0, context_weight=context_weight)
        answerer = make_answerer(settings, index)
        values = answerer.candidates(question).values
        # the shipped weights, less the passage's cosine and the sentence before's share
        own = np.array([0.0, 1.0, 0.75, 0.1, -0.6, -0.4, 0.0])
        found.append((answerer.answer(question).confidence, float((values @ own).max())))
        assert values[:, 0].max() > 0.1  # the passage is near: left in, it would add to it
    assert found[0][0] == pytest.approx(found[0][1]) == pytest.approx(found[1][0])


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("What is the latest news about the harbour bridge?", True),
        ("latest on the bridge?", True),
        ("What's new with the harbour bridge?", True),
        ("What is the weather in Moscow today?", False),
        ("What numeral did the latest Super Bowl use?", False),
        ("In what office has Barack Obama recently served?", False),
        ("What's the most recent estimate of its age?", False),
    ],
)
def test_a_request_for_the_latest_news_is_told_from_a_question_that_says_today(
    question: str, asks: bool
) -> None:
    """A request for the latest news on a subject is answered by a passage near it
    (its confidence keeps the passage's closeness); a question that only says "today"
    or "the latest" still needs a sentence that answers it."""
    assert bool(NEWS_ON.search(question)) is asks


def answers_with(
    settings_dir: Path, index: ArticleIndex, question: str, **overrides: float
) -> bool:
    """Whether the bot answers (rather than abstains) with these settings."""
    settings = load_settings(data_dir=settings_dir, **overrides)
    return not make_answerer(settings, index).answer(question).abstained


@pytest.mark.parametrize(
    ("question", "penalty", "alone"),
    [
        # no Bill Nelson in the article (without the penalty its best sentence's own
        # evidence, 0.625, is a hair under the threshold: too close to say which decides)
        (
            "Why did Bill Nelson say Russia is leaving the International Space Station?",
            "name",
            None,
        ),
        # the article says nothing of 2019
        ("What did Dmitry Rogozin say about the station in 2019?", "number", True),
        # nor of Yuri Borisov, asked after the way people type: no sentence of it says
        # much of him, so its own evidence abstains as well
        ("who is yuri borisov", "name", False),
        # it says Roscosmos has begun work, not when; it counts no astronauts
        ("When did Roscosmos begin work on the new station?", "kind", True),
        ("How many astronauts live on the ISS?", "kind", True),
        # it names the station and says nothing of its crashing (nor does any sentence)
        ("Is the ISS going to crash?", "kind", False),
    ],
)
def test_a_question_the_article_does_not_answer_abstains(
    bundled_index_dir: Path,
    embedder: Embedder,
    tmp_path: Path,
    question: str,
    penalty: str,
    alone: bool | None,
) -> None:
    """Abstained on; `alone`: whether its penalty decides it (the answer given with
    the penalty off) or the best sentence's own evidence abstains without it too."""
    index = ArticleIndex.load(bundled_index_dir, embedder)
    assert not answers_with(tmp_path, index, question)
    off = {
        "name": "unknown_name_penalty",
        "number": "missing_number_penalty",
        "kind": "missing_kind_penalty",
    }[penalty]
    if alone is not None:
        assert answers_with(tmp_path, index, question, **{off: 0.0}) == alone
    assert answers_with(tmp_path, index, "What did Dmitry Rogozin say about the station?")


@pytest.mark.parametrize("question", ["when did the ISS launch", "when did the iss launch?"])
def test_a_chat_question_about_the_launch_is_answered_with_1998(
    bundled_index_dir: Path, embedder: Embedder, tmp_path: Path, question: str
) -> None:
    """Typed as people type it, the question the article does answer still gets the
    year, shown in bold, beside the ones it does not (above)."""
    index = ArticleIndex.load(bundled_index_dir, embedder)
    answer = make_answerer(load_settings(data_dir=tmp_path), index).answer(question)
    assert not answer.abstained and answer.highlight is not None
    assert answer.text[answer.highlight[0] : answer.highlight[1]] == "1998"


# --- the threshold: near misses and its edge ------------------------------------------------

# On-topic questions the bundled article does not answer, whose evidence comes close to
# the default threshold (0.81-0.94 when written): no speed, no altitude. (It gives no
# module count either, but that question is no near miss since an answer without the
# number asked for is less sure: 0.94 → 0.44.)
# (A person it never names, "What does Elon Musk think …", is no near miss since the
# unknown-name penalty became 0.6 a name.)
NEAR_MISSES = [
    "How fast does the ISS orbit the Earth?",
    "What is the altitude of the station's orbit?",
]


@pytest.mark.parametrize("question", NEAR_MISSES)
def test_a_near_miss_abstains_at_the_default_threshold(answerer: Answerer, question: str) -> None:
    """Abstained on, though the evidence is above half the threshold: a threshold half
    as high (or not applied) would quote a sentence that does not answer."""
    answer = answerer.answer(question)
    assert answer.abstained and answer.sources == []
    assert answerer.threshold / 2 < answer.confidence < answerer.threshold


def test_a_confidence_at_min_score_answers_and_a_hair_below_abstains(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, tmp_path: Path
) -> None:
    """min_score, set in the settings, is the edge: an answer whose confidence equals it
    is given, and the same question with min_score a hair above that confidence
    abstains."""
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    question = "When was the International Space Station launched?"
    free = make_answerer(load_settings(data_dir=tmp_path, min_score=-1.0), index)
    confidence = free.answer(question).confidence
    assert confidence is not None and 0 < confidence < 3
    at_edge = make_answerer(load_settings(data_dir=tmp_path, min_score=confidence), index)
    assert not at_edge.answer(question).abstained
    above = float(np.nextafter(confidence, 3.0))
    just_above = make_answerer(load_settings(data_dir=tmp_path, min_score=above), index)
    assert just_above.answer(question).abstained
