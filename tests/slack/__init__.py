"""The Slack app, end to end against a fake Slack (Bolt over HTTP and Socket Mode)."""
