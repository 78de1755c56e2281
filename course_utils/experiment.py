"""An experiment that survives interruptions: train epoch by epoch, checkpoint after every epoch, resume.

Modelled on ``nntools.Experiment`` of the original DnCNN assignment (Deledalle, UCSD ECE285)::

    exp = Experiment(model, train_set, val_set, optimizer, output_dir="runs/dncnn", batch_size=4)
    exp.run(num_epochs=20, plot=lambda exp: ...)   # run again after an interruption: it resumes

* ``output_dir/config.json`` records what the experiment is (model class and arguments, optimizer and its
  settings, learning-rate scheduler, batch size, loss, data sizes, your ``config``); ``output_dir/checkpoint.pt``
  the model, the optimizer and scheduler states and the history after the last finished epoch (written
  atomically, loaded with ``weights_only=True``).
* Creating an ``Experiment`` on an existing ``output_dir`` resumes it if the configuration is the same,
  and refuses (``ExperimentMismatch``) if it differs: nothing of the other run is overwritten.
* ``history``: one ``{"epoch", "train_loss", "train_psnr", "val_loss", "val_psnr", "seconds"}`` per epoch.

Pairs are (input, target) images; PSNR assumes pixel values spanning ``data_range`` (2 for [-1, 1]).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from .device import get_device
from .files import atomic_path
from .metrics import psnr

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
            saved = json.loads(self.config_path.read_text())
            if saved != self.config:
                diff = sorted(k for k in saved.keys() | self.config.keys() if saved.get(k) != self.config.get(k))
                raise ExperimentMismatch(
                    f"{self.output_dir} holds another experiment (differs in: {', '.join(diff)}). Use another "
                    "output_dir for this one, or delete that folder to start it again."
                )
            if self.checkpoint_path.exists():
                self.load()
        else:
            self.config_path.write_text(json.dumps(self.config, indent=2))

    def load(self) -> None:
        """Restore model, optimizer, scheduler and history from ``checkpoint.pt``."""
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history = list(state["history"])

    def save(self) -> None:
        """Write ``checkpoint.pt`` atomically (a crash mid-write keeps the previous one)."""
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(
                {
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                    "history": self.history,
                },
                tmp,
            )

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
        """Train until ``num_epochs`` epochs are finished (resuming where the history stops), checkpointing
        after each, and call ``plot(self)`` after each (e.g. to refresh a live figure). Returns ``history``."""
        if plot is not None and self.history:
            plot(self)
        for epoch in range(self.epoch, num_epochs):
            t0 = time.perf_counter()
            self.model.train()
            losses, psnrs = [], []
            for x, y in tqdm(
                self.train_loader, desc=f"epoch {epoch + 1}/{num_epochs}", disable=not progress, leave=False
            ):
                x, y = x.to(self.device), y.to(self.device)
                self.optimizer.zero_grad(set_to_none=True)
                out = self.model(x)
                loss = self.loss_fn(out, y)
                loss.backward()
                self.optimizer.step()
                if self.scheduler is not None:
                    self.scheduler.step()
                losses.append(loss.item())
                psnrs.append(psnr(out.detach(), y, data_range=self.data_range).item())
            record = {
                "epoch": epoch + 1,
                "train_loss": sum(losses) / max(len(losses), 1),
                "train_psnr": sum(psnrs) / max(len(psnrs), 1),
                **self.evaluate(),
                "seconds": time.perf_counter() - t0,
            }
            self.history.append(record)
            self.save()
            if plot is not None:
                plot(self)
        self.model.eval()
        return self.history

    def __repr__(self) -> str:
        return f"Experiment({self.output_dir}, {self.epoch} epochs done, {json.dumps(self.config)})"
