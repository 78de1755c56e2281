"""An experiment that survives interruptions: train epoch by epoch, checkpoint after every epoch, resume.

Modelled on ``nntools.Experiment`` of the original DnCNN assignment (Deledalle, UCSD ECE285)::

    exp = Experiment(model, train_set, val_set, optimizer, output_dir="runs/dncnn", batch_size=4)
    exp.run(num_epochs=20, plot=lambda exp: ...)   # run again after an interruption: it resumes

* ``output_dir/config.json`` records what the experiment is (model class and arguments, optimizer and its
  settings, learning-rate scheduler, batch size, loss, data sizes, your ``config``); ``output_dir/checkpoint.pt``
  the model, the optimizer and scheduler states and the history after the last finished epoch (written
  atomically, loaded with ``weights_only=True``).
* Creating an ``Experiment`` on an existing ``output_dir`` resumes it if the configuration is the same,
  and refuses (``ExperimentMismatch``) if it differs, or if ``config.json`` is missing next to a checkpoint:
  nothing of the other run is overwritten. A damaged ``checkpoint.pt`` gives a
  :class:`~course_utils.checkpoints.CheckpointError` that says what to do.
* ``run(n)`` trains until n epochs are finished in all. An epoch that does not finish (Ctrl-C, an error, a loss
  that turns NaN or infinite) is rolled back: the experiment is again as its checkpoint holds it, and the
  checkpoint of the last good epoch is never replaced by a diverged one.
* ``history``: one ``{"epoch", "train_loss", "train_psnr", "val_loss", "val_psnr", "seconds"}`` per epoch.

Pairs are (input, target) images; PSNR assumes pixel values spanning ``data_range`` (2 for [-1, 1]).
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from .checkpoints import CheckpointError
from .device import get_device
from .files import atomic_path
from .metrics import psnr
from .progress import Progress

__all__ = ["Experiment", "ExperimentMismatch"]


class ExperimentMismatch(ValueError):
    """``output_dir`` holds a different experiment; the message says what differs and what to do."""


def _describe(obj) -> dict:
    if isinstance(obj, torch.optim.Optimizer):
        keep = ("lr", "betas", "momentum", "weight_decay", "eps")
        return {
            "class": type(obj).__name__,
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in obj.defaults.items() if k in keep},
        }
    return {"class": type(obj).__name__, **{k: v for k, v in getattr(obj, "init_args", {}).items()}}


class Experiment:
    """Train ``model`` on ``train_set`` (a Dataset of pairs), validate on ``val_set`` after every epoch.

    Args:
        model, optimizer: the network and its optimizer (its state is checkpointed too).
        train_set, val_set: datasets of (input, target) pairs of (C, H, W) tensors.
        output_dir: the experiment's folder (created; resumed if it holds the same experiment).
        batch_size: training batch size (validation uses batches of ``val_batch_size``).
        loss_fn: default mean squared error, as in the assignment.
        data_range: for the PSNR (2.0 for images in [-1, 1], 1.0 for [0, 1]).
        config: anything else that defines the run (noise level, crop size, ...): part of the identity.
        scheduler: a learning-rate scheduler of ``optimizer``, stepped after every batch (e.g.
            ``OneCycleLR(optimizer, max_lr, total_steps=epochs * len(train_loader))``); checkpointed too.
        device: default :func:`~course_utils.get_device`.

    Raises ValueError when ``train_set`` holds fewer pairs than ``batch_size`` (an epoch would have no batch) or
    ``val_set`` is empty.
    """

    def __init__(
        self,
        model: nn.Module,
        train_set,
        val_set,
        optimizer: torch.optim.Optimizer,
        output_dir,
        *,
        batch_size: int = 4,
        val_batch_size: int = 4,
        loss_fn: Callable | None = None,
        data_range: float = 1.0,
        config: dict | None = None,
        scheduler=None,
        device=None,
        num_workers: int = 0,
    ):
        if len(train_set) < batch_size:
            raise ValueError(
                f"the training set has {len(train_set)} pairs, fewer than batch_size={batch_size}: an epoch would "
                "have no batch (an incomplete last batch is dropped). Use a smaller batch_size or more training "
                "pairs."
            )
        if len(val_set) == 0:
            raise ValueError("the validation set is empty: give val_set at least one (input, target) pair.")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.loss_fn = loss_fn or nn.MSELoss()
        self.data_range = data_range
        self.device = torch.device(device) if device is not None else get_device()
        self.model.to(self.device)
        self.train_loader = torch.utils.data.DataLoader(
            train_set, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=num_workers
        )
        self.val_loader = torch.utils.data.DataLoader(val_set, batch_size=val_batch_size, shuffle=False)
        self.output_dir = Path(output_dir)
        self.config = json.loads(
            json.dumps(
                {
                    "model": _describe(model),
                    "optimizer": _describe(optimizer),
                    "batch_size": batch_size,
                    "scheduler": type(scheduler).__name__ if scheduler is not None else None,
                    "loss": getattr(self.loss_fn, "__name__", type(self.loss_fn).__name__),
                    "data_range": data_range,
                    "train_items": len(train_set),
                    "val_items": len(val_set),
                    **(config or {}),
                }
            )
        )
        self.history: list[dict] = []
        self._start = None  # the state before the first epoch, while no checkpoint holds it
        self._open()

    @property
    def config_path(self) -> Path:
        return self.output_dir / "config.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.output_dir / "checkpoint.pt"

    @property
    def epoch(self) -> int:
        """Number of finished epochs."""
        return len(self.history)

    def _open(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            try:
                saved = json.loads(self.config_path.read_text())
            except (ValueError, UnicodeDecodeError):
                raise ExperimentMismatch(
                    f"{self.config_path} cannot be read (it is not JSON), so this experiment cannot check that "
                    f"{self.output_dir} holds the same one. Restore the file, or use another output_dir."
                ) from None
            if saved != self.config:
                diff = sorted(k for k in saved.keys() | self.config.keys() if saved.get(k) != self.config.get(k))
                raise ExperimentMismatch(
                    f"{self.output_dir} holds another experiment (differs in: {', '.join(diff)}). Use another "
                    "output_dir for this one, or delete that folder to start it again."
                )
            if self.checkpoint_path.exists():
                self.load()
        elif self.checkpoint_path.exists():
            raise ExperimentMismatch(
                f"{self.output_dir} holds a checkpoint.pt but no config.json, so this experiment cannot check that "
                "it is the same one; starting here would train from epoch 0 and replace that checkpoint. To resume "
                "it, restore its config.json (e.g. from a copy of the folder); to start again, delete checkpoint.pt "
                "(or move it away to keep it), or use another output_dir."
            )
        else:
            self.config_path.write_text(json.dumps(self.config, indent=2))

    def load(self) -> None:
        """Restore model, optimizer, scheduler and history from ``checkpoint.pt`` (loaded with
        ``weights_only=True``: nothing in it can run code). Raises CheckpointError when the file is damaged or
        does not fit this experiment."""
        path = self.checkpoint_path
        what_to_do = (
            f"Delete {path} to train this experiment again from the start (its config.json can stay), or put "
            "back a good copy of the file."
        )
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as e:  # never repeat torch's message: it may suggest an unsafe setting
            what = (
                "holds Python objects other than weights, which are never loaded (they could run code)"
                if "Weights only load failed" in str(e)
                else f"is damaged (truncated or corrupt: {type(e).__name__})"
            )
            raise CheckpointError(f"{path} {what}. {what_to_do}") from None
        needed = ("model", "optimizer", "history") + (("scheduler",) if self.scheduler is not None else ())
        missing = [k for k in needed if not isinstance(state, dict) or k not in state]
        if missing or not isinstance(state["history"], list):
            raise CheckpointError(
                f"{path} is not a checkpoint of an Experiment (it lacks {', '.join(missing) or 'a history'}): it "
                f"was edited or damaged. {what_to_do}"
            )
        try:
            self._restore(state)
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"{path} does not fit this experiment ({first}): it was edited, damaged or written by another "
                f"version. {what_to_do}"
            ) from None
        self.history = list(state["history"])

    def save(self) -> None:
        """Write ``checkpoint.pt`` atomically (a crash mid-write keeps the previous one)."""
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save({**self._state(), "history": self.history}, tmp)

    def _state(self) -> dict:
        """The training state (the checkpoint without the history): live references, not copies."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
        }

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    def evaluate(self) -> dict[str, float]:
        """Mean loss and mean per-image PSNR on the validation set (eval mode, no gradients)."""
        self.model.eval()
        losses, psnrs = [], []
        with torch.no_grad():
            for x, y in self.val_loader:
                x, y = x.to(self.device), y.to(self.device)
                out = self.model(x)
                losses.append(self.loss_fn(out, y).item() * len(x))
                psnrs.append(psnr(out, y, data_range=self.data_range, reduction="none").cpu())
        n = len(self.val_loader.dataset)
        return {"val_loss": sum(losses) / n, "val_psnr": torch.cat(psnrs).mean().item()}

    def run(self, num_epochs: int, plot: Callable[[Experiment], None] | None = None, progress: bool = True):
        """Train until ``num_epochs`` epochs are finished in all (resuming where the history stops: ``run(3)``
        after ``run(2)`` trains one more epoch, ``run(2)`` again none), checkpointing after each, and call
        ``plot(self)`` after each (e.g. to refresh a live figure). Returns ``history``.

        An epoch that does not finish (Ctrl-C, an error, a loss that becomes NaN or infinite) is rolled back:
        model, optimizer, scheduler and history are again those of the last finished epoch (as in
        ``checkpoint.pt``), so ``run`` again continues exactly as a new session would. A diverging run raises
        FloatingPointError and keeps the last good checkpoint. A schedule built for a fixed number of steps
        (``OneCycleLR``'s ``total_steps``) that ``num_epochs`` would exceed is refused before training.
        ``progress`` shows one line (batches, epoch, loss, validation PSNR, time) that stays when the notebook is
        saved (:class:`~course_utils.progress.Progress`)."""
        self._check_schedule(num_epochs)
        if plot is not None and self.history:
            plot(self)
        todo = max(0, num_epochs - self.epoch) * len(self.train_loader)
        with Progress(todo, "training", unit="batches", enabled=progress) as bar:
            for epoch in range(self.epoch, num_epochs):
                if self.epoch == 0 and self._start is None:
                    self._start = self._snapshot()
                try:
                    self._train_epoch(epoch, num_epochs, bar)
                except BaseException:
                    self._roll_back()
                    raise
                self._start = None
                bar.update(0, **{"validation PSNR": f"{self.history[-1]['val_psnr']:.2f} dB"})
                if plot is not None:
                    plot(self)
        self.model.eval()
        return self.history

    def _check_schedule(self, num_epochs: int) -> None:
        total = getattr(self.scheduler, "total_steps", None)
        per_epoch = len(self.train_loader)
        if isinstance(total, int) and num_epochs * per_epoch > total:
            name = type(self.scheduler).__name__
            raise ValueError(
                f"this experiment's {name} schedule was built for {total} steps ({total // per_epoch} epochs of "
                f"{per_epoch} batches), so it cannot run {num_epochs} epochs ({num_epochs * per_epoch} steps). Ask "
                f"for at most {total // per_epoch} epochs, or start a new experiment (another output_dir) with a "
                f"schedule of {num_epochs * per_epoch} steps (total_steps=num_epochs * len(train_loader))."
            )

    def _train_epoch(self, epoch: int, num_epochs: int, bar: Progress) -> None:
        """One epoch, its record in the history, its checkpoint; raises before saving anything that diverged."""
        t0 = time.perf_counter()
        self.model.train()
        losses, psnrs = [], []
        for i, (x, y) in enumerate(self.train_loader):
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            out = self.model(x)
            loss = self.loss_fn(out, y)
            value = loss.item()
            if not math.isfinite(value):
                raise self._diverged(
                    f"the training loss became {value} in epoch {epoch + 1}, batch {i + 1}",
                    "check that the data hold no NaN",
                )
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            losses.append(value)
            psnrs.append(psnr(out.detach(), y, data_range=self.data_range).item())
            bar.update(1, epoch=f"{epoch + 1}/{num_epochs}", loss=f"{value:.4g}")
        if not all(v.isfinite().all() for v in self.model.state_dict().values() if v.is_floating_point()):
            raise self._diverged(f"after epoch {epoch + 1} the model's weights hold NaN or infinite values")
        self.history.append(
            {
                "epoch": epoch + 1,
                "train_loss": sum(losses) / len(losses),
                "train_psnr": sum(psnrs) / len(psnrs),
                **self.evaluate(),
                "seconds": time.perf_counter() - t0,
            }
        )
        self.save()

    def _diverged(self, what: str, also: str = "") -> FloatingPointError:
        """The error of a diverged run: what happened, what is kept, what to try."""
        kept = (
            "Nothing was saved."
            if self.epoch == 0
            else f"This epoch is dropped; the checkpoint of epoch {self.epoch} ({self.checkpoint_path}) is kept."
        )
        return FloatingPointError(
            f"{what}: training diverged. {kept} Try a lower learning rate (in a new output_dir, or delete "
            f"{self.output_dir} to start again){', and ' + also if also else ''}."
        )

    def _snapshot(self) -> dict:
        return copy.deepcopy(self._state())

    def _roll_back(self) -> None:
        """Back to the end of the last finished epoch: the checkpoint, or the state before the first epoch."""
        if self._start is not None:
            self._restore(self._start)
            self.history = []
        else:
            self.load()

    def __repr__(self) -> str:
        return f"Experiment({self.output_dir}, {self.epoch} epochs done, {json.dumps(self.config)})"
