"""Checks answers against their sources: support scores, citation repair, answerability."""
