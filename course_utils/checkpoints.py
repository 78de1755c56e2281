"""Checkpoints that rebuild their model: class name + constructor arguments + weights, in one file.

``save_checkpoint(model, path, **meta)`` writes it (atomically: an interrupted save never leaves a
half-written file in place of a good one); ``load_checkpoint(path)`` returns the model, ready in eval
mode, with ``model.checkpoint_meta`` holding what was saved with it. Files load with
``torch.load(weights_only=True)``: no pickled code ever runs, so a checkpoint from anywhere is safe.

Only course models can be saved this way: classes decorated with :func:`register_model`, which records
the arguments each instance was built with.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import torch
import torch.nn as nn

from .files import atomic_path

__all__ = ["register_model", "save_checkpoint", "load_checkpoint", "CheckpointError", "MODEL_REGISTRY"]

FORMAT = "course_utils.checkpoint/1"
MODEL_REGISTRY: dict[str, type[nn.Module]] = {}
_PLAIN = (bool, int, float, str, type(None))


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not fit what was asked; the message says what to do."""


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: record the constructor arguments of each instance in ``model.init_args``
    and make the class loadable by :func:`load_checkpoint`."""
    init = cls.__init__
    sig = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(self, *args, **kwargs)
        self.init_args = {k: v for k, v in bound.arguments.items() if k != "self"}

    cls.__init__ = __init__
    MODEL_REGISTRY[cls.__name__] = cls
    return cls


def _check_plain(value, where: str):
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_plain(v, where)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: dictionary keys must be strings, not {k!r}")
            _check_plain(v, where)
        return
    raise TypeError(
        f"{where}: {type(value).__name__} cannot be stored safely; use numbers, strings, lists and dicts "
        "(e.g. float(x) for a tensor value)"
    )


def save_checkpoint(model: nn.Module, path, **meta) -> Path:
    """Save ``model`` with its class name, constructor arguments and ``meta`` (numbers, strings,
    lists, dicts: e.g. ``epoch=3, psnr=28.4, trained_on="BSDS300"``) to ``path``; return the path.

    The file is written next to its destination, then renamed over it, so a crash or a full disk
    never destroys the previous checkpoint.
    """
    name = type(model).__name__
    if MODEL_REGISTRY.get(name) is not type(model) or not hasattr(model, "init_args"):
        raise CheckpointError(
            f"{name} is not a registered course model, so it could not be rebuilt from a checkpoint. "
            "Decorate the class with @course_utils.register_model, or save model.state_dict() with torch.save."
        )
    _check_plain(model.init_args, f"constructor arguments of {name}")
    _check_plain(meta, "checkpoint metadata")
    from .version import __version__

    payload = {
        "format": FORMAT,
        "model_class": name,
        "model_args": dict(model.init_args),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta,
        "course_utils_version": __version__,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path, expect: type[nn.Module] | str | None = None, device=None) -> nn.Module:
    """Rebuild the model saved in ``path`` and return it in eval mode on ``device`` (default CPU).

    Args:
        path: a file written by :func:`save_checkpoint`.
        expect: the class (or class name) you expect; another architecture raises a clear error.
        device: where to put the model ("cpu", "cuda", a ``torch.device``).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is corrupt or truncated, is not a course checkpoint (e.g. a bare
            state dict), holds another architecture than ``expect``, or its weights do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: check the path (current folder: {Path.cwd()})")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, corrupt, or holding objects that weights_only refuses
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt, truncated or not a PyTorch file: {type(e).__name__}). "
            "Download or save it again."
        ) from None
    if not (isinstance(payload, dict) and payload.get("format") == FORMAT):
        hint = (
            " It looks like a bare state dict: build the model yourself and call model.load_state_dict()."
            if isinstance(payload, dict) and payload and all(torch.is_tensor(v) for v in payload.values())
            else ""
        )
        raise CheckpointError(f"{path} is not a course_utils checkpoint (written by save_checkpoint).{hint}")
    name = payload["model_class"]
    if expect is not None:
        wanted = expect if isinstance(expect, str) else expect.__name__
        if wanted != name:
            raise CheckpointError(
                f"{path} holds a {name}{payload['model_args']}, not a {wanted}: "
                f"load it with load_checkpoint(path) or expect={name}, or pick the {wanted} checkpoint."
            )
    cls = MODEL_REGISTRY.get(name)
    if cls is None:
        raise CheckpointError(
            f"{path} holds a {name}, which this version of course_utils does not know "
            f"(known: {', '.join(sorted(MODEL_REGISTRY))}). Update course_utils "
            f"(the file was written by version {payload.get('course_utils_version')})."
        )
    model = cls(**payload["model_args"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(
            f"the weights in {path} do not fit {name}({payload['model_args']}): "
            f"{str(e).splitlines()[0]} The file was probably edited or written by another version."
        ) from None
    model.checkpoint_meta = dict(payload.get("meta", {}))
    return model.to(device or "cpu").eval()
