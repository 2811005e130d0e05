"""Building index versions: chunking, the embedding cache, the build itself,
the index directory's changes, and refreshing from the sources."""
