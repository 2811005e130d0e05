"""Text to vectors: the model (sentence-transformers at build time) and its
ONNX export (onnxruntime, no torch, for questions and a bot's rebuilds)."""
