"""The answering core, the command line and one module per chat platform."""
