"""Numbers of floating-point algorithms that the solution notebooks store, checked with explicit tolerances.

nbval compares exactly only the outputs that are exact by construction: shapes, counts, parameter numbers,
printed integer matrices and self-check verdicts (the cells marked ``# NBVAL_CHECK_OUTPUT``). The last digits
of iterative deconvolution, BM3D or a trained network move between library versions (scikit-image 0.26 and
SciPy 1.17 moved notebook 08's Richardson-Lucy scores by up to 0.07 dB), so such numbers are recomputed here
and compared with the stored ones within a tolerance that a library update stays inside and a real
regression (a kernel not flipped, a wrong regulariser, a wrong angle: decibels) does not.
"""

import json
import re
from pathlib import Path

import pytest

from course_utils import blur, classical, natural, psnr

ROOT = Path(__file__).resolve().parent.parent
DB_TOLERANCE = 0.15  # dB: twice the largest move seen between library versions so far


def stored_text(notebook: str, marker: str) -> str:
    """The printed output of the one code cell of ``solutions/<notebook>`` whose source contains ``marker``."""
    nb = json.loads((ROOT / "solutions" / notebook).read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and marker in "".join(c["source"])]
    assert len(cells) == 1, f"{notebook}: expected one cell containing {marker!r}, found {len(cells)}"
    return "".join("".join(o.get("text", "")) for o in cells[0]["outputs"] if o["output_type"] == "stream")


def test_stored_text_finds_the_table():
    text = stored_text("08_deblurring.ipynb", "kernels_off_by = test_set.kernels_off_by")
    assert "Richardson-Lucy (dB)" in text


@pytest.fixture(scope="module")
def deblurring_test_set():
    """Notebook 08's test images, built as its cell does (lengths 3-15 px, sigma 2)."""
    test_set = blur.BlurredCrops(
        natural.natural_images("skimage", "test"), 256, lengths=(3.0, 15.0), sigma=2.0, train=False
    )
    m = blur.KERNEL_SIZE

    def score(x):
        return psnr(x[..., m:-m, m:-m].clamp(0, 1), test_set.sharp[..., m:-m, m:-m], data_range=1.0).item()

    return test_set, score


def test_notebook_08_test_images_as_stored(deblurring_test_set):
    """The blur of each test image (drawn from torch's random stream: lengths to 0.1 px, angles to 1 degree) and the
    blurred images' PSNR (a float computation on scikit-image's photographs: within the tolerance)."""
    test_set, score = deblurring_test_set
    text = stored_text("08_deblurring.ipynb", 'train_images = natural.natural_images("skimage", "train")')
    stored = re.findall(r"^([\d.]+) px\s+(\d+)°\s*$", text, re.M)
    assert len(stored) == 4, text
    now = [(f"{length:.1f}", f"{angle:.0f}") for length, angle in zip(test_set.motion_lengths, test_set.motion_angles)]
    assert now == stored
    blurred_db = float(re.search(r"PSNR of the blurred test images: ([\d.]+) dB", text).group(1))
    assert score(test_set.blurred) == pytest.approx(blurred_db, abs=DB_TOLERANCE)


def test_notebook_08_classical_deconvolution_within_tolerance(deblurring_test_set):
    """Wiener and Richardson-Lucy with the kernel's angle off by 0-90 degrees: the stored table holds."""
    test_set, score = deblurring_test_set
    text = stored_text("08_deblurring.ipynb", "kernels_off_by = test_set.kernels_off_by")
    stored = {int(e): (float(w), float(r)) for e, w, r in re.findall(r"^(\d+)°\s+([\d.]+)\s+([\d.]+)\s*$", text, re.M)}
    assert sorted(stored) == [0, 10, 20, 45, 90], text
    # the tolerance is far below what a real regression costs: a kernel 10 degrees off moves both by > 0.6 dB
    assert min(abs(a - b) for a, b in zip(stored[0], stored[10])) > 4 * DB_TOLERANCE
    for e, (wiener_db, rl_db) in stored.items():
        kernels = test_set.kernels_off_by(e)
        now = (
            score(classical.wiener(test_set.blurred, kernels)),
            score(classical.richardson_lucy(test_set.blurred, kernels)),
        )
        assert now == pytest.approx((wiener_db, rl_db), abs=DB_TOLERANCE), (
            f"angle error {e}°: stored {wiener_db, rl_db}, now {now}"
        )
    blurred_db = float(re.search(r"blurred input: ([\d.]+) dB", text).group(1))
    assert score(test_set.blurred) == pytest.approx(blurred_db, abs=DB_TOLERANCE)


def test_every_claim_holds_in_the_stored_solutions():
    """The solutions are stored at the CPU budget: every cu.claim there holds (none is ⚠ or unchecked)."""
    from course_utils.claims import FAILS, HOLDS, UNCHECKED

    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            text = "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")
            for line in text.splitlines():
                assert not line.startswith((FAILS, UNCHECKED)), f"{path.name}, cell {i}: {line}"
            if "cu.claim(" in "".join(cell["source"]):
                assert HOLDS in text, f"{path.name}, cell {i} states a claim but its stored output shows none"
