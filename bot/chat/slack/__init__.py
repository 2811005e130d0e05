"""Slack: the Bolt app and its listeners (app.py), how an answer is rendered in
Block Kit (render.py) and the app manifest (manifest.py)."""
