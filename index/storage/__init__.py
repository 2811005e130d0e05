"""A version on disk and loaded: its layout and files, the chunk and article
tables, vectors (FAISS or Milvus), BM25, sentences, terms and the lexicon."""
