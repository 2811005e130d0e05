"""The sentence reader's arithmetic (bot/answer/reader.py), on vectors and weights
made here: the weighing's probability, which question words are matched, and the
weakest word's best match. Fast tier: the shipped tokenizer only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from bot.answer.reader import READINGS, Reader, Weighing, _content_positions, _weakest
from bot.answer.signals import FEATURES
from bot.errors import SettingsFileError
from index.embedding.embedder import package_model_path


def test_the_weighing_is_a_logistic_of_the_weighted_features(tmp_path: Path) -> None:
    path = tmp_path / "weighing.json"
    path.write_text(
        json.dumps({"features": ["a", "b"], "weights": [2.0, -1.0], "bias": 0.5, "threshold": 0.4})
    )
    weighing = Weighing.read(path)
    values = np.array([[1.0, 0.5], [0.0, 0.5], [-1.0, 3.0]])
    logits = np.array([2.0 - 0.5 + 0.5, -0.5 + 0.5, -2.0 - 3.0 + 0.5])
    assert weighing.probability(values) == pytest.approx(1 / (1 + np.exp(-logits)))
    assert weighing.threshold == 0.4 and weighing.features == ("a", "b")


def test_only_the_words_of_substance_are_matched() -> None:
    tokenizer = Tokenizer.from_file(str(package_model_path() / "tokenizer.json"))
    question = "who is yuri borisov?"
    encoding = tokenizer.encode(question)
    kept = {encoding.tokens[i] for i in _content_positions(question, encoding)}
    # "borisov" is several word pieces: every one of them must be matched
    assert kept >= {"yuri"} and "who" not in kept and "is" not in kept and "?" not in kept
    assert all(t.lstrip("#") in "yuri borisov" for t in kept) and len(kept) >= 3
    only_stop = "what is it?"
    encoding = tokenizer.encode(only_stop)
    assert len(_content_positions(only_stop, encoding)) == 3  # nothing of substance: all words


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_the_weakest_question_word_decides() -> None:
    asked = np.stack([unit(1, 0, 0), unit(0, 1, 0)])  # two words of substance
    pad = np.zeros(3, dtype=np.float32)
    # candidate 1 matches both words; candidate 2 only the first; [CLS] and [SEP]
    # of candidate 2 carry the second word's vector, which must not count
    tokens = np.stack(
        [
            [unit(0, 0, 1), unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1), pad],
            [unit(0, 1, 0), unit(1, 0, 0), unit(1, 0.1, 0), unit(0, 1, 0), pad],
        ]
    )
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 1, 0]])  # question first
    weakest = _weakest(asked, tokens, mask)
    assert weakest[0] == pytest.approx(1.0)
    assert weakest[1] == pytest.approx(float(unit(1, 0.1, 0) @ unit(0, 1, 0)), abs=1e-6)


def test_a_reader_dir_that_is_not_a_reader_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SettingsFileError, match="make train-reader"):
        Reader.open(tmp_path / "missing")
    (tmp_path / "weighing.json").write_text(
        json.dumps({"features": ["passage_cosine"], "weights": [1.0], "bias": 0, "threshold": 0.5})
    )
    with pytest.raises(SettingsFileError, match="features"):
        Reader.open(tmp_path)  # a weighing for other features: refused before the model
    features = [*FEATURES, *READINGS]
    weighing = {"features": features, "weights": [0.0] * 8, "bias": 0, "threshold": 0.5}
    (tmp_path / "weighing.json").write_text(json.dumps(weighing))
    (tmp_path / "reader.onnx").write_bytes(b"not a model")
    with pytest.raises(SettingsFileError, match="not a reader"):
        Reader.open(tmp_path)
