"""Text primitives every stage shares: one sentence splitter, one normaliser, one marker syntax."""
