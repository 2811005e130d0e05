"""Discord: the client (client.py), its commands and buttons (commands.py), how an
answer is rendered (render.py) and where a conversation continues (keys.py)."""
