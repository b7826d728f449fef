"""Notebook metadata: what JupyterLab 4 writes for the python3 kernel, so a notebook does not
show as modified the moment it opens (JupyterLab sets ``kernelspec`` and ``language_info``
from the kernel when it connects, and marks the notebook dirty when they differ)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ipykernel.ipkernel import IPythonKernel
from jupyter_client.kernelspec import KernelSpecManager

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def metadata(path: Path) -> dict[str, object]:
    meta: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    return meta


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_kernelspec_is_what_jupyterlab_writes(path: Path) -> None:
    # JupyterLab writes name, display_name and language from the installed kernel spec
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert metadata(path)["kernelspec"] == {
        "display_name": spec.display_name,
        "language": spec.language,
        "name": "python3",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_language_info_is_what_ipykernel_reports(path: Path) -> None:
    # language_info comes from the kernel's kernel_info reply; its version is the Python the
    # notebooks were last saved with (the lab's reference 3.11), so only its form is checked
    info = dict(metadata(path)["language_info"])  # type: ignore[call-overload]
    expected = dict(IPythonKernel.language_info)
    version = info.pop("version")
    expected.pop("version")
    assert info == expected
    assert re.fullmatch(r"3\.1[0-3]\.\d+", version), version


def test_notebooks_carry_nothing_else_and_the_same_python() -> None:
    metas = [metadata(path) for path in NOTEBOOKS]
    assert all(set(m) == {"kernelspec", "language_info"} for m in metas)
    versions = {m["language_info"]["version"] for m in metas}  # type: ignore[index]
    assert len(versions) == 1, f"saved with different Pythons: {versions}"
