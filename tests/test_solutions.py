"""Exercise solutions live in ``notebooks/solutions/``, hidden until the learner loads them.

The convention (STYLE.md, "Exercises"): an exercise is a code cell tagged ``exercise`` whose
metadata names its solution, ``"solution": "solutions/NN_exK.py"`` (relative to the notebook),
and whose code tells the learner to replace it with ``%load solutions/NN_exK.py``. Run All
runs the exercise cell as the learner finds it; CI substitutes each solution into its cell and
runs the whole notebook, so every solution is checked in context.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).parent.parent / "notebooks"
SOLUTION_DIR = NOTEBOOK_DIR / "solutions"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SOLUTION_NAME = re.compile(r"solutions/(\d\d)_ex\d+\.py")


def exercises(path: Path) -> list[tuple[int, Any]]:
    """(index, cell) of every cell tagged ``exercise`` in the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    return [
        (index, cell)
        for index, cell in enumerate(nb.cells)
        if "exercise" in cell.metadata.get("tags", [])
    ]


def is_inline_solution(cell: Any) -> bool:
    """A solution Run All would execute: a code cell starting ``# Solution`` or hiding its code."""
    return cell.cell_type == "code" and (
        cell.source.lstrip().startswith("# Solution")
        or bool(cell.metadata.get("jupyter", {}).get("source_hidden"))
    )


def test_every_exercise_names_a_solution_file_that_exists() -> None:
    named: list[str] = []
    for path in NOTEBOOKS:
        for index, cell in exercises(path):
            where = f"{path.name} cell {index}"
            solution = cell.metadata.get("solution")
            assert cell.cell_type == "code", f"{where} is tagged exercise but is not code"
            assert isinstance(solution, str), f"{where} has no metadata 'solution' path"
            match = SOLUTION_NAME.fullmatch(solution)
            assert match, f"{where}: solution {solution!r} is not solutions/NN_exK.py"
            assert match.group(1) == path.name[:2], f"{where}: {solution} is another lesson's"
            assert (NOTEBOOK_DIR / solution).is_file(), f"{where}: {solution} does not exist"
            assert f"%load {solution}" in cell.source, f"{where} does not say '%load {solution}'"
            named.append(solution)
    assert len(named) == len(set(named)), f"a solution file serves two exercises: {named}"
    files = sorted(f"solutions/{p.name}" for p in SOLUTION_DIR.glob("*.py"))
    assert sorted(named) == files, (
        f"solution files without an exercise: {sorted(set(files) - set(named))}; "
        f"exercises without a file: {sorted(set(named) - set(files))}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_solutions_do_not_run_on_run_all(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    inline = [i for i, cell in enumerate(nb.cells) if is_inline_solution(cell)]
    assert not inline, (
        f"{path.name} cells {inline} hold a solution that Run All would execute; move it "
        "to notebooks/solutions/ (see this module's docstring)"
    )


def test_a_hidden_solution_cell_is_recognised() -> None:
    hidden = nbformat.v4.new_code_cell("x = 1", metadata={"jupyter": {"source_hidden": True}})
    assert is_inline_solution(hidden)
    assert is_inline_solution(nbformat.v4.new_code_cell("  # Solution: 42\nx = 42"))
    assert not is_inline_solution(nbformat.v4.new_code_cell("# Your code here"))
    assert not is_inline_solution(nbformat.v4.new_markdown_cell("# Solution"))


WITH_EXERCISES = [p for p in NOTEBOOKS if exercises(p)]

# After the notebook: the lab servers still running (each solution must stop its own).
SERVERS = (
    "import threading as _t; "
    "print(sorted(x.name for x in _t.enumerate() if x.name.startswith('lab-server-')))"
)


@pytest.mark.notebook
@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_each_solution_runs_in_its_notebook(path: Path) -> None:
    os.environ.setdefault("LAB_FAST", "1")
    nb = nbformat.read(path, as_version=4)
    for index, cell in exercises(path):
        nb.cells[index].source = (NOTEBOOK_DIR / cell.metadata["solution"]).read_text()
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": path.parent}},
    )  # fmt: skip
    audit = nbformat.v4.new_code_cell(SERVERS)
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        nb.cells.append(audit)
        client.execute_cell(audit, len(nb.cells) - 1)
    errors = [
        (index, output.get("ename"), output.get("evalue"))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", [])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, f"{path.name} with its solutions loaded: {errors}"
    printed = "".join(o.get("text", "") for o in audit.outputs if o.get("name") == "stdout")
    assert printed.strip() == "[]", f"{path.name}'s solutions leave lab servers running: {printed}"
