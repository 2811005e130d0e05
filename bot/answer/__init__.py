"""The answering core, platform-free: a question in, a short answer with its sources out."""
