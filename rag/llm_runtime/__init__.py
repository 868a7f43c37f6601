"""Runs the local llama.cpp server (xllamacpp) that the `local` answer mode talks to."""
