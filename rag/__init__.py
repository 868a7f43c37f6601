"""Offline retrieval-augmented QA over Chinese news and finance articles."""

__version__ = "0.1.0"
