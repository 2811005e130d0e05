"""The reranker: a cross-encoder trained here (training/rerank.py, `make
train-reranker`) that reads the question together with each of the few sentences
the hand-weighted evidence ranks highest, and says which of them answers. The
evidence alone matches words and meaning one side at a time; the reranker reads
both at once, which is what tells "Russia lost control of access to the station"
from the sentence that says who took it.

It ships with the package as int8 ONNX with its tokenizer (no torch needed),
opened once per process; its model card (MODEL_CARD.md beside it) says what it was
trained on and how well it does. Its scores reorder the candidates it read; and,
trained with questions the articles do not answer, it learned a score for "none of
them answers": how far that is above them all lowers the confidence the bot
abstains on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import SettingsFileError
from index.embedding.onnx_model import model_inputs, open_session

MODEL_FILE = "reranker.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "reranker.json"
MAX_TOKENS = 96  # question and sentence together; longer sentences lose their end
SHIPPED = Path(__file__).parent / "reranker"


@dataclass(frozen=True)
class RerankSettings:
    """What was fitted with the model: how many of the evidence's best candidates it
    reads, the weight of its score beside the evidence, its learned score of "none of
    them answers", and the weight and threshold of its doubt in the confidence."""

    top: int
    weight: float
    none: float | None = None  # a model trained without unanswerable questions has none
    doubt_weight: float = 0.0
    threshold: float | None = None

    @classmethod
    def read(cls, fitted: dict) -> RerankSettings:
        none = fitted.get("none")
        threshold = fitted.get("threshold")
        return cls(
            int(fitted["top"]),
            float(fitted["weight"]),
            None if none is None else float(none),
            float(fitted.get("doubt_weight", 0.0)),
            None if threshold is None else float(threshold),
        )


@dataclass(frozen=True)
class Reading:
    """What the reranker says of a question's candidates: what to add to each one's
    ranking score, and what to take off the confidence for its doubt that any of
    those it read answers."""

    bonus: np.ndarray
    doubt: float


class Reranker:
    """The trained cross-encoder, opened once: scores for a question's candidates."""

    def __init__(self, folder: Path = SHIPPED, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        try:
            fitted = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            self.settings = RerankSettings.read(fitted)
            self._session = open_session((folder / MODEL_FILE).read_bytes(), threads)
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as error:  # onnxruntime and tokenizers raise their own types
            raise SettingsFileError(
                f"{folder} is not a reranker this version can use ({error}); "
                "make one with `make train-reranker`"
            ) from error
        self._tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
        self._tokenizer.enable_padding()

    def scores(self, question: str, sentences: list[str]) -> np.ndarray:
        """How well each sentence answers the question, in one batched call: only
        their differences mean anything (it was trained to pick one of a few)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        encodings = self._tokenizer.encode_batch([(question, s) for s in sentences])
        return self._session.run(None, model_inputs(encodings))[0]

    def read(self, question: str, sentences: list[str], evidence: np.ndarray) -> Reading:
        """What to add to each candidate's evidence: the reranker's score (times its
        weight, less the lowest it gave) for the evidence's best `top`, nothing for
        the rest, so that a candidate it did not read never overtakes one it did. With
        its doubt: how far it puts "none of them answers" above them all."""
        best = np.argsort(-evidence, kind="stable")[: self.settings.top]
        read = self.scores(question, [sentences[i] for i in best])
        added = np.zeros(len(sentences), dtype=np.float64)
        if not len(read):
            return Reading(added, 0.0)
        added[best] = self.settings.weight * (read - read.min())
        return Reading(added, self._doubt(read))

    def _doubt(self, read: np.ndarray) -> float:
        """What to take off the confidence: its doubt, times the weight fitted with it."""
        if self.settings.none is None or not self.settings.doubt_weight:
            return 0.0
        return self.settings.doubt_weight * doubt(read, self.settings.none)


def doubt(read: np.ndarray, none: float) -> float:
    """The log-odds that none of the sentences read answers, where above even: "none"
    scored against all of them at once, as in the softmax it was trained with."""
    top = float(read.max())
    answers = top + float(np.log(np.exp(read - top).sum()))
    return max(0.0, none - answers)
