"""The layout's rules, checked: the science and the clips import no framework, no module imports
itself through others, no loss reaches a judge nor a judge a loss, and no module outgrows a
reader."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "audiostyle"
FRAMEWORKS = ("hydra", "omegaconf", "mlflow", "optuna")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """The audiostyle modules a module imports, at any depth of its code (lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("audiostyle")
        ):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("audiostyle")}
    return {m for m in found if m in MODULES}


SCIENCE = (
    "audiostyle.networks",
    "audiostyle.losses",
    "audiostyle.optimisation",
    "audiostyle.measures",
    "audiostyle.judges",
)


@pytest.mark.parametrize("package", [*SCIENCE, "audiostyle.clips", "audiostyle.config.schema"])
def test_the_science_and_the_clips_import_no_framework(package):
    """Imported in a fresh interpreter, every module under the package leaves Hydra, OmegaConf,
    MLflow and Optuna unloaded."""
    names = [m for m in MODULES if m == package or m.startswith(package + ".")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"{package} loads {out.stdout.strip()}"


def test_no_module_imports_itself_through_others():
    graph = {m: imported(p) - {m} for m, p in MODULES.items()}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in graph[node]:
            if nxt == path[0]:
                cycles.append(" -> ".join([*path, nxt]))
            elif nxt not in path and nxt > path[0]:  # each cycle once, from its smallest name
                visit(nxt, [*path, nxt])

    for start in graph:
        visit(start, [start])
    assert cycles == []


def test_the_packages_depend_one_way():
    """The science and the clips know nothing of run, sweep and commands; run knows nothing of
    sweep and commands; sweep nothing of commands."""
    framework = ("audiostyle.run", "audiostyle.sweep", "audiostyle.commands")
    below = {
        **{package: framework for package in SCIENCE},
        "audiostyle.clips": framework,
        "audiostyle.run": ("audiostyle.sweep", "audiostyle.commands"),
        "audiostyle.sweep": ("audiostyle.commands",),
    }
    wrong = [
        f"{m} imports {i}"
        for m, p in MODULES.items()
        for package, forbidden in below.items()
        if m.startswith(package)
        for i in imported(p)
        if i.startswith(forbidden)
    ]
    assert wrong == []


def test_no_module_outgrows_a_reader():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def reached(module: str) -> set[str]:
    """Every audiostyle module a module imports, directly or through others."""
    seen, todo = set(), [module]
    while todo:
        for nxt in imported(MODULES[todo.pop()]) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def reaching(packages: tuple[str, ...], others: tuple[str, ...]) -> list[str]:
    return [
        f"{m} reaches {i}"
        for m in MODULES
        if m.startswith(packages)
        for i in sorted(reached(m))
        if i.startswith(others)
    ]


JUDGES = ("audiostyle.judges",)
OPTIMISED = ("audiostyle.losses", "audiostyle.optimisation")


def test_no_loss_reaches_a_judge_and_no_judge_a_loss():
    """Judges are not objectives: a judge shares no code with what a run optimises, and nothing a
    run optimises can read a judge (DEVELOPERS.md, issue #32)."""
    assert reaching(OPTIMISED, JUDGES) == []
    assert reaching(JUDGES, OPTIMISED) == []


def test_the_judge_rule_catches_an_import(tmp_path, monkeypatch):
    """The check above fails when a judge imports a loss through another module."""
    via = tmp_path / "via.py"
    via.write_text("from audiostyle.losses.objective import distance\n")
    judge = tmp_path / "judge.py"
    judge.write_text("import audiostyle.measures.via\n")
    monkeypatch.setitem(MODULES, "audiostyle.measures.via", via)
    monkeypatch.setitem(MODULES, "audiostyle.judges.fake", judge)
    found = reaching(JUDGES, OPTIMISED)
    assert "audiostyle.judges.fake reaches audiostyle.losses.objective" in found
