"""Turn public Chinese RAG benchmarks into a corpus folder plus a dataset in our schema.

Why: our hand-written dev set is small; RGB and CRUD-RAG give hundreds of
questions with known supporting documents. Each importer (:mod:`.rgb`, :mod:`.crud`;
formats checked against the benchmarks' own loaders, described in each module)
writes

    OUT_DIR/corpus/<source>_<hash>.txt   one document per file (deduplicated by content)
    OUT_DIR/dataset.jsonl                one question per line (eval/README.md schema)
    OUT_DIR/import.json                  counts and the options used

so ``rag ingest OUT_DIR/corpus`` + ``rag eval run OUT_DIR/dataset.jsonl`` run them.
``rag eval import rgb|crud INPUT OUT_DIR`` is the command line.
"""
