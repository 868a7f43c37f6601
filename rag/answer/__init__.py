"""Builds answers from retrieved passages: evidence selection, extractive answers, the LLM chain."""
