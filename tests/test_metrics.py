"""MSE, MAE, PSNR on known values."""

import math

import pytest
import torch

from course_utils import mae, mse, psnr


def test_known_values():
    x = torch.zeros(2, 1, 4, 4)
    y = torch.full((2, 1, 4, 4), 0.1)
    assert mse(x, y).item() == pytest.approx(0.01)
    assert mae(x, y).item() == pytest.approx(0.1)
    assert psnr(x, y, data_range=1.0).item() == pytest.approx(20.0, abs=1e-4)
    assert psnr(x * 255, y * 255, data_range=255.0).item() == pytest.approx(20.0, abs=1e-4)
    # a wrong data range shifts PSNR by 20*log10(ratio)
    assert psnr(x, y, data_range=2.0).item() == pytest.approx(20 + 20 * math.log10(2), abs=1e-4)


def test_per_image_then_mean():
    x = torch.zeros(2, 1, 2, 2)
    y = torch.stack([torch.full((1, 2, 2), 0.1), torch.full((1, 2, 2), 0.01)])
    per = psnr(x, y, data_range=1.0, reduction="none")
    assert per.tolist() == pytest.approx([20.0, 40.0], abs=1e-4)
    assert psnr(x, y, data_range=1.0).item() == pytest.approx(30.0, abs=1e-4)  # mean of the PSNRs
    assert mse(x, y, reduction="none").shape == (2,)


def test_perfect_match_is_capped_and_pooled_psnr():
    x = torch.rand(1, 1, 3, 3)
    assert psnr(x, x, data_range=1.0).item() == pytest.approx(100.0)
    assert psnr(x * 255, x * 255, data_range=255.0).item() == pytest.approx(100.0)
    # one exact image and one with MSE 0.01: the mean of PSNRs is 60 dB, the pooled PSNR 23 dB
    a = torch.zeros(2, 1, 2, 2)
    b = torch.stack([torch.zeros(1, 2, 2), torch.full((1, 2, 2), 0.1)])
    assert psnr(a, b, data_range=1.0).item() == pytest.approx(60.0, abs=1e-3)
    assert psnr(a, b, data_range=1.0, reduction="pooled").item() == pytest.approx(10 * math.log10(1 / 0.005), abs=1e-3)


def test_metric_errors():
    x = torch.rand(1, 1, 3, 3)
    with pytest.raises(ValueError, match="shapes differ"):
        mse(x, torch.rand(1, 1, 3, 4))
    with pytest.raises(ValueError, match="data_range"):
        psnr(x, x, data_range=0)
    with pytest.raises(TypeError):
        psnr(x, x)  # data_range has no default on purpose
    with pytest.raises(ValueError, match="reduction"):
        mae(x, x, reduction="sum")


def test_scores_report_card():
    from course_utils import scores

    clean = torch.zeros(2, 1, 2, 2)
    out = clean + 0.1
    s = scores(out, clean)
    assert s["PSNR (dB)"] == pytest.approx(20.0, abs=1e-4)
    assert s["MAE"] == pytest.approx(0.1) and s["mean error"] == pytest.approx(0.1)
    assert scores(clean - 0.1, clean)["mean error"] == pytest.approx(-0.1)


def test_scores_table_lists_methods_with_their_cards():
    from course_utils import scores, scores_table

    clean = torch.zeros(2, 1, 2, 2)
    text = scores_table({"identity": scores(clean + 0.1, clean), "perfect": scores(clean, clean)})
    lines = text.splitlines()
    assert lines[0].split() == ["method", "PSNR", "(dB)", "MAE", "mean", "error"]
    assert lines[2].split() == ["identity", "20.00", "0.1000", "+0.1000"]
    assert lines[3].split() == ["perfect", "100.00", "0.0000", "+0.0000"]


def test_psnr_refuses_images_far_outside_data_range():
    x, y = torch.rand(2, 1, 8, 8) * 255, torch.rand(2, 1, 8, 8) * 255
    with pytest.raises(ValueError, match="data_range=255"):
        psnr(x, y, data_range=1)  # before: -40 dB, silently
    with pytest.raises(ValueError, match="data_range=255"):
        psnr(x.to(torch.uint8), y.to(torch.uint8), data_range=1.0)
    assert psnr(x, y, data_range=255).item() == pytest.approx(psnr(x / 255, y / 255, data_range=1).item(), abs=1e-3)
    # noisy images and a bad output stay on the scale: no error
    noisy = torch.rand(2, 1, 8, 8) + 0.5 * torch.randn(2, 1, 8, 8)
    psnr(noisy, torch.rand(2, 1, 8, 8), data_range=1)
    psnr(torch.randn(2, 1, 8, 8) * 100, torch.rand(2, 1, 8, 8), data_range=1)  # a diverged model: a low PSNR


def test_psnr_data_range_numpy_scalars_and_bad_values():
    import numpy as np

    x, y = torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.1)
    for r in (np.float32(1), np.float64(1), np.int64(1), torch.tensor(1.0)):
        assert psnr(x, y, data_range=r).item() == pytest.approx(20.0, abs=1e-4)  # np.float32: refused before
    for r in (float("inf"), float("nan"), -1, 0, "1", True):
        with pytest.raises((ValueError, TypeError), match="data_range"):
            psnr(x, y, data_range=r)  # inf: NaN before


def test_psnr_refuses_nan_and_inf_inputs():
    x, y = torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    bad = x.clone()
    bad[1, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match=r"x holds 1 NaN"):
        psnr(bad, y, data_range=1)  # before: NaN, silently
    bad[1, 0, 2, 2] = float("inf")
    with pytest.raises(ValueError, match=r"y holds 1 infinite"):
        psnr(x, bad, data_range=1)


def test_metrics_take_numpy_arrays_lists_and_any_dtype():
    import numpy as np

    x, y = np.zeros((2, 1, 4, 4)), np.full((2, 1, 4, 4), 0.1)  # float64 NumPy: refused deep inside torch before
    assert psnr(x, y, data_range=1).item() == pytest.approx(20.0, abs=1e-4)
    assert psnr(x.tolist(), y.tolist(), data_range=1).item() == pytest.approx(20.0, abs=1e-4)
    assert mse(torch.from_numpy(x), y).item() == pytest.approx(0.01)
    eight = np.full((1, 1, 2, 2), 10, dtype=np.uint8)  # uint8: values as they are, on the 0-255 scale
    assert psnr(eight, np.zeros_like(eight), data_range=255).item() == pytest.approx(20 * math.log10(25.5), abs=1e-4)
    with pytest.raises(TypeError, match="numbers"):
        psnr(["a", "b"], ["c", "d"], data_range=1)
