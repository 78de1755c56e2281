"""Self-checks for the exercises: each runs the student's function against PyTorch itself and prints
clearly what is right or wrong (never a bare ``assert``): a ✅ line, a ❌ line with the first failing
cases and a hint, or ⏳ when the exercise is not done yet. Each mark comes with words ("correct", "wrong",
"not done yet"), so the verdict reads even where no emoji font is installed.

Each check also returns a :class:`CheckResult` (passed or not, and the message), which a notebook cell does not
display (the message is already printed) and which the grader (:mod:`course_utils.grade`) records.

One harness: every check is a body ``(fn, name)`` decorated with :func:`_check`; it calls the student's code
through :func:`_run` (or :func:`_case`, for one case of many), stops with :func:`_fail` and ends with
:func:`_report`; the verdict travels to the harness as :class:`_Stop`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .inference import count_parameters

__all__ = [
    "CheckResult",
    "check_output_size",
    "check_conv_transpose",
    "check_noise2noise_batches",
    "check_clutter_probability",
    "check_one_shot_batches",
    "check_synthetic_mixtures",
    "check_one_cycle_lr",
    "check_noise2noise_loss",
    "check_noisy_pair",
    "check_nes_round",
    "check_encoder_block",
    "check_bottleneck",
    "check_decoder_block",
    "check_noisy_crops",
    "check_he_bn_init",
    "check_udncnn",
    "check_dudncnn",
    "check_n_params",
    "check_rf_dncnn",
    "check_rf_dudncnn",
    "check_motion_kernel",
    "check_wiener",
    "check_patch_average",
    "check_simple_unet",
    "check_precision_recall",
    "check_error_map",
    "check_choose_threshold",
    "check_count_nuclei",
    "check_object_scores",
    "check_joint_transform",
    "check_unet",
    "check_psnr",
    "check_dncnn",
    "check_blur",
    "check_preprocess",
    "check_labels_and_confidence",
    "check_overlay_labels",
    "check_largest_class",
    "check_relu",
    "check_conv2d",
    "check_mse_loss",
    "check_adam",
    "check_n2v_mask",
    "check_masked_mse",
]


@dataclass(frozen=True)
class CheckResult:
    """What a self-check found.

    Attributes:
        check: the check's name, e.g. ``"check_psnr"``.
        passed: True (correct), False (wrong, or the student's code crashed) or None (not done yet: it raised
            ``NotImplementedError``).
        message: the lines the check printed, marks and words included.

    Truthy only when passed. A notebook cell that ends with a check shows the printed message only: the result
    has an empty rich display.
    """

    check: str
    passed: bool | None
    message: str

    @property
    def verdict(self) -> str:
        """``"correct"``, ``"wrong"`` or ``"not done"``."""
        return {True: "correct", False: "wrong", None: "not done"}[self.passed]

    def __bool__(self) -> bool:
        return self.passed is True

    def _ipython_display_(self) -> None:
        """Nothing: the check has printed its message already (a cell would otherwise show it twice)."""


class _Stop(Exception):
    """The verdict of a check (passed: True, False or None for 'not done'), raised to end the check there."""

    def __init__(self, passed: bool | None, message: str):
        super().__init__(message)
        self.passed, self.message = passed, message


def _report(name: str, failures: list[str], total: int, hint: str = ""):
    """End the check: correct when ``failures`` is empty, else wrong with the first three failures and a hint."""
    if not failures:
        raise _Stop(True, f"✅ {name}: correct" + (f" on all {total} test cases." if total > 1 else "."))
    lines = [f"❌ {name}: wrong" + (f" on {len(failures)} of {total} test cases. First ones:" if total > 1 else ":")]
    lines += ["   - " + f for f in failures[:3]]
    if hint:
        lines.append("   Hint: " + hint)
    raise _Stop(False, "\n".join(lines))


def _not_done(name: str):
    raise _Stop(
        None,
        f"⏳ {name}: not done yet. Replace the line `raise NotImplementedError(...)` with your code and run this cell "
        "again.",
    )


def _check(body):
    """Decorator: the check ``check(fn) -> CheckResult`` made from ``body(fn, name)``, which ends by raising
    :class:`_Stop` (through :func:`_report`, :func:`_fail` or :func:`_not_done`). The verdict is printed and
    returned; anything else the body raises means the student's code gave it something it cannot use, and is
    reported as wrong with the exception."""

    @functools.wraps(body)
    def check(fn) -> CheckResult:
        name = getattr(fn, "__name__", "your function")
        try:
            body(fn, name)
        except _Stop as verdict:
            result = CheckResult(body.__name__, verdict.passed, verdict.message)
        except Exception as e:  # what the student's code returned broke the check itself
            message = (
                f"❌ {name}: wrong:\n   - the check could not use what your code returned: "
                f"{type(e).__name__}: {e}\n   Hint: read the exercise's docstring for what to return (type and shape)."
            )
            result = CheckResult(body.__name__, False, message)
        else:
            raise AssertionError(f"{body.__name__} ended without a verdict")  # a bug in the check, not the student's
        print(result.message)
        return result

    check.__signature__ = inspect.Signature(
        [inspect.Parameter("fn", inspect.Parameter.POSITIONAL_OR_KEYWORD)], return_annotation=CheckResult
    )
    return check


def _run(name: str, fn, *args, _hint=None, **kwargs):
    """The student's function called once; 'not done yet' or its crash reported (and the check stopped), with the
    hint ``_hint(exception)`` when given (a check that knows the usual cause of a crash)."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        _not_done(name)
    except Exception as e:  # a student's bug: say what broke
        _report(name, [f"raised {type(e).__name__}: {e}"], 1, _hint(e) if _hint else "")


def _fail(name: str, problem: str, hint: str = ""):
    _report(name, [problem], 1, hint)


_BROKE = object()


def _case(name: str, fn, failures: list[str], label: str, *args, **kwargs):
    """The student's function on one test case of many: 'not done yet' stops the check; a crash is recorded in
    ``failures`` under ``label`` and returns ``_BROKE``, so that the other cases still run."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        _not_done(name)
    except Exception as e:  # a student's bug: say which call broke
        failures.append(f"{label} raised {type(e).__name__}: {e}")
        return _BROKE


def _quietly():
    """A context that keeps what the student's code shows (e.g. ``fit``'s progress line) out of the check's cell:
    IPython's capture inside a kernel (it also catches rich displays), else stdout redirected."""
    try:
        from IPython.utils.capture import capture_output
    except ImportError:  # no IPython: only plain printing can happen
        return contextlib.redirect_stdout(io.StringIO())
    return capture_output()


def _pair_from(name: str, fn, n: int, *args, **kwargs):
    """Call ``fn`` and insist on a pair (inputs, targets) of (n, 1, 64, 64) tensors."""
    got = _run(name, fn, *args, **kwargs)
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(torch.is_tensor(t) for t in got)):
        _fail(name, f"{name} must return a pair of tensors (inputs, targets), got {type(got).__name__}")
    if got[0].shape != (n, 1, 64, 64) or got[1].shape != (n, 1, 64, 64):
        _fail(name, f"shapes {tuple(got[0].shape)} and {tuple(got[1].shape)}, expected ({n}, 1, 64, 64) each")
    return got


def _torch_output_size(h_in, kernel_size, stride, padding, output_padding, dilation) -> int:
    x = torch.zeros(1, 1, h_in, 1)
    w = torch.zeros(1, 1, kernel_size, 1)
    return F.conv_transpose2d(
        x, w, stride=(stride, 1), padding=(padding, 0), output_padding=(output_padding, 0), dilation=(dilation, 1)
    ).shape[2]


@_check
def check_output_size(fn, name) -> None:
    """Check ``fn(h_in, kernel_size, stride=1, padding=0, output_padding=0, dilation=1) -> int``,
    the output height of ``nn.ConvTranspose2d``, against PyTorch on 700+ configurations."""
    failures, total = [], 0
    for h, k, s, p, d in itertools.product(range(1, 8), range(1, 6), range(1, 4), range(0, 3), (1, 2)):
        for op in range(0, max(s, d)):
            try:
                expected = _torch_output_size(h, k, s, p, op, d)
            except RuntimeError:
                continue  # PyTorch refuses configurations whose output would be empty
            total += 1
            args = dict(h_in=h, kernel_size=k, stride=s, padding=p, output_padding=op, dilation=d)
            got = _case(name, fn, failures, f"{name}({', '.join(f'{a}={v}' for a, v in args.items())})", **args)
            if got is _BROKE:
                continue
            if got != expected:
                failures.append(
                    f"{', '.join(f'{a}={v}' for a, v in args.items())}: PyTorch gives {expected}, you return {got!r}"
                )
    _report(
        name,
        failures,
        total,
        "each input pixel stamps a kernel of extent dilation*(kernel_size-1)+1, every `stride` pixels; "
        "padding removes pixels on both sides, output_padding adds them on one side.",
    )


@_check
def check_conv_transpose(fn, name) -> None:
    """Check ``fn(x, w, b, stride, padding=0)`` -> the transposed convolution of a 2-D image ``x`` (H, W)
    with a 2-D kernel ``w`` (k, k) and a scalar bias ``b``, against ``F.conv_transpose2d``."""
    gen = torch.Generator().manual_seed(1234)
    failures, total = [], 0
    for (h, w_), k, s, p in itertools.product(((1, 1), (2, 3), (4, 4)), (1, 2, 3), (1, 2, 3), (0, 1)):
        x = torch.randint(-3, 4, (h, w_), generator=gen).float()
        w = torch.randint(-2, 3, (k, k), generator=gen).float()
        b = float(torch.randint(-2, 3, (1,), generator=gen))
        try:
            expected = F.conv_transpose2d(x[None, None], w[None, None], torch.tensor([b]), stride=s, padding=p)[0, 0]
        except RuntimeError:
            continue  # empty output: not a valid configuration
        total += 1
        label = f"x of shape {tuple(x.shape)}, kernel {k}x{k}, stride={s}, padding={p}"
        got = _case(name, fn, failures, f"{label}:", x.clone(), w.clone(), b, s, p)
        if got is _BROKE:
            continue
        got = torch.as_tensor(got, dtype=torch.float32)
        if got.shape != expected.shape:
            failures.append(f"{label}: output shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
        elif not torch.allclose(got, expected, atol=1e-4):
            failures.append(f"{label}: values differ by up to {float((got - expected).abs().max()):.3g}")
    _report(
        name,
        failures,
        total,
        "start from a zero output of the full size (no padding), add x[i, j] * w at rows i*stride.. and "
        "columns j*stride.., add the bias everywhere, then crop `padding` pixels from each side.",
    )


@_check
def check_noise2noise_batches(fn, name) -> None:
    """Check ``fn(n) -> (inputs, targets)``: noise2noise training pairs, two independently cluttered
    copies of the same clean images, drawn with :func:`course_utils.gen_noise2noise`."""
    from .seeding import seed_everything
    from .synthetic import gen, gen_noise2noise

    seed_everything(7)
    got = _pair_from(name, fn, 8, 8)
    seed_everything(7)
    want = gen_noise2noise(8)
    seed_everything(7)
    supervised = gen(8)
    problems = [  # (found, problem, hint), the first one found is reported
        (
            torch.equal(got[1], supervised[1]),
            "the targets are the clean images: noise2noise never sees them",
            "the target is a second noisy copy: gen_noise2noise(n) gives both.",
        ),
        (
            not (torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])),
            "these are not the two noisy copies of gen_noise2noise(n)",
            "return gen_noise2noise(n) as it is: (first noisy copy, second noisy copy).",
        ),
    ]
    for found, problem, hint in problems:
        if found:
            _fail(name, problem, hint)
    _report(name, [], 1)


@_check
def check_clutter_probability(fn, name) -> None:
    """Check ``fn(noisy, clean) -> (H, W)`` tensor: per pixel, the fraction of images where it is cluttered."""
    g = torch.Generator().manual_seed(11)
    clean = torch.rand(50, 1, 8, 8, generator=g)
    clutter = torch.rand(50, 1, 8, 8, generator=g) * (torch.rand(50, 1, 8, 8, generator=g) < 0.3)
    expected = (clutter > 0).float().mean(dim=0)[0]
    got = torch.as_tensor(_run(name, fn, clean + clutter, clean), dtype=torch.float32).squeeze()
    if got.shape != expected.shape:
        _fail(
            name,
            f"output shape {tuple(got.shape)}, expected {tuple(expected.shape)} (one value per pixel)",
            "average over the images (dimension 0) and drop the channel dimension.",
        )
    if not torch.allclose(got, expected, atol=1e-6):
        _fail(
            name,
            f"values differ by up to {float((got - expected).abs().max()):.3g}",
            "a pixel is cluttered when noisy > clean; the mean of a boolean tensor (as float) is a fraction.",
        )
    _report(name, [], 1)


def _noise_mean(n: int = 2048) -> float:
    from .synthetic import gen2_NES

    return gen2_NES(n, generator=torch.Generator().manual_seed(3)).mean().item()


@_check
def check_one_shot_batches(fn, name) -> None:
    """Check ``fn(n) -> (inputs, targets)``: the one-shot NES recipe, inputs = a noisy image (gen1_NES)
    plus two noise samples (gen2_NES), targets = that noisy image. Checked by its statistics."""
    from .synthetic import gen1_NES

    n = 256
    x, y = _pair_from(name, fn, n, n)
    added, noise = (x - y).mean().item(), _noise_mean()
    mixture = gen1_NES(n, generator=torch.Generator().manual_seed(4)).mean().item()
    hint = "targets: gen1_NES(n); inputs: targets + gen2_NES(n) + gen2_NES(n)."
    if (x < y - 1e-6).any():
        _fail(name, "some inputs are below their targets: the input is the target plus (never negative) noise", hint)
    if abs(y.mean().item() - mixture) > 0.25 * mixture:
        _fail(name, f"the targets average {y.mean().item():.3f}, noisy images (gen1_NES) average {mixture:.3f}", hint)
    if abs(added - 2 * noise) > 0.3 * 2 * noise:
        _fail(name, f"input - target averages {added:.4f}; two noise samples (gen2_NES) average {2 * noise:.4f}", hint)
    _report(name, [], 1)


@_check
def check_synthetic_mixtures(fn, name) -> None:
    """Check ``fn(estimates, n, generator=None) -> (inputs, targets)``: targets drawn from the pool of
    estimates, inputs = targets + one fresh noise sample (gen2_NES)."""
    n = 256
    pool = torch.arange(1, 41, dtype=torch.float32).view(40, 1, 1, 1).expand(40, 1, 64, 64) / 100  # 40 flat images
    x, y = _pair_from(name, fn, n, pool.clone(), n, generator=torch.Generator().manual_seed(5))
    levels = y.flatten(1)
    from_pool = bool((levels == levels[:, :1]).all()) and bool(
        torch.isin((levels[:, 0] * 100).round(), torch.arange(1.0, 41.0)).all()
    )
    added, noise = (x - y).mean().item(), _noise_mean()
    hint = "pick n estimates at random (torch.randint), then add gen2_NES(n) to make the inputs."
    if not from_pool:
        _fail(name, "the targets are not images of the pool of estimates", hint)
    if len(torch.unique(levels[:, 0])) < 20:
        _fail(name, "the targets do not vary: draw them at random from the whole pool", hint)
    if (x < y - 1e-6).any() or abs(added - noise) > 0.3 * noise:
        _fail(name, f"input - target averages {added:.4f}; one noise sample (gen2_NES) averages {noise:.4f}", hint)
    _report(name, [], 1)


# ---------------------------------------------------------------- notebooks 06 and 07: schedule, loss, pairs, NES


@_check
def check_one_cycle_lr(fn, name) -> None:
    """Check ``fn(step, total_steps, peak) -> float``: the learning rate of training step ``step`` under PyTorch's
    ``OneCycleLR(optimizer, peak, total_steps=total_steps)``, stepped after every step (as ``fit`` does)."""
    failures, total = [], 0
    for steps, peak in ((10, 1e-3), (37, 3e-3), (240, 1e-2)):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, peak, total_steps=steps)
        wrong = 0
        for step in range(steps):
            want = optimizer.param_groups[0]["lr"]
            optimizer.step()
            schedule.step()
            total += 1
            got = _case(name, fn, failures, f"{name}({step}, {steps}, {peak:g})", step, steps, peak)
            if got is _BROKE:
                continue
            try:
                have = float(got)
            except (TypeError, ValueError):
                _fail(name, f"{name}({step}, {steps}, {peak:g}) returned {_shapes(got)}, not a number")
            if abs(have - want) > 1e-4 * peak:
                wrong += 1
                if wrong <= 2:  # the first two wrong steps of each schedule
                    failures.append(f"{name}({step}, {steps}, {peak:g}) = {have:.4g}, PyTorch uses {want:.4g}")
    _report(
        name,
        failures,
        total,
        "the warm-up runs from peak / 25 at step 0 to peak at step 0.3 * total_steps - 1 (a float), the decay from "
        "there to peak / 250000 at step total_steps - 1; in each phase t goes from 0 to 1 and the rate is "
        "end + (start - end) * (1 + cos(pi * t)) / 2.",
    )


@_check
def check_noise2noise_loss(fn, name) -> None:
    """Check ``fn(output, target) -> 0-d tensor``: the loss that noise2noise trains with on clutter. Its minimiser
    over a constant output must be the targets' median (the clean value), not their mean; it must be the mean
    absolute error (what ``F.l1_loss`` computes) and give gradients."""
    g = torch.Generator().manual_seed(21)
    clean = torch.rand(1, 1, 8, 8, generator=g).expand(400, 1, 8, 8)
    hit = torch.rand(400, 1, 8, 8, generator=g) < 0.3  # each pixel cluttered in 30 % of the copies
    target = clean + hit * 0.8 * torch.rand(400, 1, 8, 8, generator=g)  # clutter only adds brightness
    mean_clutter = (target - clean).mean().item()
    offsets = torch.linspace(-0.1, 0.3, 41)  # outputs clean + c: which c does the loss prefer?
    values = []
    for c in offsets:
        got = _run(name, fn, clean + c, target)
        if not torch.is_tensor(got) or got.numel() != 1:
            _fail(
                name,
                f"{name}(output, target) returned {_shapes(got)}; a loss is one number (a 0-d tensor)",
                "average over every pixel of the batch, as F.l1_loss and F.mse_loss do by default.",
            )
        values.append(got.reshape(()).item())
    best = offsets[int(torch.tensor(values).argmin())].item()
    if abs(best) > 0.006:
        like_mean = abs(best - mean_clutter) < 0.015
        _fail(
            name,
            f"your loss is smallest when the output is the clean value {best:+.2f}"
            + (
                f", the average clutter of the targets ({mean_clutter:+.3f}): it targets the conditional mean, as L2 "
                "does"
                if like_mean
                else ""
            ),
            "clutter only adds brightness, so the mean of a noisy copy lies above the clean image: a network trained "
            "to predict it paints a veil over every pixel. Each pixel here is cluttered in only 30 % of the copies, "
            "so the median of a noisy copy is the clean value: choose the loss whose minimiser is the median.",
        )
    output = (clean + 0.05).clone().requires_grad_(True)
    got = _run(name, fn, output, target)
    want = F.l1_loss(clean + 0.05, target).item()
    if abs(got.item() - want * target.numel()) < 1e-3 * want * target.numel():
        _fail(
            name,
            f"your loss is the sum of the absolute errors ({got.item():.4g}), not their mean ({want:.4g})",
            "take the mean (F.l1_loss's default): a sum grows with the batch size and the image size, and so would "
            "the size of every step.",
        )
    if abs(got.item() - want) > 1e-5 * max(1.0, want):
        _fail(
            name,
            f"your loss is smallest at the median, but its value is {got.item():.4g} where the mean absolute error is "
            f"{want:.4g}",
            "write the mean absolute error, the mean over every pixel of |output - target|.",
        )
    if not got.requires_grad:
        _fail(
            name,
            "no gradient flows from your loss back to the output: the network could not learn from it",
            "compute it with torch operations on output (no .item(), .detach() or NumPy).",
        )
    _report(name, [], 1)


@_check
def check_noisy_pair(fn, name) -> None:
    """Check ``fn(crops, sigma, noisy_targets, generator=None) -> (input, target)``: the input is the crops plus
    Gaussian noise of standard deviation sigma / 255; the target the crops themselves, or with ``noisy_targets``
    the crops plus an independent second draw of the noise; both drawn with ``generator``."""
    crops = torch.rand(64, 1, 32, 32, generator=torch.Generator().manual_seed(6))
    sigma, seed = 25, 9
    std = sigma / 255

    def pair(noisy_targets):
        got = _run(name, fn, crops.clone(), sigma, noisy_targets, generator=torch.Generator().manual_seed(seed))
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(torch.is_tensor(t) for t in got)):
            _fail(name, f"{name} must return a pair of tensors (input, target), got {_shapes(got)}")
        if got[0].shape != crops.shape or got[1].shape != crops.shape:
            _fail(name, f"for crops of shape {tuple(crops.shape)} you return {_shapes(got)}, the same shape twice")
        return got

    def noise_of(x, what):
        n = x - crops
        if abs(n.std().item() - std) > 0.05 * std or abs(n.mean().item()) > 0.1 * std:
            _fail(
                name,
                f"{what} - crops has mean {n.mean().item():+.4f} and standard deviation {n.std().item():.4f}; "
                f"Gaussian noise of sigma {sigma} has mean 0 and standard deviation {std:.4f}",
                "sigma is on the 0-255 scale and the crops in [0, 1]: natural.add_gaussian_noise(crops, sigma, "
                "generator=generator) does the conversion; do not clip.",
            )
        return n

    x, y = pair(False)
    noise_of(x, "the input")
    if not torch.equal(y, crops):
        _fail(name, "with noisy_targets=False the target is not the clean crops", "supervised training: return crops.")
    x, y = pair(True)
    if torch.equal(y, crops):
        _fail(name, "with noisy_targets=True the target is still the clean crops", "add a second draw of the noise.")
    a, b = noise_of(x, "the input").flatten(), noise_of(y, "the target").flatten()
    if torch.corrcoef(torch.stack([a, b]))[0, 1].abs() > 0.1:
        _fail(
            name,
            "the target carries the same noise as the input: the network would learn to copy its input",
            "draw the target's noise again: the two noises must be independent.",
        )
    again = pair(True)
    if not (torch.equal(again[0], x) and torch.equal(again[1], y)):
        _fail(
            name,
            "with the same generator you give different pairs: the noise does not come from generator",
            "pass generator=generator where the noise is drawn.",
        )
    from .natural import add_gaussian_noise

    g = torch.Generator().manual_seed(seed)  # the draws of pair(True), input first
    if torch.equal(x, add_gaussian_noise(crops, sigma, generator=g)) and torch.equal(
        y, add_gaussian_noise(crops, sigma, generator=g)
    ):
        _fail(
            name,
            "you draw the input's noise first and the target's second: the other way round from the stored run, "
            "so your training would see other noisy crops than the one the notebook describes",
            "draw the target's noise first, then the input's.",
        )
    _report(name, [], 1)


@_check
def check_nes_round(fn, name) -> None:
    """Check ``fn(model, mixtures, estimates, *, steps, batch_size, lr, make_batch, make_scheduler, generator=None,
    device=None) -> estimates``: a fresh Adam at ``lr`` with ``make_scheduler(optimizer, steps)``, ``steps`` batches
    of ``make_batch(estimates, batch_size, generator=generator)``, then the model on the mixtures, clipped at 0."""
    import torch.nn as nn

    from .inference import predict
    from .synthetic import gen1_NES

    torch.manual_seed(0)
    model = nn.Conv2d(1, 1, 3, padding=1)
    with torch.no_grad():
        model.bias.fill_(-0.3)  # some outputs negative: the new estimates must be clipped
    before = [p.detach().clone() for p in model.parameters()]
    g = torch.Generator().manual_seed(12)
    mixtures = gen1_NES(6, generator=g)
    estimates = 0.5 * mixtures
    batches, schedules = [], []

    def make_batch(est, n, generator=None):
        batches.append((est, n, generator))
        idx = torch.randint(len(est), (n,), generator=generator)
        return est[idx] + 0.1, est[idx]

    def make_scheduler(optimizer, n):
        schedules.append((optimizer, n))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)

    with _quietly():  # fit's progress line would print a loss and a time in the check's cell
        got = _run(
            name,
            fn,
            model,
            mixtures,
            estimates,
            steps=3,
            batch_size=4,
            lr=0.01,
            make_batch=make_batch,
            make_scheduler=make_scheduler,
            generator=g,
            device="cpu",
        )
    hint = (
        "a fresh torch.optim.Adam(model.parameters(), lr=lr); fit(model, lambda: make_batch(estimates, batch_size, "
        "generator=generator), F.l1_loss, optimizer, steps=steps, scheduler=make_scheduler(optimizer, steps), "
        "device=device); then the model's output on the mixtures, clamped at 0."
    )
    if len(batches) != 3:
        _fail(name, f"make_batch was called {len(batches)} times for steps=3: one batch per training step", hint)
    if any(est is mixtures or (est.shape == mixtures.shape and torch.equal(est, mixtures)) for est, _, _ in batches):
        _fail(
            name,
            "the synthetic mixtures were made from the real mixtures: NES makes them from the current estimates",
            "call make_batch(estimates, ...): the targets get cleaner round after round.",
        )
    if any(not torch.equal(est, estimates) for est, _, _ in batches):
        _fail(name, "make_batch was not given the estimates", hint)
    if any(n != 4 for _, n, _ in batches):
        _fail(name, f"make_batch was asked for {batches[0][1]} images, but batch_size=4", hint)
    if any(gen is not g for _, _, gen in batches):
        _fail(name, "make_batch was not given the generator", "pass generator=generator: the draws then repeat.")
    if len(schedules) != 1 or schedules[0][1] != 3:
        _fail(
            name,
            f"make_scheduler was called {len(schedules)} times"
            + (f" with {schedules[0][1]} steps" if schedules else "")
            + "; once, as make_scheduler(optimizer, steps), for the round's optimizer",
            hint,
        )
    optimizer = schedules[0][0]
    if not isinstance(optimizer, torch.optim.Adam) or optimizer.defaults["lr"] != 0.01:
        _fail(
            name,
            f"the round's optimizer is {type(optimizer).__name__} with lr={optimizer.defaults.get('lr')}; expected "
            "a fresh Adam at lr=0.01",
            hint,
        )
    if {id(p) for group in optimizer.param_groups for p in group["params"]} != {id(p) for p in model.parameters()}:
        _fail(name, "the round's optimizer does not hold the model's parameters", hint)
    if all(torch.equal(a, b) for a, b in zip(before, model.parameters())):
        _fail(name, "the model's weights did not change: the round did not train it", hint)
    if not torch.is_tensor(got) or got.shape != mixtures.shape:
        _fail(name, f"you return {_shapes(got)}: the new estimates, one per mixture, {tuple(mixtures.shape)}", hint)
    raw = predict(model, mixtures, device="cpu")
    if torch.allclose(got, predict(model, estimates, device="cpu").clamp_min(0), atol=1e-5):
        _fail(
            name,
            "the new estimates are the model applied to the old estimates",
            "re-estimate from the real mixtures: model(mixtures), as at test time.",
        )
    if torch.allclose(got, raw, atol=1e-5) and (raw < 0).any():
        _fail(name, "some new estimates are negative", "clip them at 0 (.clamp_min(0)): cells are never negative.")
    if not torch.allclose(got, raw.clamp_min(0), atol=1e-5):
        _fail(name, "the new estimates are not the trained model's output on the mixtures, clipped at 0", hint)
    _report(name, [], 1)


# ---------------------------------------------------------------- notebook 02: the simple U-Net's blocks


def _shapes(got) -> str:
    if torch.is_tensor(got):
        return str(tuple(got.shape))
    if isinstance(got, (tuple, list)):
        return "(" + ", ".join(_shapes(g) for g in got) + ")"
    return type(got).__name__


def _same_params(
    name: str,
    mine,
    reference,
    what: str,
    hint: str = "",
    problem: str | None = None,
) -> None:
    """Stop with a failure when ``mine`` and ``reference`` differ in their number of parameters."""
    if count_parameters(mine) != count_parameters(reference):
        _fail(
            name,
            problem or f"{count_parameters(mine):,} parameters, the lab's {what} has {count_parameters(reference):,}",
            hint,
        )


_CONVS_HINT = "two conv3x3 (with bias), each followed by ReLU and BatchNorm2d; nothing else has weights."


def _check_module(name, cls, reference, args, inputs, want, hint, params_hint=_CONVS_HINT):
    """A check of a student's module: ``cls(*args)`` on ``inputs`` (x, and a skip when there are two) must give
    outputs of the shape(s) ``want`` and have as many parameters as the lab's ``reference(*args)``."""
    module = _run(name, cls, *args)
    got = _run(name, module, *inputs)
    if isinstance(want[0], tuple) and not (isinstance(got, (tuple, list)) and len(got) == len(want)):
        _fail(
            name,
            f"forward returned {_shapes(got)}; it must return a pair (features, pooled)",
            "features feed the skip connection, pooled goes down to the next level.",
        )
    shapes = [_shapes(x) for x in inputs]
    given = f"x of shape {shapes[0]}" if len(inputs) == 1 else f"x {shapes[0]} and skip {shapes[1]}"
    if _shapes(got) != str(want):
        _fail(name, f"for {given} you return {_shapes(got)}, expected {want}", hint)
    what = f"{reference.__name__}({', '.join(map(str, args))})"
    _same_params(name, module, reference(*args), what, params_hint)
    _report(name, [], 1)


@_check
def check_encoder_block(cls, name) -> None:
    """Check ``cls(in_ch, out_ch)``: forward(x) -> (features (N, out_ch, H, W), pooled (N, out_ch, H/2, W/2))."""
    from .simple_unet import EncoderBlock

    hint = "conv3x3 with padding=1 keeps H and W; MaxPool2d(2) halves them."
    _check_module(name, cls, EncoderBlock, (3, 8), [torch.randn(2, 3, 16, 12)], ((2, 8, 16, 12), (2, 8, 8, 6)), hint)


@_check
def check_bottleneck(cls, name) -> None:
    """Check ``cls(in_ch)``: forward(x) (N, C, H, W) -> (N, 2C, H, W)."""
    from .simple_unet import Bottleneck

    hint = "the bottleneck doubles the channels and keeps H and W."
    _check_module(name, cls, Bottleneck, (8,), [torch.randn(2, 8, 6, 4)], (2, 16, 6, 4), hint)


@_check
def check_decoder_block(cls, name) -> None:
    """Check ``cls(in_ch)``: forward(x (N, C, H, W), skip (N, C/2, 2H, 2W)) -> (N, C/2, 2H, 2W)."""
    from .simple_unet import DecoderBlock

    hint = (
        "ConvTranspose2d(C, C//2, kernel_size=2, stride=2) doubles H and W and halves C; concatenating the "
        "skip on dim=1 gives C channels again; the double conv brings them to C//2."
    )
    params = (
        "ConvTranspose2d(C, C//2, 2, stride=2), then two conv3x3 (C -> C//2 -> C//2), each with ReLU and BatchNorm2d."
    )
    inputs = [torch.randn(2, 16, 4, 3), torch.randn(2, 8, 8, 6)]
    _check_module(name, cls, DecoderBlock, (16,), inputs, (2, 8, 8, 6), hint, params)


@_check
def check_simple_unet(cls, name) -> None:
    """Check ``cls(F)``: (N, 1, H, W) -> (N, 1, H, W) logits, with the lab's parameter count."""
    from .simple_unet import SimpleUNet

    hint = "one logit per pixel: end with a 1x1 conv from F channels to 1."
    params = "enc1: 1 -> F, enc2: F -> 2F, bottleneck: 2F -> 4F, dec2: 4F -> 2F, dec1: 2F -> F, then conv1x1 F -> 1."
    _check_module(name, cls, SimpleUNet, (4,), [torch.randn(2, 1, 32, 48)], (2, 1, 32, 48), hint, params)


# ---------------------------------------------------------------- notebook 03: precision and recall


@_check
def check_precision_recall(fn, name) -> None:
    """Check ``fn(pred, target) -> (precision, recall)`` for boolean (N, 1, H, W) maps, counts pooled
    over the batch, against :mod:`course_utils.metrics`."""
    from .metrics import precision, recall

    g = torch.Generator().manual_seed(3)
    cases = [
        ("random maps", torch.rand(4, 1, 8, 8, generator=g) < 0.3, torch.rand(4, 1, 8, 8, generator=g) < 0.4),
        ("a perfect prediction", *(2 * [torch.rand(2, 1, 8, 8, generator=g) < 0.5])),
    ]
    failures = []
    for label, pred, target in cases:
        got = _run(name, fn, pred.clone(), target.clone())
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            _fail(name, f"return a pair (precision, recall), got {type(got).__name__}")
        want = (precision(pred, target).item(), recall(pred, target).item())
        have = tuple(float(v) for v in got)
        if any(abs(a - b) > 1e-6 for a, b in zip(have, want)):
            failures.append(
                f"{label}: you return ({have[0]:.4f}, {have[1]:.4f}), expected ({want[0]:.4f}, {want[1]:.4f})"
            )
    empty = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    got = _run(name, fn, empty, torch.ones(1, 1, 8, 8, dtype=torch.bool))
    if any(v != v for v in map(float, got)):  # NaN
        failures.append(
            "nothing predicted: precision is NaN (0/0); return a number (the course uses 1.0: "
            "no false positive was made)"
        )
    _report(
        name,
        failures,
        len(cases) + 1,
        "TP = (pred & target).sum(), FP = (pred & ~target).sum(), FN = (~pred & target).sum(); "
        "precision = TP/(TP+FP), recall = TP/(TP+FN), each summed over the whole batch.",
    )


def _as_numpy(got):
    """What a student returned (tensor, array, list, number) as a float NumPy array, or None when it is none."""
    import numpy as np

    try:
        if torch.is_tensor(got):
            return got.detach().cpu().double().numpy()
        return np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None


@_check
def check_error_map(fn, name) -> None:
    """Check ``fn(pred, target) -> (H, W, 3)`` RGB picture in [0, 1] of a boolean prediction against a boolean
    mask, both (H, W): the colours of :data:`course_utils.plotting.ERROR_COLOURS`, one per case (correct
    foreground, missed, wrongly added, correct background), against :func:`course_utils.plotting.error_map`."""
    import numpy as np

    from .plotting import ERROR_COLOURS, error_map

    g = torch.Generator().manual_seed(21)
    cases = [
        (
            "the four cases, one pixel each",
            torch.tensor([[1, 1], [0, 0]]).bool(),
            torch.tensor([[1, 0], [1, 0]]).bool(),
        ),
        ("random 16x12 maps", torch.rand(16, 12, generator=g) < 0.4, torch.rand(16, 12, generator=g) < 0.5),
        ("nothing predicted", torch.zeros(6, 6, dtype=torch.bool), torch.rand(6, 6, generator=g) < 0.5),
    ]
    names = list(ERROR_COLOURS)  # correct foreground, missed, wrongly added, correct background
    failures = []
    for label, pred, target in cases:
        got = _case(name, fn, failures, f"{label}:", pred.clone(), target.clone())
        if got is _BROKE:
            continue
        have, want = _as_numpy(got), error_map(pred, target)
        if have is None or have.shape != want.shape:
            shape = "something that is not an array" if have is None else f"shape {have.shape}"
            hint = (
                " (channels first: put the colour last, as plt.imshow wants)"
                if have is not None and have.shape == (3, *pred.shape)
                else ""
            )
            failures.append(f"{label}: you return {shape}, expected {want.shape}{hint}")
            continue
        cases_masks = (pred & target, ~pred & target, pred & ~target, ~pred & ~target)
        problems = []
        for case, where in zip(names, cases_masks):
            where = where.numpy()
            wrong = where & ~np.isclose(have, want).all(axis=-1)
            if wrong.any():
                r, c = np.argwhere(wrong)[0]
                colour = tuple(round(float(v), 2) for v in have[r, c])
                painted = [k for k, v in ERROR_COLOURS.items() if np.allclose(v, have[r, c])]
                what = f" (the colour of '{painted[0]}')" if painted else ""
                problems.append(
                    f"{int(wrong.sum())} '{case}' pixel(s) have the wrong colour, e.g. ({r}, {c}) is "
                    f"{colour}{what}, expected {ERROR_COLOURS[case]}"
                )
        if problems:
            failures.append(f"{label}: " + "; ".join(problems))
    _report(
        name,
        failures,
        len(cases),
        "missed = target & ~pred (a nucleus pixel the model did not find), wrongly added = pred & ~target; "
        "start from zeros of shape (H, W, 3) and paint each of the four boolean maps with its colour from "
        "ERROR_COLOURS.",
    )


@_check
def check_choose_threshold(fn, name) -> None:
    """Check ``fn(logits, masks, thresholds) -> (threshold, ious)``: the threshold of ``thresholds`` whose
    mask ``logits > threshold`` has the highest pooled IoU, and the IoU of every threshold, against
    :func:`course_utils.segmentation.choose_threshold`."""
    import numpy as np

    from .segmentation import choose_threshold

    g = torch.Generator().manual_seed(8)
    masks = (torch.rand(4, 1, 16, 16, generator=g) < 0.3).float()
    logits = 3 * (2 * masks - 1) + 1.5 + 1.5 * torch.randn(masks.shape, generator=g)  # calibrated too high
    grid = np.linspace(-3, 4, 15)  # not the notebook's grid: use the thresholds you are given
    want_t, want_ious = choose_threshold(logits, masks, grid)
    got = _run(name, fn, logits.clone(), masks.clone(), grid.copy())
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        _fail(name, f"return a pair (threshold, ious), got {_shapes(got)}")
    t, ious = got
    ious = _as_numpy(ious)
    if ious is None or ious.shape != want_ious.shape:
        _fail(
            name,
            f"the IoUs have shape {None if ious is None else ious.shape}, expected {want_ious.shape}: "
            "one per threshold",
            "for each t in thresholds: cu.iou(logits > t, masks).item(), in the order of thresholds.",
        )
    if not np.allclose(ious, want_ious, atol=1e-6):
        i = int(np.abs(ious - want_ious).argmax())
        _fail(
            name,
            f"at threshold {grid[i]:+.2f} your IoU is {ious[i]:.4f}, expected {want_ious[i]:.4f}",
            "the IoU of the mask logits > t against the masks, pooled over all the images (cu.iou).",
        )
    try:
        t = float(t)
    except (TypeError, ValueError):
        _fail(name, f"the threshold must be a number, got {_shapes(t)}")
    if abs(t - want_t) > 1e-9:
        if abs(t - int(want_ious.argmax())) < 1e-9:
            hint = "you return the index of the best threshold: return the threshold itself, thresholds[index]."
        elif abs(t - float(grid[want_ious.argmin()])) < 1e-9:
            hint = "that is the threshold of the lowest IoU: take the argmax."
        else:
            hint = "take the threshold whose IoU is the highest: thresholds[np.argmax(ious)]."
        _fail(name, f"you choose {t:+.3f}; the highest IoU ({want_ious.max():.4f}) is at {want_t:+.3f}", hint)
    _report(name, [], 1)


def _count_cases():
    """(label, (H, W) boolean mask, the number of 4-connected components) for check_count_nuclei."""
    from scipy import ndimage

    m = torch.zeros

    def blank(h=10, w=12):
        return m(h, w, dtype=torch.bool)

    one, two, touching, corner, ring = blank(), blank(), blank(), blank(), blank()
    one[2:5, 3:7] = True
    two[1:4, 1:4] = two[6:9, 6:10] = True
    touching[2:6, 1:5] = touching[3:7, 5:9] = True  # two squares sharing an edge: one component
    corner[2:4, 2:4] = corner[4:6, 4:6] = True  # touching at one corner only: two components (4-connectivity)
    ring[1:8, 1:8] = True
    ring[3:6, 3:6] = False  # one nucleus with a hole (a nucleolus): still one
    g = torch.Generator().manual_seed(4)
    rand = torch.rand(24, 24, generator=g) < 0.35
    return [
        ("an empty mask", blank(), 0),
        ("one nucleus", one, 1),
        ("two separate nuclei", two, 2),
        ("two nuclei touching along an edge", touching, 1),
        ("two nuclei touching at one corner only", corner, 2),
        ("a nucleus with a hole", ring, 1),
        ("a random mask", rand, int(ndimage.label(rand.numpy())[1])),
    ]


@_check
def check_count_nuclei(fn, name) -> None:
    """Check ``fn(mask) -> int``: the number of connected components (4-connectivity: pixels joined through
    an edge, ``scipy.ndimage.label``'s default) of a boolean (H, W) mask."""
    from scipy import ndimage

    failures, cases = [], _count_cases()
    hints = []
    for label, mask, want in cases:
        got = _case(name, fn, failures, f"{label}:", mask.clone())
        if got is _BROKE:
            continue
        if isinstance(got, (tuple, list)) or (torch.is_tensor(got) and got.numel() != 1):
            failures.append(f"{label}: you return {_shapes(got)}, expected one number")
            hints.append("scipy.ndimage.label(mask) returns (labels, count): return the count only.")
            continue
        try:
            have = int(got)
        except (TypeError, ValueError):
            failures.append(f"{label}: you return {_shapes(got)}, expected a whole number")
            continue
        if have != want:
            failures.append(f"{label}: you count {have}, expected {want}")
            eight = int(ndimage.label(mask.numpy(), structure=[[1, 1, 1]] * 3)[1])
            if have == int(mask.sum()) and want != have:
                hints.append("you count foreground pixels: count groups of connected pixels (scipy.ndimage.label).")
            elif have == want + 1:
                hints.append("the background (label 0) is not a nucleus: the count is the largest label.")
            elif have == eight:
                hints.append(
                    "pixels that touch at a corner only are two objects here: use 4-connectivity, "
                    "scipy.ndimage.label's default structure (no structure argument)."
                )
    _report(
        name, failures, len(cases), hints[0] if hints else "labels, count = scipy.ndimage.label(mask); return count."
    )


@_check
def check_object_scores(fn, name) -> None:
    """Check ``fn(matched, predicted, true) -> (precision, recall, f1)``: object scores from the counts of
    matched pairs, predicted objects and true objects, against :func:`course_utils.metrics.precision_recall_f1`."""
    from .metrics import precision_recall_f1

    cases = [
        ("8 matches, 10 predicted, 16 true", 8, 10, 16),
        ("a perfect count", 5, 5, 5),
        ("merges: 30 predicted for 50 true, 25 matched", 25, 30, 50),
        ("nothing predicted, 4 true nuclei", 0, 0, 4),
        ("an empty image, nothing predicted", 0, 0, 0),
    ]
    failures, hints = [], []
    for label, m, p, t in cases:
        got = _case(name, fn, failures, f"{label}:", m, p, t)
        if got is _BROKE:
            continue
        if not (isinstance(got, (tuple, list)) and len(got) == 3):
            failures.append(f"{label}: return three numbers (precision, recall, f1), got {_shapes(got)}")
            continue
        try:
            have = tuple(float(v) for v in got)
        except (TypeError, ValueError):
            failures.append(f"{label}: return three numbers (precision, recall, f1), got {_shapes(got)}")
            continue
        want = precision_recall_f1(m, p, t)
        if any(v != v for v in have):
            failures.append(f"{label}: you return {have}: NaN is 0/0; return 1.0 where there is nothing to divide by")
            continue
        if any(abs(a - b) > 1e-6 for a, b in zip(have, want)):
            failures.append(
                f"{label}: you return ({have[0]:.4f}, {have[1]:.4f}, {have[2]:.4f}), "
                f"expected ({want[0]:.4f}, {want[1]:.4f}, {want[2]:.4f})"
            )
            if abs(have[0] - want[1]) < 1e-6 and abs(have[1] - want[0]) < 1e-6 and want[0] != want[1]:
                hints.append("precision and recall are swapped: precision divides by the predicted objects.")
            elif abs(have[2] - (want[0] + want[1]) / 2) < 1e-6 and want[0] != want[1]:
                hints.append("F1 is the harmonic mean 2PR / (P + R) = 2 matched / (predicted + true), not (P + R) / 2.")
    _report(
        name,
        failures,
        len(cases),
        hints[0]
        if hints
        else "precision = matched / predicted, recall = matched / true, f1 = 2 matched / (predicted + true); "
        "1.0 when a denominator is 0.",
    )


# ---------------------------------------------------------------- notebook 04: joint transforms


@_check
def check_joint_transform(fn, name) -> None:
    """Check ``fn(image, mask) -> (image, mask)`` on (1, H, W) tensors: random geometric transforms
    applied identically to both, the mask kept binary."""
    mask = torch.zeros(1, 48, 48)
    mask[:, 6:20, 10:40] = 1
    mask[:, 28:44, 5:15] = 1
    torch.manual_seed(0)
    outputs = []
    for _ in range(12):
        got = _run(name, fn, mask.clone(), mask.clone())
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(torch.is_tensor(t) for t in got)):
            _fail(name, f"return a pair of tensors (image, mask), got {type(got).__name__}")
        image, m = (t.as_subclass(torch.Tensor) for t in got)
        if image.shape != mask.shape or m.shape != mask.shape:
            _fail(
                name,
                f"shapes {tuple(image.shape)} and {tuple(m.shape)}, expected {tuple(mask.shape)} each",
                "v2 transforms keep the size of (1, H, W) tensors; do not add or drop dimensions.",
            )
        if not set(torch.unique(m).tolist()) <= {0.0, 1.0}:
            _fail(
                name,
                "the mask is no longer binary: it was interpolated like an image",
                "wrap it as tv_tensors.Mask(mask): v2 then resamples it with nearest-neighbour interpolation.",
            )
        if ((image > 0.5) == (m > 0.5)).float().mean() < 0.97:
            _fail(
                name,
                "the image and the mask were transformed differently",
                "call the transform once with both: transform(tv_tensors.Image(image), tv_tensors.Mask(mask)).",
            )
        outputs.append(m)
    if all(torch.equal(o, mask) for o in outputs) or all(torch.equal(o, outputs[0]) for o in outputs):
        hint = "use the Random... transforms of torchvision.transforms.v2."
        _fail(name, "every call returns the same mask: the transform is not random", hint)
    _report(name, [], 1)


# ---------------------------------------------------------------- notebook 04: the full U-Net


def _two_input_calls(net, x):
    """Run ``net(x)`` and record, in order, the shapes given to every submodule called with two tensors (the
    decoder blocks: x from below and the skip). Returns (output or the exception raised, [(x, skip) shapes])."""
    calls, handles = [], []

    def hook(module, args):
        if len(args) == 2 and all(torch.is_tensor(a) for a in args):
            calls.append((tuple(args[0].shape), tuple(args[1].shape)))

    for m in net.modules():
        if m is not net:
            handles.append(m.register_forward_pre_hook(hook))
    try:
        out = net(x)
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001 - reported with the wiring seen so far
        out = e
    finally:
        for h in handles:
            h.remove()
    return out, calls


def _block_counts(net) -> dict[str, int]:
    return {n: count_parameters(m) for n, m in net.named_children()}


@_check
def check_unet(cls, name) -> None:
    """Check ``cls(n_channels, n_classes, size, depth=4)``: the full U-Net assembled from the blocks of
    :mod:`course_utils.unet`, compared with :class:`course_utils.unet.UNet`: parameters (block by block), the
    shapes each decoder block receives (the skip wiring), the output shape for any input size, and, with the
    course's weights copied in, the same output."""
    from .unet import UNet

    net = _run(name, cls, 1, 1, 4)
    ref = UNet(1, 1, 4)
    if count_parameters(net) != count_parameters(ref):
        mine, theirs = _block_counts(net), _block_counts(ref)
        detail = ", ".join(f"{k} {v:,}" for k, v in mine.items())
        course = ", ".join(f"{k} {v:,}" for k, v in theirs.items())
        _fail(
            name,
            f"{name}(1, 1, 4) has {count_parameters(net):,} parameters, UNet(1, 1, 4) has {count_parameters(ref):,} "
            f"(yours by block: {detail}; the course's: {course})",
            "inc = DoubleConv(n_channels, size); level i of the encoder has width size * 2**i, and the last Down keeps "
            "the width of the level above it (the bottleneck does not double); each Up(in_ch, out_ch) gets the "
            "width of the level below and gives that of its own level; outc = OutConv(size, n_classes). Keep the "
            "blocks in nn.ModuleList: the parameters of a plain Python list are not the network's.",
        )
    x = torch.rand(2, 1, 64, 48, generator=torch.Generator().manual_seed(0))
    net.eval(), ref.eval()
    with torch.no_grad():
        want, want_calls = _two_input_calls(ref, x)
        got, calls = _run(name, _two_input_calls, net, x)
    wiring = "; ".join(f"x {a} with skip {b}" for a, b in want_calls)
    if isinstance(got, Exception) or calls != want_calls:
        seen = "; ".join(f"x {a} with skip {b}" for a, b in calls) or "no call with a skip"
        problem = (
            f"the forward pass raised {type(got).__name__}: {str(got).rstrip('.')}"
            if isinstance(got, Exception)
            else "wrong wiring"
        )
        _fail(
            name,
            f"{problem}. For x of shape {tuple(x.shape)} the decoder blocks received, in order: {seen}. "
            f"Expected: {wiring}",
            "keep the output of inc and of every Down in a list; the last one (the bottleneck) goes up; each Up "
            "takes what comes from below and the skip of its own size, the most recent first: skips.pop().",
        )
    if not torch.is_tensor(got) or got.shape != want.shape:
        _fail(name, f"for x of shape {tuple(x.shape)} you return {_shapes(got)}, expected {tuple(want.shape)}")
    mine, theirs = net.state_dict(), ref.state_dict()
    if list(mine) == list(theirs):
        net.load_state_dict(theirs)
    elif [v.shape for v in mine.values()] == [v.shape for v in theirs.values()]:
        net.load_state_dict(dict(zip(mine, theirs.values())))
    else:
        mine = None  # blocks registered in another order: the shapes above are all that can be compared
    if mine is not None:
        with torch.no_grad():
            got = net(x)
        if not torch.allclose(got, want, atol=1e-5):
            hint = (
                "return the logits: no sigmoid at the end (the loss, BCEWithLogitsLoss, applies it)."
                if torch.allclose(got, torch.sigmoid(want), atol=1e-5)
                else "with the course's weights your output differs: end with outc, and check that each Up gets "
                "(what comes from below, the skip of its size) in that order."
            )
            _fail(name, "the shapes are right, but with the same weights your output differs from UNet's", hint)
    odd = torch.rand(1, 1, 50, 37, generator=torch.Generator().manual_seed(1))
    out = _run(name, net, odd)
    if not torch.is_tensor(out) or out.shape != (1, 1, 50, 37):
        _fail(
            name,
            f"for an image of 50x37 pixels you return {_shapes(out)}, expected (1, 1, 50, 37)",
            "keep the two given lines: pad_to_multiple(x, 2 ** depth) first, crop(...) of the output last.",
        )
    shallow = _run(name, cls, 1, 2, 4, depth=2)
    if count_parameters(shallow) != count_parameters(UNet(1, 2, 4, depth=2)):
        _fail(
            name,
            f"{name}(1, 2, 4, depth=2) has {count_parameters(shallow):,} parameters, UNet(1, 2, 4, depth=2) has "
            f"{count_parameters(UNet(1, 2, 4, depth=2)):,}",
            "build depth levels (loops over range(depth)), not always four, and n_classes output maps.",
        )
    out = _run(name, shallow, x)
    if not torch.is_tensor(out) or out.shape != (2, 2, 64, 48):
        _fail(
            name, f"with depth=2 and 2 classes you return {_shapes(out)} for {tuple(x.shape)}, expected (2, 2, 64, 48)"
        )
    _report(name, [], 1)


# ---------------------------------------------------------------- notebook 05: PSNR and DnCNN


@_check
def check_psnr(fn, name) -> None:
    """Check ``fn(x, y, data_range)`` -> the mean of the per-image PSNRs (dB) of two (N, C, H, W) batches."""
    from .metrics import psnr

    g = torch.Generator().manual_seed(5)
    y = torch.rand(3, 3, 16, 16, generator=g)
    cases = [
        ("noise of std 0.1, data_range 1", y + 0.1 * torch.randn(y.shape, generator=g), y, 1.0),
        (
            "one image per noise level",
            y + torch.tensor([0.02, 0.1, 0.3])[:, None, None, None] * torch.randn(y.shape, generator=g),
            y,
            1.0,
        ),
        ("the same images on the 0-255 scale", 255 * y + 25 * torch.randn(y.shape, generator=g), 255 * y, 255.0),
    ]
    failures = []
    for label, x, t, r in cases:
        got = _run(name, fn, x.clone(), t.clone(), r)
        want = psnr(x, t, data_range=r).item()
        try:
            have = float(got)
        except (TypeError, ValueError):
            _fail(name, f"return a number (a float or a 0-d tensor), got {_shapes(got)}")
        if abs(have - want) > 1e-3:
            failures.append(f"{label}: you return {have:.3f} dB, expected {want:.3f} dB")
    _report(
        name,
        failures,
        len(cases),
        "per image: MSE over its C*H*W values, then 10*log10(data_range**2 / MSE); then the mean over images "
        "(not the PSNR of the mean MSE).",
    )


@_check
def check_dncnn(cls, name) -> None:
    """Check ``cls(D, C, channels)``: DnCNN's layers in order (conv+ReLU, D x conv+BN+ReLU, conv), the
    residual output x - f(x), shapes kept; compared with :class:`course_utils.dncnn.DnCNN` carrying the
    same weights."""
    import torch.nn as nn

    from .dncnn import DnCNN

    net = _run(name, cls, 3, 16, 3)
    ref_plain = DnCNN(3, 16, 3)
    _same_params(
        name,
        net,
        ref_plain,
        "DnCNN(3, 16, 3)",
        problem=f"{name}(D=3, C=16, channels=3) has {count_parameters(net):,} parameters, DnCNN has "
        f"{count_parameters(ref_plain):,}",
        hint="D + 2 conv3x3 with bias (channels -> C, D x C -> C, C -> channels) "
        "and D BatchNorm2d(C); nothing else has weights.",
    )
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    ref = DnCNN(3, 16, 3, bn_eps=bns[0].eps if bns else None)
    conv_ref = [m for m in ref.modules() if isinstance(m, nn.Conv2d)]
    conv_mine = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if len(conv_mine) != len(conv_ref) or len(bns) != len(ref.bn):
        _fail(
            name,
            f"{len(conv_mine)} Conv2d and {len(bns)} BatchNorm2d for D=3; expected {len(conv_ref)} and {len(ref.bn)}",
        )
    with torch.no_grad():
        for a, b in zip(conv_mine, conv_ref):
            if a.weight.shape != b.weight.shape or a.padding != (1, 1):
                _fail(
                    name,
                    f"a convolution has weights {tuple(a.weight.shape)} and padding {a.padding}; in order "
                    f"they should be {[tuple(c.weight.shape) for c in conv_ref]}, padding 1",
                    "padding=1 keeps the image size.",
                )
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)
        for a, b in zip(bns, ref.bn):
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)
    x = torch.rand(2, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    net.train(), ref.train()
    got = _run(name, net, x.clone())
    if not torch.is_tensor(got) or got.shape != x.shape:
        _fail(name, f"for x of shape {tuple(x.shape)} you return {_shapes(got)}, expected the same shape")
    want = ref(x)
    if not torch.allclose(got, want, atol=1e-4):
        noise_estimate = x - want
        hint = (
            "return x - (the last convolution's output): the network estimates the noise, which is removed."
            if torch.allclose(got, noise_estimate, atol=1e-4) or torch.allclose(got, x + noise_estimate, atol=1e-4)
            else "conv => ReLU first, then D times conv => BatchNorm => ReLU, then a conv without ReLU; "
            "subtract its output from x."
        )
        _fail(name, "with the same weights your output differs from DnCNN's", hint)
    _report(name, [], 1)


# ---------------------------------------------------------------- notebook 05: the noisy crops


def _seeded(body):
    """A check body run on its own random stream, seeded: its verdict does not depend on what ran before it, and
    the notebook's random stream is left as it was (the student's code may draw from torch's global generator)."""

    @functools.wraps(body)
    def seeded(fn, name):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            body(fn, name)

    return seeded


def _position_images() -> list[torch.Tensor]:
    """Three colour images (3, H, W) whose pixels say where they are: channel 0 = row / 100, channel 1 =
    column / 100, channel 2 = 0.2 + 0.3 x the image's number (values in [0, 1]), so a crop tells where it came from."""
    out = []
    for k, (h, w) in enumerate(((40, 52), (57, 44), (36, 39))):
        rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w) / 100
        cols = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w) / 100
        out.append(torch.stack([rows, cols, torch.full((h, w), 0.2 + 0.3 * k)]))
    return out


def _where(clean: torch.Tensor, images: list[torch.Tensor]):
    """(image number, top, left, flipped) of a crop of one of ``images``, or None if it is no crop of them."""
    size = clean.shape[-1]
    k = int(round((float(clean[2, 0, 0]) - 0.2) / 0.3))
    if not 0 <= k < len(images):
        return None
    top = int(round(float(clean[0, 0, 0]) * 100))
    for flipped, col in ((False, clean[1, 0, 0]), (True, clean[1, 0, -1])):
        left = int(round(float(col) * 100))
        window = images[k][:, top : top + size, left : left + size]
        if window.shape == clean.shape and torch.allclose(window.flip(-1) if flipped else window, clean, atol=1e-6):
            return k, top, left, flipped
    return None


@_check
@_seeded
def check_noisy_crops(cls, name) -> None:
    """Check ``cls(images, size, sigma, length)``: a Dataset of ``length`` (noisy, clean) pairs, each a fresh
    random (C, size, size) crop of a random image (a left-right flip allowed) and that crop plus fresh Gaussian
    noise of standard deviation sigma / 255, unclipped; as :class:`course_utils.natural.NoisyCrops` in training."""
    images, size, sigma, length = _position_images(), 16, 50.0, 37
    data = _run(name, cls, [im.clone() for im in images], size, sigma, length=length)
    n = _run(name, len, data)
    if n != length:
        problem = f"your __len__ returns {n!r}, but a data set built with length={length} has {length} items"
        if n == len(images):
            problem += f" ({n} is the number of images: an epoch is `length` random crops of them, not one per image)"
        _fail(name, problem, "return the length given to the constructor (self.length).")
    pairs, where = [], []
    for i in list(range(length)) + [0] * 6:  # item 0 asked for again: a fresh crop and fresh noise each time
        got = _run(name, data.__getitem__, i)
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(torch.is_tensor(t) for t in got)):
            _fail(name, f"item {i} is {_shapes(got)}; return a pair of tensors (noisy, clean)")
        noisy, clean = (t.detach().float() for t in got)
        if noisy.shape != (3, size, size) or clean.shape != (3, size, size):
            _fail(
                name,
                f"item {i} has shapes {_shapes(got)}; expected ({3}, {size}, {size}) each: (channels, size, size)",
                "crop image[:, top:top + size, left:left + size]; the images are (C, H, W) tensors already.",
            )
        if clean.min() < 0 or clean.max() > 1:
            _fail(
                name,
                f"the clean crop of item {i} has values in [{clean.min():.2f}, {clean.max():.2f}], outside the "
                "images' [0, 1]",
                "keep the images' scale: the course works in [0, 1] (not the original assignment's [-1, 1]).",
            )
        found = _where(clean, images)
        if found is None:
            _fail(
                name,
                f"the clean half of item {i} is not a {size}x{size} window of one of the images",
                "return the crop itself as the clean image: image[:, top:top + size, left:left + size].",
            )
        pairs.append((noisy, clean))
        where.append(found)
    if len({w[:3] for w in where}) < length // 3 or len({w[0] for w in where}) < 2:
        _fail(
            name,
            f"{length + 6} items came from only {len({w[:3] for w in where})} different windows of "
            f"{len({w[0] for w in where})} image(s): the crops are not random",
            "draw the image with torch.randint(len(self.images), (1,)), then top and left with torch.randint.",
        )
    if len({w[:3] for w in where[length:]} | {where[0][:3]}) == 1:
        _fail(
            name,
            "item 0 asked for 7 times gave the same crop each time",
            "draw a new random crop at every call of __getitem__ (whatever the index): each epoch then sees new crops.",
        )
    noise = torch.stack([x - y for x, y in pairs])
    std, want = noise.std().item(), sigma / 255
    if torch.allclose(noise[0], noise[1], atol=1e-5) or torch.allclose(noise[0], noise[length], atol=1e-5):
        _fail(name, "two items carry exactly the same noise", "draw fresh noise in __getitem__, not once in __init__.")
    if abs(noise.mean().item()) > 0.25 * std:  # a Gaussian's mean, measured on 28,000 values: far below
        hint = "torch.rand is uniform on [0, 1) (mean 0.5): use torch.randn, Gaussian of mean 0 and std 1."
        _fail(name, f"the noise has mean {noise.mean().item():.3f}, not 0", hint)
    if all(x.min() >= 0 and x.max() <= 1 for x, _ in pairs) and std < 0.95 * want:
        _fail(
            name,
            "the noisy crops were clipped to [0, 1]: near black and white the noise is cut off, so it is no longer "
            "Gaussian of mean 0",
            "return clean + noise as it is, without clamp or clip.",
        )
    shift = (noise[..., 1:] * noise[..., :-1]).mean().item() / max(noise.var().item(), 1e-12)
    if abs(shift) > 0.2:
        _fail(
            name,
            f"noisy - clean is not white noise (neighbouring pixels correlate at {shift:.2f}): the noisy image is not "
            "the clean crop plus noise",
            "add the noise to the very crop you return as clean (same image, same window, same flip).",
        )
    if abs(std - want) > 0.08 * want:
        guesses = [
            (sigma, "sigma is on the 0-255 scale: divide it by 255 for images in [0, 1]"),
            (2 * want, "the factor 2 of the original assignment is for images in [-1, 1]; here they are in [0, 1]"),
            (30 / 255, "you used sigma = 30 whatever the data set was built with: use self.sigma"),
            (want / 12**0.5, "torch.rand is uniform: use torch.randn (Gaussian, std 1) and multiply by sigma / 255"),
        ]
        hint = next((h for v, h in guesses if abs(std - v) < 0.08 * v), "multiply torch.randn(...) by sigma / 255.")
        _fail(
            name,
            f"noisy - clean has std {std:.4f}; for sigma = {sigma:g} it should be {want:.4f} (= {sigma:g}/255)",
            hint,
        )
    _report(name, [], 1)


# ---------------------------------------------------------------- notebook 05: the assignment's initialisation


@_check
@_seeded
def check_he_bn_init(fn, name) -> None:
    """Check ``fn(net)``: in place, He initialisation (std sqrt(2 / fan_in)) of every convolution but the last,
    the last one left as built, every BatchNorm2d(C) given weight 1.25·sqrt(C), bias 0 and eps = C; as
    :func:`course_utils.dncnn.he_bn_init`. Measured on DnCNNs built with PyTorch's defaults."""
    import math

    from .dncnn import DnCNN

    for D, C in ((8, 64), (2, 16)):
        torch.manual_seed(D)
        net = DnCNN(D, C, 3, init=False, bn_eps=1e-5)
        last = net.conv[-1].weight.detach().clone()
        _run(name, fn, net)
        where = f"DnCNN(D={D}, C={C})"
        for k, conv in enumerate(net.conv[:-1]):
            fan_in = conv.in_channels * 9
            std, he = conv.weight.std().item(), math.sqrt(2 / fan_in)
            if abs(std - he) > 0.1 * he:
                guesses = [
                    (
                        math.sqrt(1 / fan_in),
                        "that is sqrt(1 / fan_in): He's gain for a ReLU is sqrt(2): "
                        "nn.init.kaiming_normal_(w, nonlinearity='relu')",
                    ),
                    (
                        math.sqrt(2 / (conv.out_channels * 9)),
                        "that is sqrt(2 / fan_out): keep mode='fan_in' (the default)",
                    ),
                    (math.sqrt(1 / (3 * fan_in)), "that is PyTorch's default: the convolution was not initialised"),
                ]
                hint = next(
                    (h for v, h in guesses if abs(std - v) < 0.1 * v),
                    "nn.init.kaiming_normal_(conv.weight, nonlinearity='relu').",
                )
                _fail(
                    name,
                    f"in {where}, convolution {k} ({conv.in_channels} -> {conv.out_channels} channels) has weights of "
                    f"std {std:.4f}; He's initialisation gives sqrt(2 / fan_in) = sqrt(2 / {fan_in}) = {he:.4f}",
                    hint,
                )
        if not torch.equal(net.conv[-1].weight, last):
            _fail(
                name,
                f"in {where} the last convolution was re-initialised",
                "no ReLU follows the last convolution (it outputs the noise estimate): leave it as PyTorch built it.",
            )
        for k, bn in enumerate(net.bn):
            want = 1.25 * math.sqrt(C)
            if not torch.allclose(bn.weight, torch.full_like(bn.weight, want)):
                _fail(
                    name,
                    f"in {where}, BatchNorm {k} has weights from {bn.weight.min().item():.3f} to "
                    f"{bn.weight.max().item():.3f}; expected 1.25·sqrt(C) = {want:.3f} everywhere",
                    "nn.init.constant_(bn.weight, 1.25 * math.sqrt(C)), with C = bn.num_features (not a fixed 64).",
                )
            if not torch.all(bn.bias == 0):
                _fail(name, f"in {where}, BatchNorm {k} has nonzero biases", "nn.init.zeros_(bn.bias).")
            if bn.eps != C:
                _fail(
                    name,
                    f"in {where}, BatchNorm {k} has eps = {bn.eps:g}; the assignment's BatchNorm2d(C, C) has "
                    f"eps = C = {C}",
                    "set bn.eps = C: with weight 1.25·sqrt(C), it makes the layer scale by about 1.25 (section 4).",
                )
    _report(name, [], 1)


# ---------------------------------------------------------------- notebook 05: UDnCNN and DUDnCNN


def _layer_outputs(net, x) -> tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]:
    """``net(x)`` and the output of each of its Conv2d and BatchNorm2d layers, by name, in the order they ran."""
    import torch.nn as nn

    seen, hooks = [], []
    for layer_name, module in net.named_modules():
        if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)):
            hooks.append(module.register_forward_hook(lambda m, i, o, n=layer_name: seen.append((n, o.detach()))))
    try:
        out = net(x)
    finally:
        for h in hooks:
            h.remove()
    return out, seen


def _check_variant(name, cls, reference, x, hint):
    """A student's UDnCNN / DUDnCNN against the course's: parameters, layer names, and, with the course's weights
    loaded, every layer's output, in the order they run (the first that differs is named)."""
    import torch.nn as nn

    D, C = 6, 8
    try:
        net = cls(D, C, 3)
    except NotImplementedError as e:
        if not str(e).startswith(name):  # the constructor calls another exercise's function
            _fail(
                name,
                f"building it stopped in an unfinished exercise: {e}",
                "finish that one first, or take the course's version with its 'Stuck?' line.",
            )
        _not_done(name)
    except Exception as e:
        _fail(name, f"{name}({D}, {C}, 3) raised {type(e).__name__}: {e}")
    if not isinstance(net, nn.Module):
        _fail(name, f"{name}(D, C, channels) built a {type(net).__name__}, not an nn.Module")
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    ref = reference(D, C, 3, bn_eps=bns[0].eps if bns else None)
    what = f"{reference.__name__}(D={D}, C={C}, channels=3)"
    _same_params(
        name,
        net,
        ref,
        what,
        problem=f"{name}(D={D}, C={C}) has {count_parameters(net):,} parameters, the course's {what} "
        f"{count_parameters(ref):,}",
        hint="the same layers as DnCNN: self.conv, D + 2 convolutions 3x3; self.bn, D BatchNorm2d(C). Pooling, "
        "unpooling and dilation add no weights.",
    )
    mine, theirs = net.state_dict(), ref.state_dict()
    if set(mine) != set(theirs):
        odd = sorted(set(mine) ^ set(theirs))[:3]
        _fail(
            name,
            f"your layers are not named as the course's ({', '.join(odd)} ...), so its weights cannot be copied in",
            "keep DnCNN's names: self.conv (an nn.ModuleList of D + 2 Conv2d), self.bn (an nn.ModuleList of D "
            "BatchNorm2d), in the order the layers are used.",
        )
    wrong = next((k for k in theirs if mine[k].shape != theirs[k].shape), None)
    if wrong:
        _fail(name, f"{wrong} has shape {tuple(mine[wrong].shape)}; the course's has {tuple(theirs[wrong].shape)}")
    net.load_state_dict(theirs)
    net.train(), ref.train()
    got, seen = _run(name, _layer_outputs, net, x.clone())
    want, expected = _layer_outputs(ref, x.clone())
    if not torch.is_tensor(got) or got.shape != x.shape:
        _fail(name, f"for x of shape {tuple(x.shape)} you return {_shapes(got)}, expected the same shape", hint)
    ran = dict(seen)
    for layer_name, out in expected:
        if layer_name not in ran:
            _fail(name, f"your forward never uses {layer_name}", hint)
        if ran[layer_name].shape != out.shape or not torch.allclose(ran[layer_name], out, atol=1e-4, rtol=1e-4):
            size = (
                f" (shape {tuple(ran[layer_name].shape)}, the course's {tuple(out.shape)})"
                if ran[layer_name].shape != out.shape
                else ""
            )
            conv = dict(net.named_modules())[layer_name]
            ref_conv = dict(ref.named_modules())[layer_name]
            extra = ""
            if isinstance(conv, nn.Conv2d) and (conv.dilation, conv.padding) != (ref_conv.dilation, ref_conv.padding):
                extra = (
                    f"; your {layer_name} has dilation {conv.dilation[0]} and padding {conv.padding[0]}, the course's "
                    f"dilation {ref_conv.dilation[0]} and padding {ref_conv.padding[0]}"
                )
            _fail(
                name,
                f"with the course's weights, the first layer whose output differs is {layer_name}{size}{extra}: "
                "what goes into it, or the layer itself, is not what the course's network computes",
                hint,
            )
    if not torch.allclose(got, want, atol=1e-4, rtol=1e-4):
        _fail(
            name,
            "every layer matches the course's, but the output differs",
            "return x - self.conv[-1](h): the last convolution estimates the noise, which is removed from the input.",
        )
    _report(name, [], 1)


@_check
@_seeded
def check_udncnn(cls, name) -> None:
    """Check ``cls(D, C, channels)``: the U-shaped DnCNN, compared layer by layer with
    :class:`course_utils.dncnn.UDnCNN` carrying the same weights (D = 6, a 32x48 colour batch)."""
    from .dncnn import UDnCNN

    hint = (
        "conv + ReLU; then D/2 - 1 times (layer k, then F.max_pool2d(h, 2, return_indices=True), keeping the "
        "pooled h and the indices); two layers at the bottom; then D/2 - 1 times (layer k on (h + the pooled "
        "features of the same size) / sqrt(2), then F.max_unpool2d with their indices); then the last conv."
    )
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    _check_variant(name, cls, UDnCNN, x, hint)


@_check
@_seeded
def check_dudncnn(cls, name) -> None:
    """Check ``cls(D, C, channels)``: the dilated U-shaped DnCNN, compared layer by layer with
    :class:`course_utils.dncnn.DUDnCNN` carrying the same weights (D = 6, a 30x37 colour batch: any size)."""
    from .dncnn import DUDnCNN

    hint = (
        "UDnCNN's forward without pooling and unpooling; convolution k dilated by 2^(poolings - unpoolings "
        "before it in UDnCNN), padding = dilation; skips added and divided by sqrt(2) as in UDnCNN."
    )
    x = torch.rand(2, 3, 30, 37, generator=torch.Generator().manual_seed(3))
    _check_variant(name, cls, DUDnCNN, x, hint)


# ---------------------------------------------------------------- notebook 05: parameter count, receptive field


@_check
def check_n_params(fn, name) -> None:
    """Check ``fn(D, C, channels=3)`` -> the number of parameters of DnCNN(D, C, channels) (the same for UDnCNN
    and DUDnCNN), against ``count_parameters`` on 24 configurations."""
    from .dncnn import DnCNN

    failures, total, diffs = [], 0, []
    for D, C, ch in itertools.product((0, 1, 3, 8), (4, 16, 64), (1, 3)):
        total += 1
        want = count_parameters(DnCNN(D, C, ch))
        got = _case(name, fn, failures, f"{name}({D}, {C}, {ch})", D, C, ch)
        if got is _BROKE:
            continue
        if got != want:
            failures.append(f"DnCNN(D={D}, C={C}, channels={ch}) has {want:,} parameters, you return {got!r}")
            if isinstance(got, (int, float)):
                diffs.append((D, C, ch, want - got))
    hint = (
        "D + 2 convolutions 3x3 (in x out x 9 weights, plus out biases) and D BatchNorm2d(C) (a weight and a bias "
        "per channel)."
    )
    if diffs and all(d == 2 * D * C for D, C, ch, d in diffs):
        hint = "each BatchNorm2d(C) has 2C parameters (its weight and bias): add them."
    elif diffs and all(d == -2 * D * C for D, C, ch, d in diffs):
        hint = "BatchNorm's running mean and variance are buffers, not parameters: count only its weight and bias."
    elif diffs and all(d == (D + 1) * C + ch for D, C, ch, d in diffs):
        hint = "every convolution has a bias, one per output channel: add them."
    _report(name, failures, total, hint)


def _rf_cases(name, fn, cls, depths, formula_hint):
    from .dncnn import measured_receptive_field, receptive_field

    torch.manual_seed(0)
    failures = []
    for D in depths:
        model = cls(D, 4, 1)
        want = measured_receptive_field(model, receptive_field(model) + 24)  # an input a little wider than the field
        got = _case(name, fn, failures, f"{name}({D})", D)
        if got is not _BROKE and got != want:
            failures.append(
                f"D = {D}: measured {want} (the extent of the gradient of one output pixel), you return {got!r}"
            )
    _report(name, failures, len(depths), formula_hint)


@_check
@_seeded
def check_rf_dncnn(fn, name) -> None:
    """Check ``fn(D)`` -> the side of DnCNN(D)'s receptive field, against the gradient measurement
    (:func:`course_utils.dncnn.measured_receptive_field`) for D = 0..10."""
    from .dncnn import DnCNN

    _rf_cases(
        name, fn, DnCNN, range(0, 11), "count DnCNN(D)'s convolutions (D + 2); each 3x3 one widens the field by 2."
    )


@_check
@_seeded
def check_rf_dudncnn(fn, name) -> None:
    """Check ``fn(D)`` -> the side of DUDnCNN(D)'s receptive field, against the gradient measurement
    for D = 2, 4, 6, 8, 10."""
    from .dncnn import DUDnCNN

    _rf_cases(
        name,
        fn,
        DUDnCNN,
        (2, 4, 6, 8, 10),
        "each 3x3 convolution of dilation d widens the field by 2d: add 1 + 2 x (the sum of the D + 2 dilations). "
        "DUDnCNN has no pooling: nothing else counts.",
    )


# ---------------------------------------------------------------- notebook 08: motion blur


@_check
def check_blur(fn, name) -> None:
    """Check ``fn(image, kernel)`` -> the (C, H, W) image convolved with the (k, k) kernel (a true
    convolution, borders reflected, same size), against :func:`course_utils.blur.blur`."""
    from .blur import blur, motion_kernel

    g = torch.Generator().manual_seed(8)
    image = torch.rand(1, 24, 30, generator=g)
    asymmetric = torch.zeros(5, 5)
    asymmetric[2, 2], asymmetric[2, 4], asymmetric[0, 2] = 0.5, 0.3, 0.2
    cases = [
        ("a horizontal motion kernel", image, motion_kernel(5, 0, 7)),
        ("a kernel that is not symmetric", image, asymmetric),
        ("a colour image", torch.rand(3, 16, 16, generator=g), motion_kernel(6, 30, 9)),
    ]
    for label, img, k in cases:
        got = _run(name, fn, img.clone(), k.clone())
        want = blur(img, k)
        if not torch.is_tensor(got) or got.shape != want.shape:
            _fail(
                name,
                f"{label}: you return {_shapes(got)}, expected {tuple(want.shape)}",
                "pad by k // 2 on every side (F.pad(..., mode='reflect')), then F.conv2d without padding.",
            )
        if not torch.allclose(got, want, atol=1e-5):
            flipped = blur(img, k.flip(-1, -2))
            hint = (
                "F.conv2d computes a correlation: flip the kernel (kernel.flip(-1, -2)) to convolve."
                if torch.allclose(got, flipped, atol=1e-5)
                else "reflect the borders (F.pad(x, (r, r, r, r), mode='reflect') with r = k // 2) and blur each "
                "channel with the same kernel."
            )
            _fail(
                name,
                f"{label}: your image differs from the expected one by up to {(got - want).abs().max().item():.3f}",
                hint,
            )
    _report(name, [], len(cases))


# ---------------------------------------------------------------- notebook 08: the motion kernel


def _moments(k: torch.Tensor):
    """Centre of mass (x right, y up, from the kernel's centre), angle (degrees in [0, 180)) of the main axis,
    and the length of a uniform segment with the same spread along it, sqrt(12 x variance)."""
    import math

    k = k.double()
    size = k.shape[-1]
    c = size // 2
    ys, xs = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    x, y = xs - c, c - ys
    mx, my = (k * x).sum().item(), (k * y).sum().item()
    sxx, syy, sxy = (
        (k * (x - mx) ** 2).sum().item(),
        (k * (y - my) ** 2).sum().item(),
        (k * (x - mx) * (y - my)).sum().item(),
    )
    angle = math.degrees(0.5 * math.atan2(2 * sxy, sxx - syy)) % 180
    major = 0.5 * (sxx + syy) + math.sqrt(0.25 * (sxx - syy) ** 2 + sxy**2)
    return mx, my, angle, math.sqrt(12 * major)


@_check
def check_motion_kernel(fn, name) -> None:
    """Check ``fn(length, angle, size=21)`` -> a (size, size) kernel: non-negative, summing to 1, centred, along
    ``angle`` degrees (counter-clockwise from the horizontal, rows growing downwards) and ``length`` pixels long;
    compared by its moments with :func:`course_utils.blur.motion_kernel` (any anti-aliasing passes)."""
    from .blur import motion_kernel

    cases = [(7.0, 0.0, 21), (11.0, 30.0, 21), (9.0, 90.0, 21), (15.0, 135.0, 21), (6.5, 60.0, 21), (9.0, 160.0, 15)]
    failures = []
    for L, a, size in cases:
        label = f"length {L:g}, angle {a:g}°, size {size}"
        got = _case(name, fn, failures, f"{name}({L:g}, {a:g}, size={size})", L, a, size)
        if got is _BROKE:
            continue
        if not torch.is_tensor(got) or got.shape != (size, size):
            failures.append(f"{label}: you return {_shapes(got)}, expected ({size}, {size})")
            continue
        k = got.detach().double()
        if k.min() < -1e-7 or abs(k.sum().item() - 1) > 1e-4:
            failures.append(
                f"{label}: values from {k.min():.3g}, summing to {k.sum():.4f}; a blur kernel is >= 0 and sums to 1"
            )
            continue
        mx, my, angle, length = _moments(k)
        _, _, _, ref_length = _moments(motion_kernel(L, a, size))
        turn = min(abs(angle - a % 180), 180 - abs(angle - a % 180))
        if abs(mx) > 0.3 or abs(my) > 0.3:
            failures.append(
                f"{label}: its centre of mass is at ({mx:+.1f}, {my:+.1f}) px from the centre; the segment is centred"
            )
        elif turn > 4:
            mirrored = min(abs(angle - (-a) % 180), 180 - abs(angle - (-a) % 180)) <= 4
            failures.append(
                f"{label}: it lies at {angle:.0f}°"
                + (" (mirrored: image rows grow downwards, so y = centre - t sin θ)" if mirrored else "")
            )
        elif abs(length - ref_length) > 1.0:
            failures.append(
                f"{label}: it is about {length:.1f} px long; a {L:g}-pixel segment (as the course draws it) "
                f"spreads {ref_length:.1f}"
            )
    _report(
        name,
        failures,
        len(cases),
        "sample many points t from -L/2 to L/2, at column c + t cos θ and row c - t sin θ (c = size // 2), add "
        "each to its nearest pixel (or share it between its four neighbours), then divide by the sum.",
    )


# ---------------------------------------------------------------- notebook 08: Wiener deconvolution


def _wiener_variants(image: torch.Tensor, kernel: torch.Tensor, balance: float) -> dict[str, torch.Tensor]:
    """Wiener deconvolution of an (H, W) image, right and with the usual slips, in float64."""
    h, w = image.shape

    def spectrum(small, centred=True):
        padded = torch.zeros(h, w, dtype=torch.float64)
        padded[: small.shape[0], : small.shape[1]] = small
        if centred:
            padded = padded.roll((-(small.shape[0] // 2), -(small.shape[1] // 2)), dims=(0, 1))
        return torch.fft.rfft2(padded)

    lap = torch.tensor([[0.0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=torch.float64)
    K, L, Y = spectrum(kernel.double()), spectrum(lap), torch.fft.rfft2(image.double())

    def out(num, den):
        return torch.fft.irfft2(num * Y / den, s=(h, w))

    return {
        "right": out(K.conj(), K.abs() ** 2 + balance * L.abs() ** 2),
        "not centred": out(spectrum(kernel.double(), False).conj(), K.abs() ** 2 + balance * L.abs() ** 2),
        "no conj": out(K, K.abs() ** 2 + balance * L.abs() ** 2),
        "|L| not squared": out(K.conj(), K.abs() ** 2 + balance * L.abs()),
        "no laplacian": out(K.conj(), K.abs() ** 2 + balance),
    }


@_check
def check_wiener(fn, name) -> None:
    """Check ``fn(image, kernel, balance)`` -> the Wiener deconvolution of an (H, W) image by a (k, k) kernel, in the
    Fourier domain with periodic borders and the Laplacian as regulariser, against scikit-image's
    ``restoration.wiener`` (what :func:`course_utils.classical.wiener` runs)."""
    from skimage.restoration import wiener

    from .blur import blur, motion_kernel

    g = torch.Generator().manual_seed(9)
    asymmetric = torch.zeros(5, 5)
    asymmetric[2, 2], asymmetric[2, 4], asymmetric[0, 1] = 0.5, 0.3, 0.2
    sharp = torch.rand(1, 36, 44, generator=g)
    cases = [
        ("a motion kernel, balance 0.1", motion_kernel(9, 30), 0.1),
        ("a kernel that is not symmetric, balance 0.05", asymmetric, 0.05),
        ("the same kernel, balance 1", asymmetric, 1.0),
    ]
    hints = {
        "not centred": "the result is shifted: pad the kernel to the image's size, then roll it by -(k // 2) on both "
        "axes so that its centre sits at pixel (0, 0).",
        "no conj": "the numerator is the complex conjugate of the kernel's transform: K.conj().",
        "|L| not squared": "the regulariser is balance x |L|², the Laplacian's transform squared in modulus.",
        "no laplacian": "regularise with the Laplacian's transform (kernel [[0, -1, 0], [-1, 4, -1], [0, -1, 0]], "
        "centred like the blur kernel), not a constant.",
    }
    for label, kernel, balance in cases:
        blurred = blur(sharp, kernel)[0]
        want = torch.from_numpy(wiener(blurred.double().numpy(), kernel.double().numpy(), balance, clip=False))
        got = _run(name, fn, blurred.clone(), kernel.clone(), balance)
        if not torch.is_tensor(got) or got.shape != blurred.shape:
            _fail(
                name,
                f"{label}: you return {_shapes(got)}, expected {tuple(blurred.shape)}",
                "torch.fft.irfft2(..., s=(H, W)).",
            )
        if got.is_complex():
            _fail(
                name,
                f"{label}: your result is complex",
                "torch.fft.irfft2 gives the real image back (rfft2 in, irfft2 out).",
            )
        got = got.detach().double()
        if not torch.allclose(got, want, atol=1e-4):
            variants = _wiener_variants(blurred, kernel, balance)
            slip = next((v for v, x in variants.items() if v != "right" and torch.allclose(got, x, atol=1e-4)), None)
            _fail(
                name,
                f"{label}: your image differs from scikit-image's by up to {(got - want).abs().max().item():.3g}",
                hints.get(
                    slip,
                    "X = conj(K) · Y / (|K|² + balance · |L|²), with K and L the transforms of the kernel and "
                    "of the Laplacian, each padded to (H, W) and centred at (0, 0).",
                ),
            )
    _report(name, [], len(cases))


# ---------------------------------------------------------------- notebook 08: patch averaging


@_check
@_seeded
def check_patch_average(fn, name) -> None:
    """Check ``fn(model, image, patch, stride)`` -> (C, H, W): the model on every patch x patch window taken every
    ``stride`` pixels (the last row and column of windows moved to touch the border), outputs averaged where they
    overlap, in eval mode; against :func:`course_utils.inference.patch_average`."""
    from .dncnn import DnCNN
    from .inference import patch_average

    torch.manual_seed(4)
    model = DnCNN(2, 4, 1)
    for bn in model.bn:  # running statistics unlike a batch's, so that train mode shows
        bn.running_mean.fill_(0.3)
        bn.running_var.fill_(2.0)
    g = torch.Generator().manual_seed(6)
    cases = [
        ("a 40x48 image, 16x16 patches every 8 pixels", torch.rand(1, 40, 48, generator=g), 16, 8),
        (
            "a 37x45 image, 16x16 patches every 8 pixels (the last ones touch the border)",
            torch.rand(1, 37, 45, generator=g),
            16,
            8,
        ),
        ("a 24x24 image, 12x12 patches every 12 pixels (no overlap)", torch.rand(1, 24, 24, generator=g), 12, 12),
    ]
    for label, image, patch, stride in cases:
        model.train()
        want = patch_average(model, image, patch, stride, device="cpu")
        model.train()
        got = _run(name, fn, model, image.clone(), patch, stride)
        if not torch.is_tensor(got) or got.shape != want.shape:
            _fail(name, f"{label}: you return {_shapes(got)}, expected {tuple(want.shape)}")
        got = got.detach().cpu().float()
        if not torch.isfinite(got).all():
            _fail(
                name,
                f"{label}: some pixels are NaN or infinite: no window covered them (0 / 0)",
                "add a last window in each row and column that ends at the border (start H - patch, W - patch).",
            )
        if not torch.allclose(got, want, atol=1e-5):
            bad = (got - want).abs().amax(0) > 1e-5
            hint = (
                "run the model in eval mode without gradients (course_utils.predict does both), add each output "
                "into a sum, count how many windows cover each pixel, and divide."
            )
            if not bad[: image.shape[-2] - patch, : image.shape[-1] - patch].any():
                hint = (
                    "only the last rows or columns differ: the last window of each row and column should start at "
                    "H - patch (W - patch), touching the border."
                )
            _fail(name, f"{label}: your image differs by up to {(got - want).abs().max().item():.3g}", hint)
    _report(name, [], len(cases))


# ---------------------------------------------------------------- notebook 00: a pretrained network off the shelf


def _photo(h: int, w: int, seed: int):
    """A random (h, w, 3) uint8 'photograph' with some structure (a gradient and a bright square)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3)).astype(np.float64) * 0.3
    img += np.linspace(0, 150, w)[None, :, None]
    img[h // 4 : h // 2, w // 3 : w // 2] = (250, 40, 40)
    return np.clip(img, 0, 255).astype(np.uint8)


@_check
def check_preprocess(fn, name) -> None:
    """Check ``fn(image, transform) -> (1, 3, h, w)`` float tensor: an (H, W, 3) uint8 photograph made ready for
    the network by the weights' own ``transforms()``, against :func:`course_utils.pretrained.preprocess`."""
    from .pretrained import preprocess, weights_of

    transform = weights_of("lraspp_mobilenet_v3_large").transforms(resize_size=40)
    failures = []
    cases = [("a 60x90 photograph", _photo(60, 90, 0)), ("a 80x50 photograph", _photo(80, 50, 1))]
    for label, image in cases:
        got = _run(name, fn, image.copy(), transform)
        want = preprocess(image, transform)
        if not torch.is_tensor(got):
            _fail(name, f"{label}: return a tensor, got {type(got).__name__}", "transform(...) gives a tensor.")
        if got.ndim == 3 and tuple(got.shape) == tuple(want.shape[1:]):
            _fail(name, f"{label}: shape {tuple(got.shape)}, a single image", "add the batch dimension: .unsqueeze(0).")
        if tuple(got.shape) != tuple(want.shape):
            hint = "torchvision wants channels first: torch.from_numpy(image).permute(2, 0, 1) before the transform."
            if got.ndim == 4 and got.shape[1] != 3:
                hint = f"channel axis of size {got.shape[1]}: " + hint
            elif got.ndim == 4 and got.shape[-2:] == torch.Size(image.shape[:2]):
                hint = "the image was not resized: pass it through the transform, which resizes its shorter side."
            _fail(name, f"{label}: shape {tuple(got.shape)}, expected {tuple(want.shape)}", hint)
        got = got.detach().float()
        if abs(got.mean().item() - want.mean().item()) > 0.05 or got.min() >= 0:
            if got.min() >= 0 and got.max() <= 1.0:
                hint = "values in [0, 1]: the transform's Normalize (ImageNet mean and std) was not applied."
            elif got.max() > 10:
                hint = "values up to 255: use the weights' transform, which scales uint8 to [0, 1] before normalising."
            else:
                hint = "use the weights' own transform on the uint8 image, once, and nothing else."
            failures.append(f"{label}: mean value {got.mean().item():.3f}, expected {want.mean().item():.3f} ({hint})")
        elif not torch.allclose(got, want, atol=1e-3):
            err = (got - want).abs().max().item()
            failures.append(
                f"{label}: values differ from the expected ones by up to {err:.3f}: same shape and range, "
                "but not the same pixels (channels in another order? the image flipped or transposed?)"
            )
    _report(
        name,
        failures,
        len(cases),
        "x = torch.from_numpy(image).permute(2, 0, 1); return transform(x).unsqueeze(0).",
    )


@_check
def check_labels_and_confidence(fn, name) -> None:
    """Check ``fn(logits) -> (labels, confidence)`` for logits (1, C, H, W): the per-pixel argmax (H, W) and the
    largest softmax probability (H, W), against :func:`course_utils.pretrained.labels_and_confidence`."""
    from .pretrained import labels_and_confidence

    g = torch.Generator().manual_seed(7)
    cases = [
        ("logits (1, 21, 6, 9)", 3 * torch.randn(1, 21, 6, 9, generator=g)),
        (
            "logits (1, 4, 5, 5), class 2 far ahead",
            torch.randn(1, 4, 5, 5, generator=g) + 9 * (torch.arange(4) == 2).float()[None, :, None, None],
        ),
    ]
    failures = []
    for label, logits in cases:
        got = _run(name, fn, logits.clone())
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(torch.is_tensor(t) for t in got)):
            _fail(name, f"return a pair of tensors (labels, confidence), got {_shapes(got)}")
        labels, confidence = got
        want_labels, want_conf = labels_and_confidence(logits)
        h, w = logits.shape[-2:]
        for what, t in (("labels", labels), ("confidence", confidence)):
            if tuple(t.shape) != (h, w):
                _fail(
                    name,
                    f"{label}: {what} has shape {tuple(t.shape)}, expected ({h}, {w})",
                    "reduce over the class axis, dim=1 of (1, C, H, W), and drop the batch axis ([0]).",
                )
        if labels.dtype.is_floating_point:
            failures.append(f"{label}: labels are {labels.dtype}; class numbers are integers (argmax gives int64)")
            continue
        if not torch.equal(labels.long(), want_labels):
            failures.append(
                f"{label}: {int((labels.long() != want_labels).sum())} of {h * w} labels differ from the argmax "
                "over the classes"
            )
            continue
        conf = confidence.detach().float()
        if conf.max() > 1 + 1e-5 or conf.min() < 0:
            failures.append(
                f"{label}: confidence runs from {conf.min():.2f} to {conf.max():.2f}: not probabilities "
                "(take the softmax over the classes first, then its largest value)"
            )
        elif not torch.allclose(conf, want_conf, atol=1e-5):
            err = (conf - want_conf).abs().max().item()
            sig = torch.sigmoid(logits[0]).max(0).values
            hint = (
                "this is the sigmoid's largest value: the classes compete, use softmax over dim=1"
                if torch.allclose(conf, sig, atol=1e-5)
                else "softmax over the class axis (dim=1), then its max"
            )
            failures.append(f"{label}: confidence off by up to {err:.3f} ({hint})")
    _report(
        name,
        failures,
        len(cases),
        "probs = logits.softmax(dim=1)[0]; confidence, labels = probs.max(dim=0).",
    )


@_check
def check_overlay_labels(fn, name) -> None:
    """Check ``fn(image, labels, palette, alpha) -> (H, W, 3)`` float RGB in [0, 1]: class colours blended over
    the photograph, background (class 0) untouched, against :func:`course_utils.plotting.overlay_labels`."""
    import numpy as np

    from .plotting import overlay_labels, voc_palette

    image = _photo(12, 16, 2)
    labels = np.zeros((12, 16), dtype=np.int64)
    labels[2:8, 3:9], labels[6:11, 10:15] = 15, 8
    palette = voc_palette(21)
    failures = []
    cases = [(0.5, "alpha 0.5"), (0.8, "alpha 0.8")]
    for alpha, label in cases:
        got = _run(name, fn, image.copy(), labels.copy(), palette.copy(), alpha)
        want = overlay_labels(image, labels, palette, alpha)
        a = np.asarray(got.detach().cpu() if torch.is_tensor(got) else got, dtype=np.float64)
        if a.shape != want.shape:
            _fail(
                name,
                f"{label}: shape {a.shape}, expected {want.shape} (H, W, 3)",
                "keep the photograph's layout, channels last, for plt.imshow.",
            )
        if a.max() > 1.5:
            _fail(
                name,
                f"{label}: values up to {a.max():.0f}: the picture should be float in [0, 1]",
                "divide the uint8 photograph by 255 before blending.",
            )
        bg, fg = labels == 0, labels > 0
        if not np.allclose(a[bg], want[bg], atol=1e-3):
            failures.append(f"{label}: background pixels (class 0) changed: they should keep the photograph's colour")
        elif not np.allclose(a[fg], want[fg], atol=1e-3):
            swapped = overlay_labels(image, labels, palette, 1 - alpha)
            hint = (
                "alpha weighs the class colour, 1 - alpha the photograph"
                if np.allclose(a[fg], swapped[fg], atol=1e-3)
                else "(1 - alpha) * photo + alpha * palette[label]"
            )
            failures.append(
                f"{label}: the labelled pixels differ by up to {np.abs(a[fg] - want[fg]).max():.3f} ({hint})"
            )
    _report(
        name,
        failures,
        len(cases),
        "rgb = image / 255; out = rgb.copy(); fg = labels > 0; out[fg] = (1 - alpha) * rgb[fg] + alpha * "
        "palette[labels[fg]].",
    )


@_check
def check_largest_class(fn, name) -> None:
    """Check ``fn(labels, categories) -> (name, fraction)``: the class covering most pixels, background left out,
    against :func:`course_utils.pretrained.largest_class`."""
    from .pretrained import largest_class, weights_of

    categories = list(weights_of("lraspp_mobilenet_v3_large").meta["categories"])
    mostly_background = torch.zeros(10, 10, dtype=torch.long)
    mostly_background[:3, :4], mostly_background[5:7, :] = 12, 8  # 12 dog pixels, 20 cat pixels
    person = torch.full((8, 5), 15)
    person[0, :2] = 0
    cases = [
        ("background 68 %, cat 20 %, dog 12 %", mostly_background),
        ("person almost everywhere", person),
        ("background only", torch.zeros(6, 7, dtype=torch.long)),
    ]
    failures = []
    for label, labels in cases:
        got = _run(name, fn, labels.clone(), list(categories))
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], str)):
            _fail(name, f"return a pair (class name, fraction of the pixels), got {_shapes(got)}")
        want = largest_class(labels, categories)
        have = (got[0], float(got[1]))
        if have[0] != want[0]:
            why = ""
            if have[0] == categories[0]:
                why = ": leave out class 0, the background, unless nothing else is there"
            elif want[0] == categories[0]:
                why = ": with background only, return ('__background__', 1.0)"
            failures.append(f"{label}: you return {have[0]!r}, expected {want[0]!r}{why}")
        elif abs(have[1] - want[1]) > 1e-6:
            failures.append(
                f"{label}: fraction {have[1]:.4f}, expected {want[1]:.4f} (its pixels divided by all the pixels "
                "of the image, background included)"
            )
    _report(
        name,
        failures,
        len(cases),
        "counts = torch.bincount(labels.flatten(), minlength=len(categories)); counts[0] = 0; the argmax of counts "
        "is the class, counts[k] / labels.numel() its fraction.",
    )


# ---------------------------------------------------------------- notebook 09: a framework from scratch

_GRAD_TOLERANCE = 1e-8  # float64: a right backward pass agrees with autograd to about 1e-14


def _wrong_parts(diffs: dict) -> dict:
    """The entries of :func:`course_utils.scratch.compare_with_torch`'s result that are wrong."""
    return {k: v for k, v in diffs.items() if not v <= _GRAD_TOLERANCE}


def _say(part: str, d: float) -> str:
    return (
        f"the {part} has the wrong shape (or is not a tensor)"
        if d == float("inf")
        else f"the {part} is off by up to {d:.3g} (max abs difference)"
    )


def _compare_cases(name, make, reference, cases, failures) -> set:
    """Run :func:`course_utils.scratch.compare_with_torch` on each ``(label, args, x)`` of ``cases`` with
    ``make(*args)`` against ``reference(*args)``; record what is wrong in ``failures``; return the wrong parts."""
    from .scratch import compare_with_torch

    wrong = set()
    for label, args, x in cases:
        module = _case(name, make, failures, f"{label}: creating the module", *args)
        if module is _BROKE:
            continue
        diffs = _case(
            name,
            compare_with_torch,
            failures,
            label,
            module,
            reference(*args),
            x,
            generator=torch.Generator().manual_seed(2),
        )
        if diffs is _BROKE:
            continue
        bad = _wrong_parts(diffs)
        wrong |= set(bad)
        if bad:
            right = [k for k in diffs if k not in bad]
            failures.append(
                f"{label}: "
                + "; ".join(_say(k, v) for k, v in bad.items())
                + (f"; right: {', '.join(right)}" if right else "")
            )
    return wrong


@_check
def check_relu(cls, name) -> None:
    """Check ``cls()``: a ReLU module, forward(x) = max(x, 0) and backward(grad_output) = dL/dx, on float64 inputs of
    several shapes, against ``torch.nn.ReLU`` and autograd."""
    import torch.nn as nn

    g = torch.Generator().manual_seed(9)
    shapes = [(2, 3, 4, 5), (7,), (1, 1, 8, 8)]
    cases = [(f"x of shape {s}", (), torch.randn(s, generator=g, dtype=torch.float64)) for s in shapes]
    failures = []
    wrong = _compare_cases(name, cls, lambda: nn.ReLU(), cases, failures)
    hint = (
        "forward: keep where x > 0 (the mask) and return x * mask. backward: the output gradient passes where the "
        "input was positive and is 0 elsewhere: grad_output * mask (never the mask alone, never grad_output alone)."
    )
    if wrong == {"input gradient"}:
        hint = "backward returns grad_output * mask: the gradient passes where x > 0 and is 0 elsewhere."
    _report(name, failures, len(cases), hint)


_CONV_CASES = [  # (N, C_in, H, W, C_out, kernel_size, stride, padding)
    (2, 3, 7, 6, 4, 3, 1, 1),
    (2, 3, 9, 7, 4, 3, 2, 1),
    (1, 2, 6, 6, 3, 2, 2, 0),
    (3, 1, 8, 5, 2, 1, 1, 0),
    (2, 2, 10, 11, 3, 4, 3, 2),
]


@_check
def check_conv2d(cls, name) -> None:
    """Check ``cls(in_channels, out_channels, kernel_size, stride=, padding=, generator=, dtype=)``: a Conv2d module
    whose forward and backward agree with ``torch.nn.Conv2d`` and autograd (output, input gradient, weight and bias
    gradients) in float64 on several shapes, kernel sizes, strides and paddings; the parameters' gradients must
    accumulate over backward passes (``+=``), as PyTorch's do."""
    import torch.nn as nn

    g = torch.Generator().manual_seed(10)

    def make(c_in, c_out, k, s, p):
        return cls(c_in, c_out, k, stride=s, padding=p, generator=g, dtype=torch.float64)

    def reference(c_in, c_out, k, s, p):
        return nn.Conv2d(c_in, c_out, k, stride=s, padding=p).double()

    cases = [
        (
            f"x {(n, c_in, h, w)}, {c_out} output channels, kernel {k}, stride {s}, padding {p}",
            (c_in, c_out, k, s, p),
            torch.randn(n, c_in, h, w, generator=g, dtype=torch.float64),
        )
        for n, c_in, h, w, c_out, k, s, p in _CONV_CASES
    ]
    failures = []
    wrong = _compare_cases(name, make, reference, cases, failures)
    hints = {
        "output": "forward is given: do not change it.",
        "input gradient": "dL/dx = F.fold(W^T @ grad_output, (H, W), kernel_size, padding=..., stride=...): W as a "
        "(C_out, C_in*k*k) matrix, grad_output as (N, C_out, L), fold with the forward's own settings.",
        "weight gradient": "dL/dW = grad_output (N, C_out, L) @ cols^T (N, L, C_in*k*k), summed over the batch, "
        "reshaped to the weight's shape, added into weight.grad.",
        "bias gradient": "dL/db = grad_output summed over the batch and every pixel (dims 0, 2 and 3), added into "
        "bias.grad.",
    }
    if not failures:  # accumulation: two backward passes add up, as in PyTorch
        module = make(2, 3, 3, 1, 1)
        x = torch.randn(2, 2, 5, 5, generator=g, dtype=torch.float64)
        grad_output = torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64)
        module.forward(x)
        module.backward(grad_output)
        once = (module.weight.grad.clone(), module.bias.grad.clone())
        module.backward(grad_output)
        for part, before, after in (("weight", once[0], module.weight.grad), ("bias", once[1], module.bias.grad)):
            if not torch.allclose(after, 2 * before):
                _fail(
                    name,
                    f"after two backward passes the {part} gradient is not the sum of both: it is replaced, not "
                    "accumulated",
                    f"add into it (self.{part}.grad += ...), as PyTorch does; the optimizer's zero_grad resets it.",
                )
    _report(name, failures, len(cases), " ".join(hints[k] for k in hints if k in wrong) or " ".join(hints.values()))


@_check
def check_mse_loss(cls, name) -> None:
    """Check ``cls()``: forward(prediction, target) -> mean((prediction - target)^2), a 0-d tensor, and backward()
    -> dL/d(prediction), on float64 tensors of several shapes, against ``F.mse_loss`` and autograd."""
    g = torch.Generator().manual_seed(11)
    shapes = [(4, 1, 6, 6), (2, 3, 5, 7), (10,)]
    failures, hint = [], ""
    for shape in shapes:
        p = torch.randn(shape, generator=g, dtype=torch.float64)
        t = torch.randn(shape, generator=g, dtype=torch.float64)
        label = f"prediction and target of shape {shape}"
        loss = _case(name, cls, failures, f"{label}: creating the loss")
        if loss is _BROKE:
            continue
        value = _case(name, loss.forward, failures, label, p.clone(), t.clone())
        if value is _BROKE:
            continue
        grad = _case(name, loss.backward, failures, f"{label}: backward()")
        if grad is _BROKE:
            continue
        pr = p.clone().requires_grad_(True)
        F.mse_loss(pr, t).backward()
        want, want_value = pr.grad, F.mse_loss(p, t)
        if not (torch.is_tensor(value) and value.numel() == 1 and abs(float(value) - float(want_value)) < 1e-10):
            shown = _shapes(value) if torch.is_tensor(value) and value.numel() > 1 else value
            failures.append(f"{label}: the loss is {shown}, expected {float(want_value):.6f}")
            hint = "forward is given: do not change it."
            continue
        if not torch.is_tensor(grad) or grad.shape != want.shape:
            failures.append(
                f"{label}: backward returns {_shapes(grad)}, expected a tensor of the prediction's shape {shape}"
            )
            continue
        d = float((grad - want).abs().max())
        if d > _GRAD_TOLERANCE:
            failures.append(f"{label}: the gradient is off by up to {d:.3g} (max abs difference)")
            ratio = float((grad * want).sum() / (want * want).sum())
            for factor, why in (
                (-1.0, "its sign is wrong: the derivative of (p - t)^2 with respect to p is 2 (p - t)."),
                (0.5, "it is half the right one: the derivative of (p - t)^2 is 2 (p - t), not (p - t)."),
                (p.numel(), "it is not divided by the number of elements: the loss is a mean over all of them."),
                (p.numel() / shape[0], "it is divided by the batch size only: the loss is a mean over every element."),
            ):
                if abs(ratio - factor) < 1e-6 * abs(factor):
                    hint = hint or why
    _report(name, failures, len(shapes), hint or "dL/dp = 2 (p - t) / (number of elements of p), of p's shape.")


@_check
def check_adam(cls, name) -> None:
    """Check ``cls(parameters, lr=, betas=, eps=)`` with ``step()``: five steps of Adam on two float64
    :class:`course_utils.scratch.Parameter` objects, with fresh gradients at each step and settings other than the
    defaults, against ``torch.optim.Adam``."""
    from .scratch import Parameter

    g = torch.Generator().manual_seed(12)
    lr, betas, eps = 0.01, (0.8, 0.99), 1e-6
    starts = [torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)]
    mine = [Parameter(s.clone()) for s in starts]
    theirs = [s.clone().requires_grad_(True) for s in starts]
    optimizer = _run(name, cls, mine, lr=lr, betas=betas, eps=eps)
    reference = torch.optim.Adam(theirs, lr=lr, betas=betas, eps=eps)
    for step in range(1, 6):
        for p, q in zip(mine, theirs):
            grad = torch.randn(p.shape, generator=g, dtype=torch.float64) * 10 ** float(
                torch.randint(-2, 3, (1,), generator=g)
            )
            p.grad = grad.clone()
            q.grad = grad.clone()
        before = [p.value.clone() for p in mine]
        _run(name, optimizer.step)
        reference.step()
        for j, (p, q) in enumerate(zip(mine, theirs)):
            value = p.value
            if not torch.is_tensor(value) or value.shape != q.shape:
                _fail(
                    name,
                    f"after step {step}, parameter {j}'s value is {_shapes(value)}, expected shape {tuple(q.shape)}",
                )
            d = float((value - q.detach()).abs().max())
            if d > 1e-10:
                hint = (
                    "m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; m_hat = m / (1 - b1^t); v_hat = v / (1 - b2^t); "
                    "value -= lr m_hat / (sqrt(v_hat) + eps), with t counting the steps from 1."
                )
                if step == 1:
                    moved = float((value - before[j]).abs().max())
                    no_correction = lr * (1 - betas[0]) / (1 - betas[1]) ** 0.5
                    if abs(moved - no_correction) < 0.05 * no_correction:
                        hint = (
                            "the first step moves each weight by about lr (1 - b1) / sqrt(1 - b2), not lr: divide m "
                            "by (1 - b1^t) and v by (1 - b2^t) (the bias correction)."
                        )
                    elif moved == 0:
                        hint = "step() did not change the value: update p.value (p.value -= ... in place)."
                else:
                    hint = (
                        "the first step was right, a later one not: keep m and v from one step to the next (update "
                        "them in place) and count t from 1 up, once per step."
                    )
                _fail(name, f"after step {step}, parameter {j} differs from torch.optim.Adam by up to {d:.3g}", hint)
    _report(name, [], 1)


@_check
def check_n2v_mask(fn, name) -> None:
    """Check ``fn(noisy, fraction, radius=2, generator=None) -> (masked, mask)``, Noise2Void's blind spots (Krull et
    al. 2019): the mask an (N, 1, H, W) bool tensor with about ``fraction`` of the pixels; each masked pixel (every
    channel) replaced by another pixel of its (2 radius + 1)^2 window, drawn uniformly, never itself; the other
    pixels unchanged; the input left alone; every draw from ``generator``."""
    n, c, h, w = 4, 2, 32, 32
    # every value tells where it came from: image, channel, row, column
    x = torch.arange(n * c * h * w, dtype=torch.float32).view(n, c, h, w)

    def off_image(e):  # an index off the image is the usual crash: say where to look
        if "out of bounds" not in str(e):
            return ""
        return (
            "a neighbour's position left the image: near the border, an offset that would leave it must point the "
            "other way (row - dy instead of row + dy), so that rows stay in 0..H-1 and columns in 0..W-1."
        )

    def call(fraction, radius=2, seed=0, inp=x):
        before = inp.clone()
        got = _run(name, fn, inp, fraction, radius, generator=torch.Generator().manual_seed(seed), _hint=off_image)
        if not torch.equal(inp, before):
            _fail(name, "your function changed its input in place", "work on a copy: masked = noisy.clone().")
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(torch.is_tensor(t) for t in got)):
            _fail(name, f"{name} must return a pair of tensors (masked, mask), got {_shapes(got)}")
        masked, mask = got
        if masked.shape != inp.shape:
            _fail(name, f"masked has shape {tuple(masked.shape)}; it must have the input's, {tuple(inp.shape)}")
        if mask.dtype != torch.bool or mask.shape != (inp.shape[0], 1, *inp.shape[2:]):
            _fail(
                name,
                f"mask is a {mask.dtype} tensor of shape {tuple(mask.shape)}; expected torch.bool of shape "
                f"{(inp.shape[0], 1, *inp.shape[2:])} (one mask for all channels)",
                "e.g. torch.rand(N, 1, H, W, generator=generator) < fraction.",
            )
        return masked, mask

    masked, mask = call(0.1)
    share = mask.float().mean().item()
    if not 0.07 < share < 0.13:
        _fail(
            name,
            f"with fraction=0.1 your mask covers {share:.3f} of the pixels",
            "each pixel is masked with probability fraction (about fraction of all pixels).",
        )
    full = mask.expand_as(x)
    if not torch.equal(masked[~full], x[~full]):
        _fail(name, "pixels outside the mask changed", "only the masked pixels take a neighbour's value.")
    # where each masked value came from
    src = masked.long()
    img, ch = src // (c * h * w), (src // (h * w)) % c
    row, col = (src // w) % h, src % w
    i, k, r, q = torch.meshgrid(*(torch.arange(s) for s in (n, c, h, w)), indexing="ij")
    m = full
    if not (torch.equal(img[m], i[m]) and torch.equal(ch[m], k[m])):
        _fail(
            name,
            "a masked pixel took a value from another image or another channel",
            "take the replacement from the same image and channel, only the position moves.",
        )
    dy, dx = row[m] - r[m], col[m] - q[m]
    if ((dy == 0) & (dx == 0)).any():
        _fail(
            name,
            f"{int(((dy == 0) & (dx == 0)).sum())} masked pixels kept their own value",
            "the offset (dy, dx) must never be (0, 0), also at the border: flip an offset that leaves the image "
            "instead of clamping it (clamping can land back on the pixel).",
        )
    if dy.abs().max() > 2 or dx.abs().max() > 2:
        _fail(name, f"a replacement came from {int(max(dy.abs().max(), dx.abs().max()))} pixels away; radius is 2")
    per_pixel = masked.view(n, c, h * w)
    if not torch.equal(per_pixel[:, 0] - per_pixel[:, 1], torch.full_like(per_pixel[:, 0], -float(h * w))):
        _fail(name, "the channels of a masked pixel came from different neighbours", "draw one offset per pixel.")
    # the offsets cover the whole window: 24 of them for radius 2
    masked, mask = call(0.5, seed=1)
    src = masked.long()
    m = mask.expand_as(x) & (r >= 2) & (r < h - 2) & (q >= 2) & (q < w - 2)
    offsets = set(zip(((src // w) % h - r)[m].tolist(), (src % w - q)[m].tolist()))
    if len(offsets) != 24:
        _fail(
            name,
            f"away from the border your replacements use {len(offsets)} different offsets; the 5x5 window has 24 "
            f"(without its centre)",
            "draw dy and dx over the whole window, e.g. torch.randint(-radius, radius + 1, ...), and redraw or skip "
            "(0, 0).",
        )
    # uniform over the window: each of the 24 offsets takes about 1/24 of the draws (a skewed draw, e.g. (0, 0)
    # turned into (0, 1), gives one offset twice its share)
    wide = torch.arange(16 * 64 * 64, dtype=torch.float32).view(16, 1, 64, 64)
    masked_w, mask_w = call(0.5, seed=3, inp=wide)
    rw = torch.arange(64).view(1, 1, 64, 1).expand(16, 1, 64, 64)
    qw = torch.arange(64).view(1, 1, 1, 64).expand(16, 1, 64, 64)
    inner = mask_w & (rw >= 2) & (rw < 62) & (qw >= 2) & (qw < 62)
    src = masked_w.long()
    codes = (((src // 64) % 64 - rw + 2) * 5 + (src % 64 - qw + 2))[inner]
    counts = torch.bincount(codes, minlength=25).float()
    share = counts / counts.sum() * 24
    share[12] = 1.0  # the centre, already excluded above
    worst = int((share - 1).abs().argmax())
    if (share - 1).abs().max() > 0.25:
        _fail(
            name,
            f"the offset ({worst // 5 - 2}, {worst % 5 - 2}) takes {share[worst].item():.2f} times its fair share of "
            "the replacements; each of the 24 should be equally likely",
            "draw the offset uniformly among the 24, e.g. draw an index 0..23 and skip the centre, or redraw (0, 0) "
            "until it is not (0, 0); replacing (0, 0) by a fixed offset doubles that one.",
        )
    big = call(0.3, radius=1, seed=2)[0]
    src = big.long()
    dyx = ((src // w) % h - r, src % w - q)
    if max(dyx[0].abs().max(), dyx[1].abs().max()) > 1:
        _fail(name, "with radius=1 a replacement came from further than 1 pixel away", "use radius, not a fixed 2.")
    again = call(0.5, seed=1)
    if not (torch.equal(again[0], masked) and torch.equal(again[1], mask)):
        _fail(
            name,
            "with the same generator you give different masks or replacements: some draw does not use generator",
            "pass generator=generator to every torch.rand / torch.randint.",
        )
    _report(name, [], 1)


@_check
def check_masked_mse(fn, name) -> None:
    """Check ``fn(output, target, mask) -> 0-d tensor``: the mean squared error over the masked pixels only
    (``mask`` (N, 1, H, W) bool, every channel of a masked pixel counted), with no gradient reaching the others."""
    g = torch.Generator().manual_seed(4)
    output = torch.rand(3, 2, 16, 16, generator=g, requires_grad=True)
    target = torch.rand(3, 2, 16, 16, generator=g)
    mask = torch.rand(3, 1, 16, 16, generator=g) < 0.1
    full = mask.expand_as(output)
    expected = ((output - target)[full] ** 2).mean()
    got = _run(name, fn, output, target, mask)
    if not torch.is_tensor(got) or got.dim() != 0:
        _fail(
            name,
            f"{name} must return one number as a 0-d tensor, got {_shapes(got)}",
            "end with .mean() or a sum / count.",
        )
    if not torch.isclose(got.detach(), expected.detach(), rtol=1e-5):
        everywhere = F.mse_loss(output, target)
        over_all = ((output - target) ** 2 * full).mean()
        if torch.isclose(got.detach(), everywhere.detach(), rtol=1e-5):
            problem = "you return the mean squared error over all pixels; Noise2Void scores only the masked ones"
            hint = "the network saw every unmasked pixel: scoring it there teaches it to copy its input."
        elif torch.isclose(got.detach(), expected.detach() * output.shape[1], rtol=1e-5):
            problem = (
                f"you divide the masked errors by the number of masked pixels, {int(mask.sum())}, not of masked "
                f"values: each pixel has {output.shape[1]} channels here, so you return {output.shape[1]} times the "
                "mean"
            )
            hint = "count the mask expanded to the output's shape, e.g. mask.expand_as(output).sum()."
        elif torch.isclose(got.detach(), over_all.detach(), rtol=1e-5):
            problem = (
                f"you divide the masked errors by the number of all values: {got.item():.4f} instead of "
                f"{expected.item():.4f}, {got.item() / expected.item():.3f} times the right value"
            )
            hint = "divide by the number of masked values, so the loss does not shrink with the masking fraction."
        else:
            problem = (
                f"on a random case you return {got.item():.6f}; the mean squared error over the masked pixels is "
                f"{expected.item():.6f}"
            )
            hint = "square the difference, keep the masked values (every channel of a masked pixel), and average them."
        _fail(name, problem, hint)
    if got.requires_grad:
        (grad,) = torch.autograd.grad(got, output)
        if grad[~full].abs().max() > 0:
            _fail(name, "a gradient reaches unmasked pixels", "the unmasked pixels must not count in the loss.")
    else:
        _fail(
            name,
            "your loss carries no gradient (did you call .item() or detach?)",
            "return a tensor computed from output.",
        )
    _report(name, [], 1)
