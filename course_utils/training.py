"""One small training loop, used by every notebook of the course, and the one-cycle learning-rate schedule it
usually runs with (:func:`one_cycle_lr`: the rate of each step, to draw or to check)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn

from .device import get_device
from .progress import Progress

__all__ = ["fit", "History", "one_cycle_lr"]


@dataclass
class History:
    """What :func:`fit` measured: ``loss`` per step, and ``val`` as (step, value) pairs."""

    loss: list[float] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)

    def smoothed(self, window: int = 20) -> list[float]:
        """Running mean of the training loss over ``window`` steps (for readable loss curves)."""
        out, acc = [], 0.0
        for i, v in enumerate(self.loss):
            acc += v - (self.loss[i - window] if i >= window else 0.0)
            out.append(acc / min(i + 1, window))
        return out


def _batches(source, steps: int) -> Iterator:
    """An endless iterator of batches from a zero-argument function or a (re-iterable) loader.

    A generator or any other one-pass iterator is used once: when it runs out before ``steps`` batches,
    a ValueError says so (it used to loop forever, deaf to Ctrl-C). A loader that gives no batch at all in
    a pass stops the same way. Errors raised by ``source`` itself pass through untouched.
    """
    if callable(source) and not hasattr(source, "__iter__"):
        return iter(source, object())  # call source() forever
    if hasattr(source, "__iter__"):
        return _passes(source, steps)
    raise TypeError(
        "batches must be a function returning (inputs, targets), e.g. lambda: gen(64), "
        f"or a DataLoader; got {type(source).__name__}"
    )


def _passes(source, steps: int) -> Iterator:
    given = 0
    while True:
        it = iter(source)
        one_pass = it is source  # a generator or other iterator: there is no second pass
        in_this_pass = 0
        for batch in it:
            in_this_pass += 1
            given += 1
            yield batch
        if one_pass:
            raise ValueError(
                f"your batch source ran out after {given} batches, but steps={steps} asks for {steps}. "
                "A generator can be read only once: pass a function that returns one batch per call "
                "(e.g. lambda: gen(64)) or a DataLoader, or ask for fewer steps."
            )
        if in_this_pass == 0:
            raise ValueError(
                f"your batch source gave no batch at all ({type(source).__name__} is empty), so it cannot give "
                f"steps={steps}. Check that it holds data (a DataLoader with drop_last=True gives no batch when "
                "the data set is smaller than batch_size)."
            )


def _pair(batch):
    """``batch`` as (inputs, targets), or a TypeError that says what it was instead."""
    if torch.is_tensor(batch):
        what = f"a tensor of shape {tuple(batch.shape)}"
    elif isinstance(batch, (tuple, list)) and len(batch) != 2:
        what = f"a {type(batch).__name__} of {len(batch)} items"
    else:
        try:
            inputs, targets = batch
            return inputs, targets
        except (TypeError, ValueError):
            what = f"a {type(batch).__name__}"
    raise TypeError(
        f"each batch must be a pair (inputs, targets); your batch source gave {what}. Return both, e.g. return x, y."
    )


def fit(
    model: nn.Module,
    batches,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    device=None,
    val_fn: Callable[[nn.Module], float] | None = None,
    val_every: int | None = None,
    scheduler=None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` and return its :class:`History`.

    Args:
        batches: a zero-argument function giving ``(inputs, targets)`` (e.g. ``lambda: gen(64)``) or a
            DataLoader of such pairs, used epoch after epoch.
        loss_fn: ``loss_fn(model(inputs), targets)`` -> scalar tensor.
        steps: number of optimizer steps; or ``epochs``: passes over a DataLoader (needs ``len``).
            Take them from the budget: ``steps=by_budget(full=4000, cpu=300, fast=3)``.
        device: where to train (default: :func:`get_device`); batches are moved there.
        val_fn: called as ``val_fn(model)`` in eval mode without gradients every ``val_every`` steps
            (default: at the end, and once per epoch with ``epochs``); returns a float.
        scheduler: a learning-rate scheduler stepped after every optimizer step.
        progress: show one line with the step, the running loss and the time (:class:`~course_utils.progress.Progress`:
            plain text, kept when the notebook is saved).

    A generator (``batches=(b for b in ...)``) is read once: if it runs out before ``steps``, a ValueError says
    after how many batches. Errors raised inside your batch function or loss reach you as they are, and Ctrl-C
    stops training at the current step.

    The model is left in eval mode. Only floats are kept between steps (no autograd graph survives),
    so memory does not grow with the number of steps.
    """
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs=")
    if epochs is not None:
        if not hasattr(batches, "__len__"):
            raise ValueError("epochs= needs a DataLoader (something with len()); with a generator function use steps=")
        per_epoch = len(batches)
        if per_epoch == 0:
            raise ValueError(
                f"epochs={epochs} of this {type(batches).__name__} would train nothing: it gives no batch (a "
                "DataLoader with drop_last=True gives none when the data set is smaller than batch_size). Check "
                "the data set and batch_size."
            )
        steps = epochs * per_epoch
        val_every = val_every or per_epoch
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    history = History()
    stream = _batches(batches, steps)
    running = None
    with Progress(steps, desc, unit="steps", enabled=progress) as bar:
        for step in range(steps):
            model.train()
            inputs, targets = _pair(next(stream))  # the source's own errors reach you as they are
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            value = loss.item()
            history.loss.append(value)
            running = value if running is None else 0.9 * running + 0.1 * value
            if val_fn is not None and (val_every and (step + 1) % val_every == 0 or step == steps - 1):
                if not history.val or history.val[-1][0] != step + 1:
                    history.val.append((step + 1, _validate(model, val_fn)))
            shown = {"loss": f"{running:.4g}"}
            if history.val:
                shown["validation"] = f"{history.val[-1][1]:.4g}"
            bar.update(1, **shown)
    model.eval()
    return history


def _validate(model: nn.Module, val_fn) -> float:
    model.eval()
    with torch.no_grad():
        return float(val_fn(model))


def one_cycle_lr(
    step: int,
    total_steps: int,
    peak: float,
    *,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> float:
    """The learning rate that training step ``step`` (0 .. ``total_steps`` - 1) uses under PyTorch's
    ``OneCycleLR(optimizer, peak, total_steps=total_steps)`` (cosine annealing, two phases), stepped after
    every optimizer step as :func:`fit` does. The one-cycle policy is Smith and Topin's ("Super-Convergence:
    Very Fast Training of Neural Networks Using Large Learning Rates", 2019).

    Warm-up: from ``peak / div_factor`` at step 0 up to ``peak`` at step ``pct_start * total_steps - 1``;
    then down to ``peak / (div_factor * final_div_factor)`` at step ``total_steps - 1``. Each phase follows half
    a cosine: ``end + (start - end) * (1 + cos(pi * t)) / 2``, ``t`` going from 0 to 1 over the phase.

    Raises:
        ValueError: ``total_steps`` < 2, or ``step`` outside 0 .. ``total_steps`` - 1.
    """
    if total_steps < 2 or not 0 <= step < total_steps:
        raise ValueError(
            f"step must lie in 0 .. total_steps - 1 with total_steps >= 2; got step={step}, total_steps={total_steps}"
        )
    start, low = peak / div_factor, peak / (div_factor * final_div_factor)
    turn, last = float(pct_start * total_steps) - 1, total_steps - 1

    def half_cosine(a: float, b: float, t: float) -> float:
        return b + (a - b) * (1 + math.cos(math.pi * t)) / 2

    if step <= turn:
        return half_cosine(start, peak, step / turn if turn > 0 else 1.0)
    return half_cosine(peak, low, (step - turn) / (last - turn))
