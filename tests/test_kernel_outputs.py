"""What a student sees in a Jupyter kernel, short of a browser (the browser check is scripts/browser_check.py):
one figure per explorer interaction, a progress line that a saved notebook keeps, and errors that say what to do.

One notebook is executed by nbclient in a fresh kernel with matplotlib's inline backend (as in Jupyter), and its
outputs, including the state of its widgets (what the sliders' output area holds), are read back.
"""

import json

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.build import strip_solutions

SET_UP = """import course_utils as cu, torch, torch.nn as nn
cu.check_version(cu.__version__)"""
EXPLORER = """from course_utils.convtranspose import explore_conv_transpose
explore_conv_transpose()"""
THRESHOLD = """cu.explore_threshold(torch.rand(1, 16, 16), torch.randn(1, 16, 16), torch.rand(1, 16, 16) > 0.5)"""
TRAINING = """net = nn.Linear(2, 1)
history = cu.fit(net, lambda: (torch.randn(4, 2), torch.randn(4, 1)), nn.functional.mse_loss,
                 torch.optim.SGD(net.parameters(), lr=0.01), steps=30, desc="linear")"""
UNDEFINED = "model.eval()"
UNBOUND = """def count():
    total += 1
count()"""
STUB = strip_solutions("def conv_transpose2d_manual(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n")
STUB += "conv_transpose2d_manual(1)"
CELLS = [SET_UP, EXPLORER, THRESHOLD, TRAINING, UNDEFINED, UNBOUND, STUB]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import os

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "COURSE_FAST": "1", "COURSE_DEVICE": "cpu"}
    old = {k: os.environ.get(k) for k in [*env, "COURSE_STATIC_WIDGETS"]}
    os.environ.update(env)
    os.environ.pop("COURSE_STATIC_WIDGETS", None)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True, store_widget_state=True).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return nb


def outputs(nb, cell: str) -> list:
    return nb.cells[CELLS.index(cell)].outputs


def widget_outputs(nb, cell: str) -> list:
    """What the output areas of the widgets displayed by ``cell`` hold (the figures the sliders redraw)."""
    views = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for o in outputs(nb, cell)]
    assert len(views) == 1, outputs(nb, cell)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]

    def inside(model_id):  # the model, and the models it holds (an interactive box holds its Output widget)
        model = state[model_id]
        found = list(model["state"].get("outputs", []))
        for child in model["state"].get("children", []):
            found += inside(child.removeprefix("IPY_MODEL_"))
        return found

    return inside(views[0])


def figures(items) -> int:
    return sum("image/png" in o.get("data", {}) for o in items)


def test_nothing_reaches_stderr_and_no_memory_address(executed):
    for cell in (SET_UP, EXPLORER, THRESHOLD, TRAINING):
        for o in outputs(executed, cell):
            assert o.get("name") != "stderr", (cell, o)
            assert "0x" not in json.dumps(o.get("data", {}).get("text/plain", "")) + o.get("text", ""), o


@pytest.mark.parametrize("cell", [EXPLORER, THRESHOLD], ids=["conv transpose", "threshold"])
def test_an_explorer_shows_its_figure_once(executed, cell):
    assert figures(outputs(executed, cell)) == 0  # the figure is inside the widget, not beside it
    assert figures(widget_outputs(executed, cell)) == 1


def test_training_progress_is_text_that_a_saved_notebook_keeps(executed):
    (line,) = outputs(executed, TRAINING)
    assert line["output_type"] == "display_data" and set(line["data"]) == {"text/plain"}
    assert line["data"]["text/plain"].startswith("linear: 30/30 steps [####################] 100% | loss ")


def test_a_missing_name_says_to_run_the_cells_above(executed):
    (error,) = [o for o in outputs(executed, UNDEFINED) if o["output_type"] == "error"]
    assert error["ename"] == "NameError" and error["evalue"] == "name 'model' is not defined"
    assert error["traceback"][-1].startswith("Hint: `model` is not defined in this session. If a cell above")
    (error,) = [o for o in outputs(executed, UNBOUND) if o["output_type"] == "error"]
    assert error["ename"] == "UnboundLocalError" and not any("Hint" in line for line in error["traceback"])


def test_an_unfinished_exercise_names_itself(executed):
    (error,) = [o for o in outputs(executed, STUB) if o["output_type"] == "error"]
    assert error["ename"] == "NotImplementedError"
    assert error["evalue"].startswith("conv_transpose2d_manual: not written yet. Finish this exercise")
