"""fit: it learns, it counts steps and epochs, validates, and keeps no graphs; its progress line."""

import re

import pytest
import torch
import torch.nn as nn

from course_utils import History, fit, predict


def linear_batches(g):
    w = torch.tensor([[2.0, -1.0]])

    def batch():
        x = torch.randn(32, 2, generator=g)
        return x, x @ w.T

    return batch


def sgd_fit(model, batches, lr, **kwargs):
    """``fit`` with the MSE loss and SGD at ``lr``, on the CPU, without a progress bar."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return fit(model, batches, nn.functional.mse_loss, optimizer, device="cpu", progress=False, **kwargs)


def test_fit_learns_and_records(g):
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(
        model,
        linear_batches(g),
        nn.functional.mse_loss,
        opt,
        steps=200,
        device="cpu",
        val_fn=lambda m: m.weight[0, 0].item(),
        val_every=50,
        progress=False,
    )
    assert isinstance(h, History) and len(h.loss) == 200
    assert all(isinstance(v, float) for v in h.loss)  # floats only: no autograd graph kept
    assert h.loss[-1] < 1e-3 < h.loss[0]
    assert [s for s, _ in h.val] == [50, 100, 150, 200]
    assert h.val[-1][1] == pytest.approx(2.0, abs=0.05)
    assert not model.training  # left in eval mode
    assert len(h.smoothed(10)) == 200 and h.smoothed(10)[-1] < h.smoothed(10)[0]


def test_fit_with_dataloader_epochs(g):
    x = torch.randn(40, 2, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=10)
    model = nn.Linear(2, 1)
    seen = []
    h = sgd_fit(model, loader, 0.05, epochs=3, val_fn=lambda m: len(seen.append(1) or seen))
    assert len(h.loss) == 12  # 3 epochs x 4 batches
    assert [s for s, _ in h.val] == [4, 8, 12]  # once per epoch


def test_validation_runs_without_grad_in_eval_mode(g):
    model = nn.Sequential(nn.Linear(2, 1), nn.Dropout(0.5))
    modes = []

    def val(m):
        modes.append((m.training, torch.is_grad_enabled()))
        return 0.0

    sgd_fit(model, linear_batches(g), 0.01, steps=3, val_fn=val)
    assert modes == [(False, False)]


def test_fit_errors(g):
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        fit(model, linear_batches(g), nn.functional.mse_loss, opt, progress=False)
    with pytest.raises(ValueError, match="DataLoader"):
        fit(model, linear_batches(g), nn.functional.mse_loss, opt, epochs=1, progress=False)
    with pytest.raises(TypeError, match="pair"):
        fit(model, lambda: torch.zeros(3, 2), nn.functional.mse_loss, opt, steps=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match="lambda: gen"):
        fit(model, 42, nn.functional.mse_loss, opt, steps=1, progress=False)


def test_zero_steps_is_a_no_op(g):
    model = nn.Linear(2, 1)
    before = model.weight.clone()
    h = sgd_fit(model, linear_batches(g), 1.0, steps=0)
    assert h.loss == [] and torch.equal(model.weight, before)


def test_unet_learns_to_remove_clutter():
    """The whole stack: generator -> UNet -> fit -> PSNR. A tiny U-Net beats the identity in 100 steps."""
    import course_utils as cu

    cu.seed_everything(0)
    g = cu.make_generator(0)
    noisy, clean = cu.gen(64, generator=cu.make_generator(99))
    model = cu.UNet(1, 1, 8, depth=2)
    h = fit(
        model,
        lambda: cu.gen(16, generator=g),
        nn.functional.l1_loss,
        torch.optim.Adam(model.parameters(), 3e-3),
        steps=100,
        device="cpu",
        progress=False,
        val_fn=lambda m: cu.psnr(m(noisy), clean, data_range=1.0, reduction="pooled").item(),
    )
    identity = cu.psnr(noisy, clean, data_range=1.0, reduction="pooled").item()
    assert h.val[-1][1] > identity + 3, (identity, h.val)


def test_predict_batches_without_grad_and_returns_cpu():
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.9))
    x = torch.randn(10, 3)
    out = predict(model, x, batch_size=4, device="cpu")
    assert out.shape == (10, 2) and not out.requires_grad and out.device.type == "cpu"
    assert torch.equal(out, predict(model, x, batch_size=3, device="cpu"))  # eval mode: dropout off


# Hardening (issue 18): fit never hangs, Ctrl-C always stops it, the student's own errors reach the student.

_RUNS_OUT = """
import torch, torch.nn as nn
from course_utils.training import fit

def three():
    for _ in range(3):
        x = torch.randn(4, 2)
        yield x, x.sum(1, keepdim=True)

model = nn.Linear(2, 1)
for source, steps in ((three(), 10), (iter([]), 2), ([], 2)):
    try:
        fit(model, source, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1), steps=steps,
            device="cpu", progress=False)
        print("no error")
    except Exception as e:
        print(f"{type(e).__name__}: {e}")
"""


def test_a_source_that_runs_out_stops_with_a_message_instead_of_hanging():
    """fit(<a generator of 3 batches>, steps=10), an empty generator, an empty list: each used to spin forever in
    C, holding the GIL (not even a thread or signal.alarm could stop it), so the cases run in a subprocess with a
    timeout and this test can never hang."""
    import subprocess
    import sys
    from pathlib import Path

    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUNS_OUT],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("fit hangs on a batch source that runs out")
    assert done.returncode == 0, done.stderr
    exhausted, empty_iterator, empty_list = done.stdout.splitlines()
    assert exhausted.startswith("ValueError: your batch source ran out after 3 batches, but steps=10"), exhausted
    assert empty_iterator.startswith("ValueError: your batch source ran out after 0 batches"), empty_iterator
    assert empty_list.startswith("ValueError: your batch source gave no batch at all"), empty_list


def test_an_empty_loader_with_epochs_is_refused(g):
    x = torch.randn(3, 2, generator=g)
    tiny = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x), batch_size=4, drop_last=True)
    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="gives no batch"):  # used to train 0 steps silently
        sgd_fit(model, tiny, 0.1, epochs=2)


def test_a_list_of_batches_is_used_epoch_after_epoch(g):
    x = torch.randn(4, 2, generator=g)
    model = nn.Linear(2, 1)
    h = fit(
        model,
        [(x, x[:, :1])] * 3,
        nn.functional.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        steps=7,
        device="cpu",
        progress=False,
    )
    assert len(h.loss) == 7


def test_keyboard_interrupt_stops_training_at_once(g):
    batch = linear_batches(g)
    calls = []

    def interrupted_batch():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return batch()

    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(KeyboardInterrupt):
        fit(model, interrupted_batch, nn.functional.mse_loss, opt, steps=10**9, device="cpu", progress=False)
    assert len(calls) == 3

    losses = []

    def interrupted_loss(out, y):
        losses.append(1)
        if len(losses) == 2:
            raise KeyboardInterrupt
        return nn.functional.mse_loss(out, y)

    data = [batch() for _ in range(3)]
    for source in (data, iter(data * 5), batch):  # a re-iterable, a generator, a function
        losses.clear()
        with pytest.raises(KeyboardInterrupt):
            fit(model, source, interrupted_loss, opt, steps=10**9, device="cpu", progress=False)
        assert len(losses) == 2


def test_a_real_ctrl_c_stops_an_endless_loop(g):
    """SIGINT as the terminal sends it, during a loop over a re-iterable source that would never end."""
    import os
    import signal

    x = torch.randn(4, 2, generator=g)
    steps = []

    def loss(out, y):
        steps.append(1)
        if len(steps) == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return nn.functional.mse_loss(out, y)

    model = nn.Linear(2, 1)
    with pytest.raises(KeyboardInterrupt):
        fit(
            model,
            [(x, x[:, :1])],
            loss,
            torch.optim.SGD(model.parameters(), lr=0.1),
            steps=10**9,
            device="cpu",
            progress=False,
        )
    assert len(steps) < 10


def test_the_students_own_error_reaches_the_student_with_its_traceback(g):
    import traceback

    def my_batches():
        raise ValueError("crop size 70 does not fit a 64x64 image")

    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="crop size 70") as info:
        fit(model, my_batches, nn.functional.mse_loss, opt, steps=1, device="cpu", progress=False)
    assert any(frame.name == "my_batches" for frame in traceback.extract_tb(info.value.__traceback__))

    def typo():
        return undefined_name  # noqa: F821

    with pytest.raises(NameError):
        fit(model, typo, nn.functional.mse_loss, opt, steps=1, device="cpu", progress=False)

    def generator():
        yield from ()
        raise TypeError("my own TypeError")

    with pytest.raises(TypeError, match="my own TypeError"):
        fit(model, generator(), nn.functional.mse_loss, opt, steps=1, device="cpu", progress=False)


def test_a_batch_that_is_not_a_pair_is_named(g):
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(2, 2, generator=g)  # a single tensor of 2 rows would unpack into two "batches"
    for bad, shown in ((lambda: x, "a tensor of shape (2, 2)"), (lambda: (x, x, x), "a tuple of 3 items")):
        with pytest.raises(TypeError, match=r"each batch must be a pair \(inputs, targets\)") as info:
            fit(model, bad, nn.functional.mse_loss, opt, steps=1, device="cpu", progress=False)
        assert shown in str(info.value)


def test_progress_is_one_line_of_text_on_stdout(g, capsys):
    """Outside a kernel the progress is plain text on standard output (nothing on stderr, which nbval and the grader
    read as a failure): the first state and the last, with the step count, the running loss and the time."""
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, linear_batches(g), nn.functional.mse_loss, opt, steps=5, device="cpu", desc="linear")
    out, err = capsys.readouterr()
    assert err == ""
    first, last = out.splitlines()
    assert first.startswith("linear: 1/5 steps [####----------------] 20% | loss ") and "left" in first
    assert re.fullmatch(r"linear: 5/5 steps \[#{20}\] 100% \| loss [\d.e-]+ \| \d+ s", last), last
    assert "0x" not in out

    batch, calls = linear_batches(g), []

    def interrupted():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return batch()

    with pytest.raises(KeyboardInterrupt):
        fit(model, interrupted, nn.functional.mse_loss, opt, steps=10, device="cpu")
    assert "stopped" in capsys.readouterr().out.splitlines()[-1]
    fit(model, linear_batches(g), nn.functional.mse_loss, opt, steps=3, device="cpu", progress=False)
    assert capsys.readouterr() == ("", "")


def test_progress_line_formats():
    import io

    from course_utils.progress import Progress

    out = io.StringIO()
    with Progress(45_000_000, "data.zip", unit="B", scale_bytes=True, out=out) as p:
        p.update(12_300_000)
    assert out.getvalue().splitlines()[-1] == "data.zip: 12.3 MB/45.0 MB [#####---------------] 27% | 0 s"
    out = io.StringIO()
    with Progress(None, "reading", unit="files", out=out) as p:
        p.update(3, last="a.png")
    assert out.getvalue().splitlines()[-1] == "reading: 3 files | last a.png | 0 s"
    out = io.StringIO()
    with Progress(10, "nothing", out=out):
        pass
    assert out.getvalue() == ""  # nothing ran: nothing said


def test_predict_default_batch_is_small_on_the_cpu_and_changes_outputs_by_rounding_at_most():
    from course_utils import inference
    from course_utils.unet import UNet

    calls = []
    model = UNet(1, 1, 4).eval()
    model.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    x = torch.rand(40, 1, 32, 32)
    out = predict(model, x, device="cpu")
    assert calls == [inference.CPU_BATCH, inference.CPU_BATCH, 40 - 2 * inference.CPU_BATCH]
    assert torch.allclose(out, predict(model, x, batch_size=64, device="cpu"), atol=1e-6)  # float rounding at most
    with pytest.raises(ValueError, match="batch_size must be"):
        predict(model, x, batch_size=0, device="cpu")
