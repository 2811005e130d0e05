"""Finding passages (index/retrieval.py): fusion, each mode, the rerank."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answer.answerer import Answerer
from bot.settings import Settings
from bot.wiring import make_answerer
from index.config import RetrievalConfig
from index.embedding.embedder import Embedder
from index.retrieval import Retriever, Terms, normalise, reciprocal_rank_fusion
from index.storage.article_index import ArticleIndex
from index.storage.bm25 import LexicalIndex, Postings, best
from tests.fakes.hashing import HashingEmbedder


@pytest.fixture(scope="module")
def fixture_answerer(fixture_index_dir: Path, embedder: Embedder, settings: Settings) -> Answerer:
    return make_answerer(settings, ArticleIndex.load(fixture_index_dir, embedder))


@pytest.fixture(scope="module")
def fast_index(fast_index_dir: Path, fast_embedder: HashingEmbedder) -> ArticleIndex:
    return ArticleIndex.load(fast_index_dir, fast_embedder)


def test_rrf_and_score_normalisation() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62) and fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert max(fused, key=fused.get) == 1
    assert normalise({4: 8.0, 5: 2.0}) == {4: 1.0, 5: 0.25}


def test_each_mode_ranks_and_reports_cosines(fast_index: ArticleIndex) -> None:
    index = fast_index
    question = "Mara Lindqvist"  # a name: BM25's strength
    vector = index.encoder.encode([question])[0]

    def retriever(**settings: object) -> Retriever:
        return Retriever(index, RetrievalConfig(**settings), Terms())  # type: ignore[arg-type]

    lexical, _ = retriever().search(question, 3, "bm25", rerank=False)
    assert lexical[0].chunk.article_id == "harbour-bridge"
    for mode in ("dense", "hybrid"):
        for fusion in ("weighted", "rrf"):
            found, _ = retriever(retrieval_fusion=fusion).search(question, 3, mode, rerank=False)
            assert found[0].chunk.article_id == "harbour-bridge"
            # the cosine is always the exact one, whatever ranked the passage
            for hit in found:
                stored = index.vectors.reconstruct(index.chunks.index(hit.chunk))
                assert hit.cosine == pytest.approx(float(stored @ vector), abs=1e-5)
    # hybrid ranks by the fused score, which mixes both signals
    weighted, _ = retriever(dense_weight=0.5).search(question, 3, "hybrid", rerank=False)
    assert [h.score for h in weighted] == sorted((h.score for h in weighted), reverse=True)


def test_a_misspelt_retrieval_mode_is_refused(fast_index: ArticleIndex) -> None:
    retriever = Retriever(fast_index, RetrievalConfig(), Terms())
    with pytest.raises(ValueError, match="dens"):
        retriever.search("Mara Lindqvist", 3, "dens")
    with pytest.raises(ValueError, match="retrieval_mode"):
        RetrievalConfig(retrieval_mode="dens")  # type: ignore[arg-type]


def test_rerank_prefers_the_passage_whose_sentence_covers_the_question(
    fixture_answerer: Answerer,
) -> None:
    """The plain retriever puts another passage of the article first; the rerank moves
    up the one whose sentence covers the question, from the plain retriever's pool."""
    question = "When was the space station launched?"
    plain = fixture_answerer.search(question, 3, rerank=False)
    reranked = fixture_answerer.search(question, 3)
    assert "launched in 1998" not in plain[0].chunk.text
    assert "launched in 1998" in reranked[0].chunk.text
    pool = {p.chunk.id for p in fixture_answerer.search(question, 20, rerank=False)}
    assert {p.chunk.id for p in reranked} <= pool


def test_rerank_adds_the_closeness_of_each_passage_s_best_sentence(
    fast_index: ArticleIndex,
) -> None:
    """rerank_sentence_weight x the cosine of the passage's sentence closest to the
    question is added to the rerank score, from the sentence vectors stored at build."""
    question = "Who designed the new bridge over the harbour?"
    vector = fast_index.encoder.encode([question])[0]

    def hits(weight: float) -> dict[str, float]:
        config = RetrievalConfig(rerank_sentence_weight=weight, rerank_depth=5)
        found, _ = Retriever(fast_index, config, Terms()).search(question, 5)
        return {h.chunk.id: h.score for h in found}

    without, with_closeness = hits(0.0), hits(2.0)
    assert without.keys() == with_closeness.keys()
    table = fast_index.sentences
    assert table is not None
    for position, chunk in enumerate(fast_index.chunks):
        if chunk.id in without:
            closest = float(max(table.vectors[table.rows_of(position)] @ vector))
            assert closest > 0.0
            gained = with_closeness[chunk.id] - without[chunk.id]
            assert gained == pytest.approx(2.0 * closest, abs=1e-5)


def test_the_answerer_sets_the_threads_a_search_runs_on(
    fast_index: ArticleIndex, settings: Settings
) -> None:
    import faiss

    for threads in (2, 1):
        make_answerer(settings.model_copy(update={"search_threads": threads}), fast_index)
        assert faiss.omp_get_max_threads() == threads


def test_article_dates_are_ranked_when_a_question_first_asks_for_the_latest(
    fast_index: ArticleIndex, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not on every load: at a million passages ranking the dates took a tenth of an open."""
    from bot.answer import answerer as answering

    ranked, rank = [], answering.recency_ranks
    monkeypatch.setattr(
        answering, "recency_ranks", lambda articles: ranked.append(1) or rank(articles)
    )
    never_abstains = settings.model_copy(update={"min_score": -1.0})  # every question cited
    answerer = make_answerer(never_abstains, fast_index)
    answerer.answer("When did the harbour bridge open?")
    assert ranked == []
    for question in ("What is the latest news on the bridge?", "Latest on the ferry?"):
        assert answerer.answer(question).sources
    assert ranked == [1]


@given(
    scores=st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 1.5, 2.25]), max_size=60),
    k=st.integers(1, 12),
)
def test_bm25_keeps_the_k_best_positive_scores_highest_first(scores: list[float], k: int) -> None:
    """Zero is no query term at all; equal scores keep chunk order, as `ranked` does,
    also where the k-th place is tied."""
    expected = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))
    assert best(np.array(scores, dtype=np.float32), k).tolist() == expected[:k]


def test_bm25_search_gives_bm25s_s_own_scores(fast_index: ArticleIndex) -> None:
    """The selection among matching chunks returns what bm25s scores them, for
    questions with common words, rare words, and none the index knows."""
    lexical = fast_index.lexical
    for question in ("When was the station launched?", "the harbour crane", "zyzzyva qqq"):
        tokens = lexical._tokenize([question], lexical._stemmer, return_ids=False)
        if not tokens[0]:
            assert lexical.search(question, 5) == []
            continue
        ids, scores = lexical._retriever.retrieve(tokens, k=lexical.size, n_threads=0)
        everything = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if s > 0}
        found = lexical.search(question, 5)
        assert found == sorted(everything.items(), key=lambda item: (-item[1], item[0]))[:5]
        assert found or question.startswith("zyzzyva")


# common words and rare ones, so some postings span most chunks and some a few
WORDS = (
    ["alpha"] * 8
    + ["bravo"] * 5
    + ["charlie"] * 3
    + ["delta"] * 2
    + [
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
    ]
)


def every_chunk_scored(lexical: LexicalIndex, query: str, k: int) -> list[tuple[int, float]]:
    tokens = lexical._tokenize([query], lexical._stemmer, return_ids=False)[0]
    terms = lexical._retriever.get_tokens_ids(tokens)
    if not terms:
        return []
    scores = lexical._retriever.get_scores(terms)
    return [(int(i), float(scores[i])) for i in best(scores, k)]


def assert_same_best(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    """The same chunks and scores, up to float32 sums taken in another order (which
    can swap chunks whose scores differ in the last bit)."""
    assert len(found) == len(expected)
    every = dict(expected)
    for (chunk, score), (_, wanted) in zip(found, expected, strict=True):
        assert score == pytest.approx(wanted, rel=1e-5)
        assert every.get(chunk, score) == pytest.approx(score, rel=1e-5)
    if expected:
        last = expected[-1][1]
        assert {c for c, s in expected if s > last * (1 + 1e-5)} <= {c for c, _ in found}


@settings(max_examples=500)
@given(
    chunks=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12), max_size=80),
    query=st.lists(st.sampled_from([*WORDS, "zulu"]), min_size=1, max_size=6),
    k=st.integers(1, 10),
)
def test_bm25_from_the_deciding_postings_equals_scoring_every_chunk(
    chunks: list[list[str]], query: list[str], k: int
) -> None:
    """Reading the rare terms' postings and looking the common ones up in their
    chunks (MaxScore) finds what adding every posting into every chunk's score does;
    and where its budget allows only the rare terms, it either prunes exactly or
    leaves the search to the whole sum."""
    lexical = LexicalIndex.build([" ".join(words) for words in [["kilo"], *chunks]])
    text = " ".join(query)
    expected = every_chunk_scored(lexical, text, k)
    assert_same_best(lexical.search(text, k), expected)
    terms = lexical._retriever.get_tokens_ids(
        lexical._tokenize([text], lexical._stemmer, return_ids=False)[0]
    )
    if terms:
        matrix = lexical._retriever.scores
        rarest = min(int(matrix["indptr"][t + 1] - matrix["indptr"][t]) for t in terms)
        pruned = Postings(matrix, budget=rarest).best(terms, k)
        if pruned is not None:
            assert_same_best(pruned, expected)


def test_bm25_leaves_a_common_word_s_postings_unread_when_it_cannot_decide() -> None:
    """A word in every chunk scores little, and so does one in a few; the rarest
    word, held by more than `k` chunks, decides the best, and the others are looked
    up in its chunks only, within a budget its postings alone fill."""
    texts = ["alpha bravo charlie"] * 6 + ["alpha bravo"] * 3 + ["alpha delta"] * 300
    lexical = LexicalIndex.build(texts)
    matrix = lexical._retriever.scores
    tokens = lexical._tokenize(["alpha bravo charlie"], lexical._stemmer, return_ids=False)
    terms = lexical._retriever.get_tokens_ids(tokens[0])
    assert len(terms) == 3
    found = Postings(matrix, budget=6).best(terms, 5)
    assert found is not None
    assert_same_best(found, every_chunk_scored(lexical, "alpha bravo charlie", 5))
    assert [chunk for chunk, _ in found] == [0, 1, 2, 3, 4]
    assert Postings(matrix, budget=5).best(terms, 5) is None


def test_bm25_reads_a_common_word_s_postings_when_its_chunks_could_win() -> None:
    """The rarer word sits in long chunks and scores less than the commoner word in
    short ones: the commoner word's chunks are the best, so it cannot be left out."""
    lexical = LexicalIndex.build(["echo " + "india " * 200] * 2 + ["alpha"] * 3 + ["golf"] * 3)
    expected = every_chunk_scored(lexical, "echo alpha", 2)
    assert [chunk for chunk, _ in expected] == [2, 3]
    assert lexical.search("echo alpha", 2) == expected


def test_bm25_runs_on_the_pool_while_the_question_is_embedded(
    fast_index: ArticleIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a pool, BM25 starts before the question's embedding and runs beside it
    (the embedding waits until BM25 has begun); the passages are those found
    without one."""
    started = threading.Event()
    ran_on, overlapped = [], []
    search, encode = fast_index.lexical.search, fast_index.encoder.encode

    def lexical_search(text: str, k: int) -> list[tuple[int, float]]:
        ran_on.append(threading.current_thread().name)
        started.set()
        return search(text, k)

    def embed(texts: list[str]) -> np.ndarray:
        overlapped.append(started.wait(timeout=2))
        return encode(texts)

    inline = Retriever(fast_index, RetrievalConfig(), Terms())
    expected = [inline.search(q, 5)[0] for q in ("When did the bridge open?", "ferry timetable")]
    monkeypatch.setattr(fast_index.lexical, "search", lexical_search)
    monkeypatch.setattr(fast_index.encoder, "encode", embed)
    with ThreadPoolExecutor(1, thread_name_prefix="bm25-pool") as pool:
        pooled = Retriever(fast_index, RetrievalConfig(), Terms(), pool)
        for question, hits in zip(
            ("When did the bridge open?", "ferry timetable"), expected, strict=True
        ):
            started.clear()
            assert pooled.search(question, 5)[0] == hits
    assert overlapped == [True, True]
    assert all(name.startswith("bm25-pool") for name in ran_on) and len(ran_on) == 2


def test_the_answerer_runs_bm25_beside_the_embedding(
    fast_index: ArticleIndex, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran_on = []
    search = fast_index.lexical.search

    def lexical_search(text: str, k: int) -> list[tuple[int, float]]:
        ran_on.append(threading.current_thread())
        return search(text, k)

    monkeypatch.setattr(fast_index.lexical, "search", lexical_search)
    assert make_answerer(settings, fast_index).answer("When did the harbour bridge open?").sources
    assert len(ran_on) == 1 and ran_on[0] is not threading.current_thread()
