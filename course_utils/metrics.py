"""Metrics on batches.

* Restoration: MSE, MAE and PSNR (per image, then averaged, or pooled), ``scores``.
* Binary segmentation: pixel accuracy, precision, recall, IoU (Jaccard) and Dice (F1) from the
  confusion counts of a prediction against a mask, and the precision-recall curve over thresholds.
  Predictions are boolean (or 0/1) maps; use ``logits > threshold`` (threshold 0 is probability 1/2).
  Counts are pooled over the whole batch by default (``reduction="pooled"``), so that small images
  and empty images do not dominate; ``reduction="none"`` gives one value per image.
  A ratio whose denominator is empty is 1.0: nothing to find (recall), nothing claimed
  (precision), both masks empty (IoU, Dice); these are the cases a perfect model also meets.
"""

from __future__ import annotations

import torch

__all__ = [
    "mse",
    "mae",
    "psnr",
    "scores",
    "scores_table",
    "MAX_PSNR_DB",
    "confusion",
    "pixel_accuracy",
    "precision",
    "recall",
    "iou",
    "dice",
    "pr_curve",
    "segmentation_scores",
]


def _per_image(err: torch.Tensor) -> torch.Tensor:
    return err.reshape(err.shape[0], -1).mean(dim=1) if err.dim() > 1 else err.mean().reshape(1)


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'none' or (for psnr) 'pooled', not {reduction!r}")


def _pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}; compare images of the same size")
    return x.detach().float(), y.detach().float()


def mse(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error per image of two (N, ...) batches; averaged over N unless reduction='none'."""
    x, y = _pair(x, y)
    return _reduce(_per_image((x - y) ** 2), reduction)


def mae(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error per image of two (N, ...) batches; averaged over N unless reduction='none'."""
    x, y = _pair(x, y)
    return _reduce(_per_image((x - y).abs()), reduction)


MAX_PSNR_DB = 100.0  # a perfect match scores this, not +inf, so that averages stay finite


def psnr(x: torch.Tensor, y: torch.Tensor, *, data_range: float, reduction: str = "mean") -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, 10·log10(data_range² / MSE), of two (N, ...) batches.

    Args:
        x, y: batches of the same shape, e.g. (N, C, H, W).
        data_range: the span of valid pixel values, stated explicitly: 1.0 for images in [0, 1],
            255.0 for 8-bit images, 2.0 for [-1, 1]. Getting it wrong shifts PSNR by 20·log10(ratio).
        reduction: "mean": the average of the per-image PSNRs (the convention of the DnCNN paper);
            "none": the per-image PSNRs; "pooled": one PSNR from the MSE over the whole batch, the
            right choice when some images can be matched exactly (e.g. synthetic images with no noise).

    An exact match scores ``MAX_PSNR_DB`` (100 dB) rather than +inf.
    """
    if not (isinstance(data_range, (int, float)) and data_range > 0):
        raise ValueError(f"data_range must be a positive number (1.0 for [0,1] images), not {data_range!r}")
    err = mse(x, y, reduction="none")
    pooled = reduction == "pooled"
    err = err.mean() if pooled else err
    db = 10 * torch.log10(data_range**2 / err.clamp_min(data_range**2 * 10 ** (-MAX_PSNR_DB / 10)))
    return db if pooled else _reduce(db, reduction)


def scores(output: torch.Tensor, clean: torch.Tensor, data_range: float = 1.0) -> dict[str, float]:
    """The restoration report card of the course: pooled PSNR (dB), MAE and mean error (the bias:
    positive when the output is too bright on average) of an output batch against the clean images."""
    return {
        "PSNR (dB)": psnr(output, clean, data_range=data_range, reduction="pooled").item(),
        "MAE": mae(output, clean).item(),
        "mean error": (output.detach().float() - clean.float()).mean().item(),
    }


def scores_table(results: dict[str, dict[str, float]], floatfmt=("", ".2f", ".4f", "+.4f")) -> str:
    """``{method: scores(...)}`` (or ``segmentation_scores``, with ``floatfmt=".3f"``) as a plain-text
    table, one row per method."""
    from tabulate import tabulate

    headers = ["method", *next(iter(results.values()))]
    return tabulate([(name, *card.values()) for name, card in results.items()], headers=headers, floatfmt=floatfmt)


# ---------------------------------------------------------------- binary segmentation


def confusion(pred: torch.Tensor, target: torch.Tensor, reduction: str = "pooled") -> dict[str, torch.Tensor]:
    """True/false positives/negatives of a binary prediction against a binary mask, both (N, ...).

    Returns ``{"tp", "fp", "fn", "tn"}``: pixel counts over the whole batch (``reduction="pooled"``) or
    per image, shape (N,) (``"none"``). Values other than 0/False count as foreground.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and mask {tuple(target.shape)} differ in shape")
    if reduction not in ("pooled", "none"):
        raise ValueError(f"reduction must be 'pooled' or 'none', not {reduction!r}")
    p = (pred.detach() != 0).reshape(pred.shape[0], -1) if pred.dim() > 1 else (pred.detach() != 0)[None]
    t = (target.detach() != 0).reshape(p.shape)
    counts = {"tp": (p & t).sum(1), "fp": (p & ~t).sum(1), "fn": (~p & t).sum(1), "tn": (~p & ~t).sum(1)}
    return {k: v.sum() if reduction == "pooled" else v for k, v in counts.items()}


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    num, den = num.double(), den.double()
    return torch.where(den > 0, num / den.clamp_min(1), torch.ones_like(den))


def pixel_accuracy(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """Fraction of pixels classified right, (TP + TN) / all. Misleading when one class dominates."""
    c = confusion(pred, target, reduction)
    return _ratio(c["tp"] + c["tn"], c["tp"] + c["tn"] + c["fp"] + c["fn"])


def precision(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """TP / (TP + FP): of the pixels called foreground, the fraction that is (1.0 if none is called)."""
    c = confusion(pred, target, reduction)
    return _ratio(c["tp"], c["tp"] + c["fp"])


def recall(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """TP / (TP + FN): of the foreground pixels, the fraction found (1.0 if there is none)."""
    c = confusion(pred, target, reduction)
    return _ratio(c["tp"], c["tp"] + c["fn"])


def iou(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """Intersection over union (Jaccard index) TP / (TP + FP + FN); 1.0 when both masks are empty."""
    c = confusion(pred, target, reduction)
    return _ratio(c["tp"], c["tp"] + c["fp"] + c["fn"])


def dice(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """Dice coefficient (F1 score) 2TP / (2TP + FP + FN) = 2·IoU / (1 + IoU); 1.0 when both are empty."""
    c = confusion(pred, target, reduction)
    return _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])


def pr_curve(
    logits: torch.Tensor, target: torch.Tensor, thresholds=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pooled precision and recall of ``logits > t`` for each threshold ``t`` (default: 41 values from
    -5 to +5, the lab's range). Returns (thresholds, precision, recall), each of shape (T,)."""
    thresholds = torch.linspace(-5, 5, 41) if thresholds is None else torch.as_tensor(thresholds, dtype=torch.float32)
    logits = logits.detach().float().cpu()
    target = target.detach().cpu()
    p = torch.stack([precision(logits > t, target) for t in thresholds])
    r = torch.stack([recall(logits > t, target) for t in thresholds])
    return thresholds, p, r


def segmentation_scores(logits: torch.Tensor, target: torch.Tensor, threshold: float = 0.0) -> dict[str, float]:
    """The segmentation report card: pooled accuracy, precision, recall, IoU and Dice of ``logits > threshold``."""
    pred = logits.detach().cpu() > threshold
    target = target.detach().cpu()
    return {
        name: fn(pred, target).item()
        for name, fn in [
            ("accuracy", pixel_accuracy),
            ("precision", precision),
            ("recall", recall),
            ("IoU", iou),
            ("Dice", dice),
        ]
    }
