"""The shipped reranker (bot/answer/rerank.py, trained by training/rerank.py): the
int8 model in the package reads a question against sentences of the bundled
article and puts the one that answers first; it reads each sentence once, however
many passages hold it, and what it adds to a candidate's ranking goes only to the
few it read and never below nothing; a folder that is not a
reranker is a clear settings error; an answerer without it chooses by the evidence
alone. Fast tier: the reranker is ONNX, not the embedding model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answer.rerank import CONFIG_FILE, SHIPPED, Reranker, reranked_text
from bot.errors import SettingsFileError
from bot.settings import load_settings
from bot.wiring import make_answerer, make_reranker, open_answerer
from index.storage.article_index import ArticleIndex
from tests.one_article import answerer_of
from tests.strategies import CASES, TEXT, ran_every_case

TITLE = "Russia plans to leave the International Space Station"
ISS = [  # sentences of the bundled article
    "For more than two decades, the International Space Station has been a collaborative "
    "research vessel for astronauts around the world.",
    "The International Space Station was launched in 1998 with Russia, the United States, "
    "Canada, Japan and the European Space Agency and is one of the most ambitious "
    "international cooperation projects in human history.",
    "Last year, after SpaceX carried out its first mission at NASA's orbiting laboratory, "
    "Russia lost control of access to the International Space Station.",
    "It has already built Mir, a modular space station that has been in orbit for 15 years, "
    "and Russia is set to work with China to build a research station on the moon.",
    "According to a telegram statement from Dmitry Rogozin Roscosmos, the country's space "
    "agency has begun work on the station's first base unit.",
]
# as the answerer has it read them: after the title, "It has already built Mir" after
# the sentence before it in the article
BEFORE_MIR = "Russia also has a history of running a space laboratory."
READ = [reranked_text(TITLE, BEFORE_MIR if i == 3 else None, s) for i, s in enumerate(ISS)]


@pytest.fixture(scope="module")
def reranker() -> Reranker:
    return Reranker()


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("When was the International Space Station launched?", 1),
        ("mir orbit years?", 3),
        ("Whose first mission cost Russia its control of access to the station?", 2),
        ("How long was Mir in orbit?", 3),
        ("What has Roscosmos begun work on?", 4),
    ],
)
def test_the_shipped_reranker_puts_the_answering_sentence_first(
    reranker: Reranker, question: str, answer: int
) -> None:
    scores = reranker.scores(question, READ)
    assert scores.shape == (len(READ),)
    assert int(np.argmax(scores)) == answer


def test_it_reads_each_sentence_once_and_adds_only_to_those_it_read(reranker: Reranker) -> None:
    """Passages overlap, so a sentence is often a candidate twice: it is read once, its
    copies share its score and the next sentence is read in place of a copy; what it
    adds goes only to the sentences it read, and never below nothing."""
    assert reranker.settings.top == len(READ)  # it reads as many as there are here
    others = ["The weather in Moscow was cold.", "Tickets went on sale on Monday."]
    sentences = [s for s in READ for _ in range(2)] + others  # each twice, best first
    evidence = np.linspace(2.0, 1.0, len(sentences))
    added = reranker.bonus("How long was Mir in orbit?", sentences, evidence)
    copies = added[: 2 * len(READ)]
    assert np.array_equal(copies[0::2], copies[1::2]) and np.all(added[len(copies) :] == 0.0)
    assert np.all(copies >= 0.0) and np.min(copies) == 0.0
    assert np.argmax(added) == 6  # the Mir sentence (read only because copies are read once)
    assert reranker.bonus("anything", [], np.zeros(0)).shape == (0,)


def test_a_sentence_is_read_after_its_title_and_what_it_points_back_to(
    tmp_path: Path, fast_embedder
) -> None:
    """The reranker reads each candidate after its article's title, and a sentence
    that opens with "It" after the sentence before it in its passage: alone, "It sets
    the fees" does not say who does."""
    title = "Lantern fair"
    answerer = answerer_of(
        tmp_path,
        fast_embedder,
        f"{title}\n\nThe lantern fair of Brindle Cove is run by the harbour guild. It sets "
        "the fees for every stall each spring. Gulls circle the quay at dusk.\n",
    )
    read = answerer.candidates("Who sets the fees for every stall?").in_context()
    assert f"{title}: The lantern fair of Brindle Cove is run by the harbour guild." in read
    assert (
        f"{title}: The lantern fair of Brindle Cove is run by the harbour guild. It sets the "
        "fees for every stall each spring." in read
    )
    assert f"{title}: Gulls circle the quay at dusk." in read  # it points nowhere
    # the first sentence of a passage has nothing before it to read
    assert reranked_text(title, None, "It sets the fees.") == f"{title}: It sets the fees."


def test_a_folder_that_is_not_a_reranker_is_a_clear_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsFileError, match="make train-reranker"):
        Reranker(tmp_path)
    (tmp_path / CONFIG_FILE).write_text((SHIPPED / CONFIG_FILE).read_text())
    with pytest.raises(SettingsFileError, match="not a reranker"):
        Reranker(tmp_path)  # its settings, without the model


def test_the_answerer_has_it_unless_the_settings_turn_it_off(
    fast_index_dir: Path, fast_embedder, tmp_path: Path
) -> None:
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    on = make_answerer(load_settings(data_dir=tmp_path), index)
    off = make_answerer(load_settings(data_dir=tmp_path, reranker=False), index)
    assert isinstance(on.reranker, Reranker) and off.reranker is None
    question = "Where is the observatory?"
    reranked, evidence_only = on.answer(question), off.answer(question)
    assert "Hallberg Mountain Observatory" in reranked.text
    assert "Hallberg" not in evidence_only.text  # the evidence's best: "the observatory's …"
    # it changes which sentence is quoted, not how sure the bot is that one answers
    assert reranked.confidence == evidence_only.confidence > 0


def test_a_question_longer_than_it_reads_is_cut_not_refused(reranker: Reranker) -> None:
    question = "When was the International Space Station launched? " * 40  # 400 word pieces
    scores = reranker.scores(question, ISS)
    assert scores.shape == (len(ISS),) and np.all(np.isfinite(scores))


def test_answerers_share_the_reranker_they_are_given(
    fast_index_dir: Path, fast_embedder, tmp_path: Path
) -> None:
    """As a bot's collections do (bot/process/launcher.py): one reranker a process."""
    settings = load_settings(data_dir=tmp_path, index_dir=fast_index_dir)
    shared = make_reranker(settings)
    first = open_answerer(settings, fast_embedder, reranker=shared)
    second = open_answerer(settings, fast_embedder, reranker=shared)
    assert first.reranker is shared and second.reranker is shared
    off = load_settings(data_dir=tmp_path, index_dir=fast_index_dir, reranker=False)
    assert make_reranker(off) is None
    assert open_answerer(off, fast_embedder, reranker=shared).reranker is None


# a property in a file of its own: test_properties.py's 10,000-case targets hold one
# worker for minutes already
RERANKER_CASES = min(CASES, 1_000)


def test_the_reranker_reads_any_question(fast_answerer) -> None:
    """Any question, up to the longest the answerer passes on (question_max_chars),
    gets a finite score for each sentence."""
    reranker = fast_answerer.reranker
    assert reranker is not None
    sentences = ["The station was launched in 1998.", "Mir was in orbit for 15 years.", ""]
    ran: list[int] = []

    longest = fast_answerer.config.question_max_chars

    @settings(max_examples=RERANKER_CASES)
    @given(TEXT, st.booleans())
    def check(text: str, longest_allowed: bool) -> None:
        ran.append(1)
        question = (text or "@everyone ") * longest if longest_allowed else text
        scores = reranker.scores(question[:longest], sentences)
        assert scores.shape == (len(sentences),) and np.all(np.isfinite(scores))

    check()
    ran_every_case(ran, RERANKER_CASES)


def test_its_model_card_names_the_base_model_the_data_the_split_and_the_command() -> None:
    """The card beside the shipped model says what it was made from and how to make
    it again: the base model, SQuAD and its licence, the split it was trained on, the
    training command, the held-out figures and the threshold."""
    card = (SHIPPED / "MODEL_CARD.md").read_text(encoding="utf-8")
    for needed in (
        "all-MiniLM-L6-v2",
        "SQuAD v1.1",
        "SQuAD 2.0",
        "CC BY-SA 4.0",
        "split.json",
        "`train`",
        "make train-reranker",
        "## Held out",
        "| threshold |",
    ):
        assert needed in card, needed
