"""The reranker: a cross-encoder trained here (training/rerank.py, `make
train-reranker`) that reads the question together with each of the few sentences
the hand-weighted evidence ranks highest, and says which of them answers. The
evidence alone matches words and meaning one side at a time; the reranker reads
both at once, which is what tells "Russia lost control of access to the station"
from the sentence that says who took it. It reads each sentence after its
article's title, and after the sentence before it when it opens by pointing back,
so that "It was first established in 1988" is read knowing what "it" is.

It ships with the package as int8 ONNX with its tokenizer (no torch needed),
opened once per process; its model card (MODEL_CARD.md beside it) says what it was
trained on and how well it does. Its score only reorders the candidates it read:
whether to abstain is still the evidence's call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import SettingsFileError
from index.embedding.onnx_model import model_inputs, open_session

MODEL_FILE = "reranker.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "reranker.json"
MAX_TOKENS = 128  # question and sentence in context together; longer ones lose their end
# a sentence that opens by pointing back ("It was first proved in 1962", "This
# committee has …", "His successor …"): read here, and quoted in an answer, with
# the sentence before it
REFERS_BACK = re.compile(
    r"^\W*(?:it|its|he|she|his|her|they|their|this|these|that|those|such)\b", re.IGNORECASE
)
SHIPPED = Path(__file__).parent / "reranker"


@dataclass(frozen=True)
class RerankSettings:
    """What was fitted with the model: how many of the evidence's best candidates it
    reads, and the weight of its score beside the evidence."""

    top: int
    weight: float


class Reranker:
    """The trained cross-encoder, opened once: scores for a question's candidates."""

    def __init__(self, folder: Path = SHIPPED, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        try:
            fitted = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            self.settings = RerankSettings(int(fitted["top"]), float(fitted["weight"]))
            self._session = open_session((folder / MODEL_FILE).read_bytes(), threads)
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            longest = int(fitted.get("max_tokens", MAX_TOKENS))  # what it was trained on
        except Exception as error:  # onnxruntime and tokenizers raise their own types
            raise SettingsFileError(
                f"{folder} is not a reranker this version can use ({error}); "
                "make one with `make train-reranker`"
            ) from error
        self._tokenizer.enable_truncation(longest, strategy="longest_first")
        self._tokenizer.enable_padding()

    def scores(self, question: str, sentences: list[str]) -> np.ndarray:
        """How well each sentence answers the question, in one batched call: only
        their differences mean anything (it was trained to pick one of a few)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        encodings = self._tokenizer.encode_batch([(question, s) for s in sentences])
        return self._session.run(None, model_inputs(encodings))[0]

    def bonus(self, question: str, sentences: list[str], evidence: np.ndarray) -> np.ndarray:
        """What to add to each candidate's evidence: the reranker's score (times its
        weight, less the lowest it gave) for the evidence's best `top` sentences,
        nothing for the rest, so that a candidate it did not read never overtakes one
        it did. Passages overlap, so a sentence is often a candidate twice: it is read
        once, each copy gets its score, and the next sentence is read in its place."""
        order = np.argsort(-evidence, kind="stable")
        best = list(dict.fromkeys(sentences[i] for i in order))[: self.settings.top]
        read = self.scores(question, best)
        if not len(read):
            return np.zeros(len(sentences), dtype=np.float64)
        added = dict(zip(best, self.settings.weight * (read - read.min()), strict=True))
        return np.array([added.get(s, 0.0) for s in sentences], dtype=np.float64)


def reranked_text(title: str, previous: str | None, sentence: str) -> str:
    """What the reranker reads of a candidate, the same in training and here: the
    sentence after its article's title, and after the sentence before it (`previous`,
    None for a passage's first) when it opens by pointing back."""
    before = f"{previous} " if previous and REFERS_BACK.match(sentence) else ""
    return f"{title}: {before}{sentence}"
