"""Checkpoints that rebuild their model: class name + constructor arguments + weights, in one file.

``save_checkpoint(model, path, **meta)`` writes it (atomically: an interrupted save never leaves a
half-written file in place of a good one; an existing file is replaced only with ``overwrite=True``, and
never a read-only one, a symbolic link, or the course's reference models in ``data/checkpoints``);
``load_checkpoint(path)`` returns the model, ready in eval mode, with ``model.checkpoint_meta`` holding what
was saved with it. Files load with ``torch.load(weights_only=True)``: no pickled code ever runs, and the
model is built only once its arguments and weight shapes have been checked, so a checkpoint from anywhere is
safe: a damaged or forged file gives a :class:`CheckpointError`, never runs code, never allocates more
memory than its weights.

Only course models can be saved this way: classes decorated with :func:`register_model`, which records
the arguments each instance was built with.
"""

from __future__ import annotations

import functools
import inspect
import os
import stat
from pathlib import Path

import torch
import torch.nn as nn

from .download import data_dir
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


def save_checkpoint(model: nn.Module, path, *, overwrite: bool = False, reference: bool = False, **meta) -> Path:
    """Save ``model`` with its class name, constructor arguments and ``meta`` (numbers, strings,
    lists, dicts: e.g. ``epoch=3, psnr=28.4, trained_on="BSDS300"``) to ``path``; return the path.

    Args:
        overwrite: replace ``path`` if it exists (default: refuse with FileExistsError). Even then, a
            read-only file and a symbolic link are left alone (PermissionError).
        reference: only for the instructor's ``scripts/train_*_reference.py``, which write the course's
            reference models: without it, nothing is ever written into ``data/checkpoints``.

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
    path = Path(path)
    _check_destination(path, overwrite=overwrite, reference=reference)
    from .version import __version__

    payload = {
        "format": FORMAT,
        "model_class": name,
        "model_args": dict(model.init_args),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta,
        "course_utils_version": __version__,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _shipped_folder() -> Path:
    """The folder of the course's reference models, ``data/checkpoints`` of the clone."""
    return (data_dir() / "checkpoints").resolve()


def _check_destination(path: Path, *, overwrite: bool, reference: bool) -> None:
    """Refuse, before anything is written, a destination whose file would be lost."""
    if path.is_symlink():
        raise PermissionError(
            f"{path} is a symbolic link (to {os.readlink(path)}); save_checkpoint does not write through links, "
            "so that the file it points to is never replaced by surprise. To replace that file, pass the file it "
            "points to (with overwrite=True); otherwise choose another name."
        )
    shipped = _shipped_folder()
    where = path.parent.resolve()
    if not reference and (where == shipped or shipped in where.parents):
        raise PermissionError(
            f"{path} is in {shipped}, the folder of the course's reference models, which save_checkpoint never "
            f'writes to. Save your model in another folder, e.g. save_checkpoint(model, "runs/{path.name}").'
        )
    if path.exists():
        if not overwrite:
            raise FileExistsError(
                f"{path} already exists, and save_checkpoint does not replace a file unless told to: pass "
                f"overwrite=True to replace it, or choose another name (e.g. {path.stem}_2{path.suffix})."
            )
        if path.is_file() and not path.stat().st_mode & stat.S_IWUSR:
            raise PermissionError(
                f"{path} is read-only, so save_checkpoint leaves it alone, even with overwrite=True. If you mean to "
                f"replace it, make it writable first (chmod u+w {path}); otherwise choose another name."
            )


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
    name, args, state, meta = _parts(path, payload)
    if expect is not None:
        wanted = expect if isinstance(expect, str) else expect.__name__
        if wanted != name:
            raise CheckpointError(
                f"{path} holds a {name}{args}, not a {wanted}: "
                f"load it with load_checkpoint(path) or expect={name}, or pick the {wanted} checkpoint."
            )
    cls = MODEL_REGISTRY.get(name)
    if cls is None:
        raise CheckpointError(
            f"{path} holds a {name}, which this version of course_utils does not know "
            f"(known: {', '.join(sorted(MODEL_REGISTRY))}). Update course_utils "
            f"(the file was written by version {payload.get('course_utils_version')})."
        )
    _check_arguments(path, payload, cls, args, state)
    model = cls(**args)  # for real only now: its weights have the shapes of the file's, whose memory is already taken
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(
            f"the weights in {path} do not fit {name}({_call(args)}): "
            f"{str(e).splitlines()[0]} The file was probably edited or written by another version."
        ) from None
    model.checkpoint_meta = dict(meta)
    return model.to(device or "cpu").eval()


_REMEDY = "Save the model again with save_checkpoint, or download the file again."


def _damaged(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path} {what}: it was edited or damaged. {_REMEDY}")


def _unbuildable(path: Path, name: str, args: dict, why: str) -> CheckpointError:
    return CheckpointError(
        f"{name} cannot be built from the arguments in {path} ({_call(args)}): {why}. The file was edited or "
        f"damaged. {_REMEDY}"
    )


def _parts(path: Path, payload: dict) -> tuple[str, dict, dict, dict]:
    """The class name, constructor arguments, weights and metadata of a checkpoint, each checked for its type."""
    name = payload.get("model_class")
    if not isinstance(name, str) or not name:
        raise _damaged(path, "does not say which model it holds (no model_class)")
    args = payload.get("model_args")
    if not (isinstance(args, dict) and all(isinstance(k, str) for k in args)):
        raise _damaged(path, f"has no readable constructor arguments for its {name} (model_args)")
    state = payload.get("state_dict")
    if not (isinstance(state, dict) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items())):
        raise _damaged(path, f"holds no readable weights for its {name} (state_dict: names and tensors)")
    meta = payload.get("meta", {})
    if not (isinstance(meta, dict) and all(isinstance(k, str) for k in meta)):
        raise _damaged(path, "has unreadable metadata (meta)")
    return name, args, state, meta


def _call(args: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def _check_arguments(path: Path, payload: dict, cls: type[nn.Module], args: dict, state: dict) -> None:
    """Check the file's constructor arguments without building the model for real: against the class's
    signature, then (whole numbers) against the size of the weights, then by building it on the ``meta`` device
    (no memory) and comparing every weight's shape with the file's."""
    name = cls.__name__
    version = payload.get("course_utils_version")
    sig = inspect.signature(cls.__init__)  # the class's own signature (register_model keeps it)
    params = [p for p in list(sig.parameters.values())[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes_any = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = sorted(set(args) - {p.name for p in params})
    if unknown and not takes_any:
        raise CheckpointError(
            f"{path} gives {name} unknown argument(s) {', '.join(unknown)} ({name} takes "
            f"{', '.join(p.name for p in params)}): the file was edited, or written by another version of "
            f"course_utils ({version}). {_REMEDY}"
        )
    try:
        sig.bind(None, **args)
    except TypeError as e:
        raise _unbuildable(path, name, args, str(e)) from None
    # A whole number larger than any weight's dimension and than the number of weights (say depth=10**6) would
    # take minutes and gigabytes even without weights; small ones are always harmless.
    bound = max([64, len(state), *(max(v.shape, default=0) for v in state.values())])
    for key, value in args.items():
        for number in _whole_numbers(value):
            if number > bound:
                raise CheckpointError(
                    f"the constructor arguments in {path} do not fit its weights ({key}={value!r}, but no weight is "
                    f"larger than {bound} along any dimension): the file was edited or damaged. {_REMEDY}"
                )
    try:
        with torch.device("meta"):  # the model's shapes without its memory
            skeleton = cls(**args)
    except Exception as e:
        first_line = str(e).splitlines()[0] if str(e) else ""
        raise _unbuildable(path, name, args, type(e).__name__ + (f": {first_line}" if first_line else "")) from None
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        missing = [f"missing {k}" for k in sorted(expected.keys() - found.keys())]
        extra = [f"unexpected {k}" for k in sorted(found.keys() - expected.keys())]
        wrong = [f"{k} is {found[k]}, not {expected[k]}" for k in expected if k in found and expected[k] != found[k]]
        differences = missing + extra + wrong
        what = "; ".join(differences[:3]) + (f" (and {len(differences) - 3} more)" if len(differences) > 3 else "")
        raise CheckpointError(
            f"the weights in {path} do not fit {name}({_call(args)}): {what}. The file was edited or written by "
            f"another version. {_REMEDY}"
        )


def _whole_numbers(value):
    if isinstance(value, int) and not isinstance(value, bool):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _whole_numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _whole_numbers(v)
