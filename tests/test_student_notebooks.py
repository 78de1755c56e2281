"""Every student notebook runs without error up to its first exercise, which raises NotImplementedError.

They run the way students run them in Colab: ``google.colab`` present (a stand-in module), the set-up cell
cloning the student release (a local bare repository) into a shared folder that plays Colab's ``/content``, so
that the first notebook clones and installs and the next ones reuse it, as in one Colab runtime.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.build import course_config

ROOT = Path(__file__).resolve().parent.parent
STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_solution_has_a_student_version():
    assert STUDENT and {p.name for p in STUDENT} == {p.name for p in (ROOT / "solutions").glob("*.ipynb")}


STAND_IN = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')"


@pytest.fixture(scope="module")
def colab_content(tmp_path_factory):
    return tmp_path_factory.mktemp("content")


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_runs_up_to_first_exercise(path, monkeypatch, release_repository, colab_content):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        assert not c.get("outputs"), "student notebooks carry no outputs"
        assert "BEGIN SOLUTION" not in c.source and "END SOLUTION" not in c.source
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    check = next((i for i in range(first + 1, len(nb.cells)) if nb.cells[i].cell_type == "code"), first)
    nb.cells = nb.cells[: check + 1]  # everything before the first exercise, the exercise, and its check
    setup = next(i for i, c in enumerate(nb.cells) if "course-setup" in c.metadata.get("tags", []))
    clone = colab_content / course_config()["repository"].rsplit("/", 1)[-1]
    where = f"assert course_utils.__file__ == {str(clone / 'course_utils' / '__init__.py')!r}, course_utils.__file__"
    nb.cells[setup:setup] = [nbformat.v4.new_code_cell(STAND_IN)]
    nb.cells.insert(setup + 2, nbformat.v4.new_code_cell(where))
    first, check = first + 2, check + 2
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("COURSE_REPOSITORY_URL", release_repository)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(colab_content)}}
    ).execute()
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []):
            if o.output_type == "error":
                assert i >= first and o.ename == "NotImplementedError", f"cell {i} failed: {o.ename}: {o.evalue}"
    told = "".join(o.get("text", "") for o in nb.cells[check].get("outputs", []))
    raised = any(o.output_type == "error" for o in nb.cells[check].get("outputs", []))
    assert raised or "not done yet" in told, "the exercise's check should say it is not done yet"
