"""The sentence reader: a model trained here (training/, `make train-reader`) that
reads a question against each candidate sentence, and the weighing that turns its
readings and the other evidence into the probability that a sentence answers.
Off unless `reader_dir` names one: measured so far, it does not beat the
hand-weighted evidence (bench/README.md, "Answer quality III").

It is all-MiniLM-L6-v2 tuned on the training articles so that a question lands
near the sentence that answers it, however it is worded; it is exported as int8
ONNX with its tokenizer and runs without torch, opened once per process. For each
candidate it gives two readings: how close the sentence is to the question as a
whole, and how well the question's weakest word is matched by some word of the
sentence (late interaction, as ColBERT scores). An unanswerable question usually
holds one thing nothing in the sentence matches ("who is yuri borisov").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from bot.answer.signals import FEATURES
from bot.errors import SettingsFileError
from index.embedding.onnx_model import model_inputs, open_session
from index.storage.terms import QUESTION_WORDS

READINGS = ("reader_closeness", "reader_weakest")
MAX_TOKENS = 96
SKIPPED = frozenset(STOPWORDS_EN) | QUESTION_WORDS


def sentence_text(title: str, sentence: str) -> str:
    """What the reader reads of a candidate (the title names what its pronouns are
    about); the same in training (training/encoder.py) and here."""
    return f"{title}. {sentence}"


@dataclass(frozen=True)
class Weighing:
    """How the evidence of a sentence becomes the probability that it answers: one
    weight per feature and a bias (logistic regression, fitted on the training
    articles by training/weighing.py), and the probability below which the bot
    abstains."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    @classmethod
    def read(cls, path: Path) -> Weighing:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            tuple(data["features"]),
            tuple(float(w) for w in data["weights"]),
            float(data["bias"]),
            float(data["threshold"]),
        )

    def probability(self, values: np.ndarray) -> np.ndarray:
        """One probability per row of `values` (a column per feature, in order)."""
        logits = values @ np.asarray(self.weights, dtype=np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


class SentenceReader:
    """The trained model, opened once: readings for a question's candidates."""

    def __init__(self, folder: Path, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        self._session = open_session((folder / "reader.onnx").read_bytes(), threads)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()

    def read(self, question: str, candidates: list[str]) -> np.ndarray:
        """A row of READINGS per candidate, from one batched call of the model."""
        if not candidates:
            return np.zeros((0, len(READINGS)), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([question, *candidates])
        feed = model_inputs(encodings)
        vectors, tokens = self._session.run(None, feed)
        closeness = vectors[1:] @ vectors[0]
        asked = tokens[0][_content_positions(question, encodings[0])]
        return np.column_stack([closeness, _weakest(asked, tokens[1:], feed["attention_mask"])])


@dataclass(frozen=True)
class Reader:
    """The trained model and the weighing fitted with it: what the answerer asks for
    the evidence of its candidates."""

    model: SentenceReader
    weighing: Weighing

    @classmethod
    def open(cls, folder: Path, threads: int = 0) -> Reader:
        """The reader `make train-reader` wrote to `folder`, or a SettingsFileError
        that says what is wrong with it."""
        try:
            weighing = Weighing.read(folder / "weighing.json")
            if weighing.features != FEATURES + READINGS:
                raise ValueError(
                    f"its weighing is for the features {list(weighing.features)}, this "
                    f"version reads {list(FEATURES + READINGS)}"
                )
            model = SentenceReader(folder, threads)
        except Exception as error:  # onnxruntime raises its own types for bad files
            raise SettingsFileError(
                f"reader_dir {folder} is not a reader this version can use ({error}); "
                "make one with `make train-reader`"
            ) from error
        return cls(model, weighing)

    def evidence(self, question: str, candidates: list[str], values: np.ndarray) -> np.ndarray:
        """The probability that each candidate answers, from its hand-made features
        (`values`, a row per candidate) and the model's readings of it."""
        readings = self.model.read(question, candidates)
        return self.weighing.probability(np.hstack([values, readings]))


def _content_positions(text: str, encoding) -> list[int]:
    """The token positions of the question's words of substance (not stop or question
    words, not punctuation); all its words' tokens when it has none."""
    spans: dict[int, tuple[int, int]] = {}
    for word, (start, end) in zip(encoding.word_ids, encoding.offsets, strict=True):
        if word is not None:
            first, last = spans.get(word, (start, end))
            spans[word] = (min(first, start), max(last, end))
    words = {w: text[a:b].casefold() for w, (a, b) in spans.items()}
    tokens = [(i, w) for i, w in enumerate(encoding.word_ids) if w is not None]
    wordy = [(i, w) for i, w in tokens if any(c.isalnum() for c in words[w])]
    content = [i for i, w in wordy if words[w] not in SKIPPED]
    return content or [i for i, _ in wordy or tokens]


def _weakest(asked: np.ndarray, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each candidate, the worst of the question words' best matches among its
    tokens (padding and the special tokens left out)."""
    if len(asked) == 0:
        return np.ones(len(tokens), dtype=np.float32)
    valid = mask[1:].astype(bool).copy()
    valid[:, 0] = False  # [CLS]
    valid[np.arange(len(valid)), valid.sum(1)] = False  # [SEP], the last real token
    similar = np.einsum("qd,ctd->cqt", asked, tokens)
    similar = np.where(valid[:, None, :], similar, -1.0)
    return similar.max(axis=2).min(axis=1)
