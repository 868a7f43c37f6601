"""Merge the dataset writers' part files into one dataset, sorted by id, validated.

Several writers produce ``eval/datasets/parts/*.jsonl`` side by side (each with its
own id range); the record is one file, ``eval/datasets/fresh.jsonl``. The merged rows
are validated together with the other datasets (ids unique across all of them,
every row naming its article and split) before the output is replaced, so a failed
merge never leaves a half-valid dataset behind.

    python eval/merge_parts.py [--parts eval/datasets/parts] [--out eval/datasets/fresh.jsonl]
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

sys.path.insert(0, str(Path(__file__).resolve().parent))  # eval/ is not a package
from validate_dataset import OPTIONAL_FIELDS, REQUIRED_FIELDS, validate_many  # noqa: E402

logger = logging.getLogger(__name__)

DATASETS = Path(__file__).resolve().parent / "datasets"
DEFAULT_PARTS = DATASETS / "parts"
DEFAULT_OUT = DATASETS / "fresh.jsonl"
OTHER_DATASETS = (DATASETS / "dev.jsonl", DATASETS / "heldout.jsonl")
FIELD_ORDER = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)


def id_key(row: dict[str, Any]) -> tuple[str, int, str]:
    """Natural order: ``fr-999`` before ``fr-1000``."""
    rid = str(row.get("id", ""))
    m = re.fullmatch(r"([a-z]+)-(\d+)", rid)
    return (m.group(1), int(m.group(2)), rid) if m else (rid, -1, rid)


def in_schema_order(row: dict[str, Any]) -> dict[str, Any]:
    """The row's keys in the schema's order (unknown keys last, for the validator to flag)."""
    return {k: row[k] for k in (*FIELD_ORDER, *sorted(set(row) - set(FIELD_ORDER))) if k in row}


def read_parts(parts_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(parts_dir.glob("*.jsonl")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: invalid JSON ({exc})") from exc
    return rows


def merge(parts_dir: Path, out: Path, others: tuple[Path, ...] = OTHER_DATASETS) -> list[str]:
    """Write the merged, sorted rows to ``out`` when they validate; return the problems."""
    rows = sorted(read_parts(parts_dir), key=id_key)
    staged = out.with_name(out.name + ".tmp")
    staged.write_text("".join(json.dumps(in_schema_order(r), ensure_ascii=False) + "\n" for r in rows), "utf-8")
    problems = validate_many([*(p for p in others if p.exists()), staged], require_split=True)
    if problems:
        staged.unlink()
    else:
        staged.replace(out)
        logger.info("merged %d rows from %s into %s", len(rows), parts_dir, out)
    return problems


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main(
    parts: Annotated[Path, typer.Option("--parts", help="Folder of part files (*.jsonl).")] = DEFAULT_PARTS,
    out: Annotated[Path, typer.Option("--out", help="The merged dataset.")] = DEFAULT_OUT,
    others: Annotated[
        Optional[list[Path]], typer.Option("--with", help="Datasets whose ids the merge must not reuse.")
    ] = None,
) -> None:
    """Merge, validate and write; exit 1 (writing nothing) when the merged rows have problems."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    problems = merge(parts, out, tuple(others) if others is not None else OTHER_DATASETS)
    if problems:
        typer.echo(f"{len(problems)} problem(s); {out} not written:")
        for p in problems:
            typer.echo(f"  - {p}")
        raise typer.Exit(1)
    typer.echo(f"OK: {out}")


if __name__ == "__main__":
    app()
