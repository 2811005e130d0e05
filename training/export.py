"""Exports the tuned sentence reader (training/encoder.py) to ONNX and quantizes
it to int8 with onnxruntime's quantizer, so that answering needs neither torch nor
the fp32 weights.

    python -m training.export ENCODER_DIR OUT_DIR

The graph gives two outputs: each text's unit-length mean-pooled vector
("embedding") and each of its tokens' unit-length vectors ("tokens"), which the
answerer matches question words against. Writes OUT_DIR/reader.onnx (int8) and
OUT_DIR/tokenizer.json, and prints how far the int8 vectors are from fp32's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("embedding", "tokens")
PROBES = (
    "when did the iss launch",
    "Russia's space agency said it would leave the station after 2024 and build its own.",
    "who is yuri borisov?",
)


class Pipeline(nn.Module):
    """The encoder with pooling and normalisation inside the graph."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return nn.functional.normalize(pooled, dim=-1), nn.functional.normalize(hidden, dim=-1)


def export(encoder_dir: Path, out: Path, keep_fp32: bool = False) -> dict[str, float]:
    """Writes out/reader.onnx (int8) and out/tokenizer.json; the worst cosine between
    the int8 and fp32 vectors of the probe texts. With `keep_fp32`, the fp32 export
    too (out/reader-fp32.onnx), to measure what quantizing costs."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    pipeline = Pipeline(AutoModel.from_pretrained(str(encoder_dir))).eval()
    sample = tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        dynamic = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "tokens")}
        to_onnx(pipeline, sample, fp32, list(OUTPUTS), {**dynamic, "embedding": {0: "batch"}})
        quantize_dynamic(
            str(fp32), str(out / "reader.onnx"), weight_type=QuantType.QInt8, per_channel=True
        )
        agreement = _agreement(fp32, out / "reader.onnx", tokenizer)
        if keep_fp32:
            shutil.copy(fp32, out / "reader-fp32.onnx")
    shutil.copy(Path(encoder_dir) / "tokenizer.json", out / "tokenizer.json")
    return agreement


def to_onnx(module: nn.Module, sample, path: Path, outputs: list[str], axes: dict) -> None:
    """Traces `module` on a tokenizer's `sample` batch (its INPUTS, in order) into an
    fp32 ONNX file, with the given outputs and dynamic axes."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on frozen shape checks
        torch.onnx.export(
            module,
            tuple(sample[name] for name in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _agreement(fp32: Path, int8: Path, tokenizer) -> dict[str, float]:
    import onnxruntime

    feed = {
        k: v.numpy() for k, v in tokenizer(list(PROBES), padding=True, return_tensors="pt").items()
    }
    feed = {name: feed[name] for name in INPUTS}
    full = onnxruntime.InferenceSession(str(fp32)).run(None, feed)[0]
    small = onnxruntime.InferenceSession(str(int8)).run(None, feed)[0]
    return {"worst_probe_cosine": float(np.min(np.sum(full * small, axis=1)))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--keep-fp32", action="store_true", help="also write reader-fp32.onnx")
    options = parser.parse_args(argv)
    print(json.dumps(export(options.encoder, options.out, options.keep_fp32)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
