"""Passwords inside URLs (tracking server, Optuna storage) never reach logs, tags or files."""

from __future__ import annotations

import re
from pathlib import Path

from audiostyle.files import atomic_path

SECRET_IN_URL = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def redact(text: str) -> str:
    """Hide the password of any URL in text (`scheme://user:***@host`)."""
    return SECRET_IN_URL.sub(r"\1***@", text)


def redact_files(folder: Path, pattern: str = "*.yaml") -> None:
    """Rewrite the files Hydra keeps of a run (.hydra/*.yaml) without the passwords they
    would otherwise carry into the run folder and MLflow's artifacts."""
    for path in sorted(folder.glob(pattern)):
        text = path.read_text()
        clean = redact(text)
        if clean != text:
            with atomic_path(path) as tmp:
                tmp.write_text(clean)
