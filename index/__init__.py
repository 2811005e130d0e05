"""Turns articles into a searchable store: load, clean, chunk, embed, store.

Knows nothing of Discord, Slack or how answers are worded.
"""
