"""The running process: launching a bot, its scheduled refresh, the pre-flight check."""
