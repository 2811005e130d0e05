"""The embedding model as ONNX, for a query path without torch.

The export runs once per model, at index-build time, from the loaded
sentence-transformers model (`torch.onnx.export`: the whole pipeline, so
pooling and normalisation are inside the graph). It is kept only if it gives
the same vectors as the original on a set of probe texts, and is stored with
the index under a name derived from the model's weights, so a changed model is
never served by a stale export. onnxruntime and the model's own tokenizer then
embed text in a process that never imports torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.progress import SILENT, Progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MIN_COSINE = 0.999
# Texts the export must reproduce: short and long, padded in one batch, and
# over the model's length limit (truncation must match too).
PROBES = (
    "When did Russia say it would leave the International Space Station?",
    "ok",
    "Zürich, 北京 and São Paulo: 3 cities, 2 continents — and an emoji 🚀.",
    " ".join(["The station has been continuously occupied since November 2000."] * 40),
)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def onnx_available() -> bool:
    """True when onnxruntime is installed (the export also needs the `onnx` package)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


class OnnxEncoder:
    """Unit-length float32 vectors from an exported model, without torch."""

    def __init__(
        self,
        path: Path,
        tokenizer: Tokenizer,
        max_tokens: int,
        threads: int = 0,
        expected_sha256: str | None = None,
    ) -> None:
        """Opens the export at `path`; with `expected_sha256`, only if its checksum
        matches. The file is read once: the bytes that were hashed are the bytes
        onnxruntime loads, so the file cannot change in between."""
        model_bytes = Path(path).read_bytes()
        self.sha256 = hashlib.sha256(model_bytes).hexdigest()
        if expected_sha256 is not None and self.sha256 != expected_sha256:
            raise ValueError("its checksum differs from the manifest's")
        self.path = Path(path)
        self._session = open_session(model_bytes, threads)
        self._run_options = arena_returned_after_each_run()
        del model_bytes
        self._tokenizer = tokenizer.__class__.from_str(tokenizer.to_str())
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def encode(
        self, texts: list[str], batch_size: int = 32, *, progress: Progress = SILENT
    ) -> np.ndarray:
        # Longest first, as sentence-transformers does: a batch pads to its longest
        # text, so similar lengths together waste the least arithmetic.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = list(_batches([texts[i] for i in order], batch_size))
        batches = progress.over(batches, "Embedding", "batch")
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        vectors[order] = np.concatenate([self._run(batch) for batch in batches])
        return vectors

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feed = model_inputs(encodings)
        bulk = len(texts) > 1  # a question alone needs little arena, and is run most often
        return self._session.run(None, feed, self._run_options if bulk else None)[0]


def model_inputs(encodings: list) -> dict[str, np.ndarray]:
    """A BERT model's INPUTS from a batch of tokenizers encodings (padded alike)."""
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def open_session(model: bytes, threads: int = 0) -> object:
    """An onnxruntime session of exactly these (checked) bytes, on `threads` threads
    (0: onnxruntime's choice) that sleep between calls rather than spin: spinning,
    they held the second core that a question's BM25 runs on meanwhile
    (index/retrieval.py)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return _session(model, options)


def arena_returned_after_each_run() -> object:
    """Run options that give the memory arena back after a run, for batches of
    more than one text. Without them the arena keeps what its largest batch
    needed for good: one bulk batch of long texts (a /reindex, a refresh) left a
    serving process 780 MB larger (bench/onnx_arena.py)."""
    import onnxruntime

    options = onnxruntime.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def _session(model: bytes, options: object) -> object:
    """An onnxruntime session of exactly these bytes. Given bytes,
    onnxruntime keeps a copy of them for good (+90 MB); given a path, it does not. So
    the bytes go into a memfd, an anonymous file only this process can reach, and
    onnxruntime reads that by path."""
    import onnxruntime

    providers = ["CPUExecutionProvider"]
    if not hasattr(os, "memfd_create"):  # not Linux
        return onnxruntime.InferenceSession(model, options, providers=providers)
    fd = os.memfd_create("articlebot-model.onnx", os.MFD_CLOEXEC)
    try:
        with open(fd, "wb", closefd=False) as handle:
            handle.write(model)
        return onnxruntime.InferenceSession(f"/proc/self/fd/{fd}", options, providers=providers)
    finally:
        os.close(fd)


def _batches(texts: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def export_onnx(model: SentenceTransformer, tokenizer: Tokenizer, path: Path) -> None:
    """Export `model` to `path` (atomically), or raise if the export's vectors
    differ from the model's own (cosine below MIN_COSINE on any probe text)."""
    import torch

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            features = dict(zip(INPUTS, (input_ids, attention_mask, token_type_ids), strict=True))
            return self.model({**features, "modality": "text"})["sentence_embedding"]

    features = model.preprocess(list(PROBES[:2]))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".tmp-{secrets.token_hex(4)}-{path.name}")
    dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    try:
        # The tracer warns about each Python branch it freezes; in sentence-transformers
        # and BERT those are shape checks that hold for any input.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pipeline().eval(),
                tuple(features[name] for name in INPUTS),
                str(staging),
                input_names=list(INPUTS),
                output_names=["embedding"],
                dynamic_axes={**dynamic, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        _check_export(model, tokenizer, staging)
        with open(staging, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _check_export(model: SentenceTransformer, tokenizer: Tokenizer, path: Path) -> None:
    exported = OnnxEncoder(path, tokenizer, model.max_seq_length).encode(list(PROBES))
    original = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
    worst = float(np.min(np.sum(exported * original, axis=1)))
    if worst < MIN_COSINE:
        raise ValueError(f"the ONNX export differs from the model (cosine {worst:.4f})")
