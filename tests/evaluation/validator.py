"""The eval/ scripts (validate_dataset.py, merge_parts.py) as modules: eval/ is not a package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASETS = REPO_ROOT / "eval" / "datasets"
CORPUS = REPO_ROOT / "data" / "corpus"


def load_eval_script(name: str) -> ModuleType:
    """Import ``eval/<name>.py`` once (registered, so its dataclasses and typer app work)."""
    module_name = f"eval_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, REPO_ROOT / "eval" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_validator() -> ModuleType:
    return load_eval_script("validate_dataset")
