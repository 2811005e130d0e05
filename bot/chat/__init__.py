"""What chat platforms share (the ask flow, limits, reindex, feedback, messages),
and one module per platform."""
