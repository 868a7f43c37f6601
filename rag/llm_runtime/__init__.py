"""Runs the local llama.cpp server (xllamacpp) that the `local` answer mode talks to.

``net`` (loopback addresses, health probe) · ``server`` (``LocalLLMServer``: start,
wait for, stop one child process; ``LLMServerError``) · ``registry``
(``ensure_local_server``: the servers this process shares) · ``child`` (the child
process's entry point, ``python -m rag.llm_runtime.child``).
"""
