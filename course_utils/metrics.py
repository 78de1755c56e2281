"""Metrics on batches.

* Restoration: MSE, MAE and PSNR (per image, then averaged, or pooled), ``scores``. Images may be tensors,
  NumPy arrays or lists, of any numeric type (computed in float32, values as they are: uint8 stays 0-255).
* Binary segmentation: pixel accuracy, precision, recall, IoU (Jaccard) and Dice (F1) from the
  confusion counts of a prediction against a mask, and the precision-recall curve over thresholds.
  Predictions and masks are binary maps: boolean, 0/1, or whole numbers where nonzero is foreground (a
  0/255 mask read from a file). Logits and probabilities are refused with a message: threshold them
  first, ``logits > 0`` (logit 0 is probability 1/2) or ``probabilities > 0.5``.
  Counts are pooled over the whole batch by default (``reduction="pooled"``), so that small images
  and empty images do not dominate; ``reduction="none"`` gives one value per image.
  A ratio whose denominator is empty is 1.0: nothing to find (recall), nothing claimed
  (precision), both masks empty (IoU, Dice); these are the cases a perfect model also meets.
* Objects (instance segmentation): the connected components of a binary mask (``label_objects``,
  ``count_objects``), the one-to-one matching of predicted and true objects at IoU >= 0.5
  (``match_objects``) and the object-level precision, recall and F1 (``object_scores``), the matching of the
  2018 Data Science Bowl (Caicedo et al. 2019). Label images are integer arrays: 0 for background, one
  positive number per object.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import torch

from .images import as_float_tensor, as_tensor, count_nonfinite

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
    "label_objects",
    "count_objects",
    "match_objects",
    "object_scores",
    "precision_recall_f1",
]


def _per_image(err: torch.Tensor) -> torch.Tensor:
    return err.reshape(err.shape[0], -1).mean(dim=1) if err.dim() > 1 else err.mean().reshape(1)


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'none' or (for psnr) 'pooled', not {reduction!r}")


def _pair(x, y, fn: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = as_float_tensor(x, f"{fn}: x", integers="keep"), as_float_tensor(y, f"{fn}: y", integers="keep")
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}; compare images of the same size")
    return x.detach(), y.detach()


def mse(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error per image of two (N, ...) batches; averaged over N unless reduction='none'."""
    x, y = _pair(x, y, "mse")
    return _reduce(_per_image((x - y) ** 2), reduction)


def mae(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error per image of two (N, ...) batches; averaged over N unless reduction='none'."""
    x, y = _pair(x, y, "mae")
    return _reduce(_per_image((x - y).abs()), reduction)


MAX_PSNR_DB = 100.0  # a perfect match scores this, not +inf, so that averages stay finite


def _data_range(value) -> float:
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) or (torch.is_tensor(value) and value.numel() == 1 and not value.is_complex())
    ):
        raise TypeError(f"data_range must be a number (1.0 for images in [0, 1]), not {value!r}")
    r = float(value)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"data_range must be a positive, finite number (1.0 for images in [0, 1]), not {value!r}")
    return r


def _check_psnr_inputs(x: torch.Tensor, y: torch.Tensor, r: float) -> None:
    """NaN or infinite values, and two images both far outside ``data_range``, give a ValueError."""
    if x.numel() == 0:
        raise ValueError("psnr: the images are empty")
    lx, hx, ly, hy = torch.stack([*torch.aminmax(x), *torch.aminmax(y)]).tolist()  # NaN propagates
    for name, t, lo, hi in (("x", x, lx, hx), ("y", y, ly, hy)):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            what = count_nonfinite(t)
            raise ValueError(
                f"psnr: {name} holds {what} value(s), so the PSNR would be meaningless. Find where they come from "
                f"(torch.isnan({name}).any(), torch.isinf({name}).any()): often a division by zero, or a training "
                "run that diverged (lower the learning rate)"
            )
    if hx - lx > 10 * r and hy - ly > 10 * r:
        raise ValueError(
            f"psnr: the images span {min(lx, ly):.4g} ... {max(hx, hy):.4g}, far more than data_range={r:g}. "
            "Pass the span of valid pixel values, e.g. data_range=255 for 8-bit images (0-255), 65535 for "
            "16-bit ones, or scale the images to [0, 1] first (x / 255) and keep data_range=1"
        )


def psnr(x: torch.Tensor, y: torch.Tensor, *, data_range: float, reduction: str = "mean") -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, 10·log10(data_range² / MSE), of two (N, ...) batches.

    Args:
        x, y: batches of the same shape, e.g. (N, C, H, W): tensors, NumPy arrays or lists, of any numeric
            type (computed in float32; values as they are, so uint8 images are on the 0-255 scale).
        data_range: the span of valid pixel values, stated explicitly: 1.0 for images in [0, 1],
            255.0 for 8-bit images, 2.0 for [-1, 1] (any positive, finite number, NumPy's included).
            Getting it wrong shifts PSNR by 20·log10(ratio).
        reduction: "mean": the average of the per-image PSNRs (the convention of the DnCNN paper);
            "none": the per-image PSNRs; "pooled": one PSNR from the MSE over the whole batch, the
            right choice when some images can be matched exactly (e.g. synthetic images with no noise).

    An exact match scores ``MAX_PSNR_DB`` (100 dB) rather than +inf. A ValueError, rather than a number that
    means nothing: NaN or infinite values in x or y; both images spanning more than 10 x ``data_range`` (e.g.
    0-255 images with ``data_range=1``). A single image far off the scale (a bad output) just scores low.
    """
    data_range = _data_range(data_range)
    x, y = _pair(x, y, "psnr")
    _check_psnr_inputs(x, y, data_range)
    err = mse(x, y, reduction="none")
    pooled = reduction == "pooled"
    err = err.mean() if pooled else err
    db = 10 * torch.log10(data_range**2 / err.clamp_min(data_range**2 * 10 ** (-MAX_PSNR_DB / 10)))
    return db if pooled else _reduce(db, reduction)


def scores(output: torch.Tensor, clean: torch.Tensor, data_range: float = 1.0) -> dict[str, float]:
    """The restoration report card of the course: pooled PSNR (dB), MAE and mean error (the bias:
    positive when the output is too bright on average) of an output batch against the clean images."""
    output, clean = _pair(output, clean, "scores")
    return {
        "PSNR (dB)": psnr(output, clean, data_range=data_range, reduction="pooled").item(),
        "MAE": mae(output, clean).item(),
        "mean error": (output - clean).mean().item(),
    }


def scores_table(results: dict[str, dict[str, float]], floatfmt=("", ".2f", ".4f", "+.4f")) -> str:
    """``{method: scores(...)}`` (or ``segmentation_scores``, with ``floatfmt=".3f"``) as a plain-text
    table, one row per method."""
    from tabulate import tabulate

    headers = ["method", *next(iter(results.values()))]
    return tabulate([(name, *card.values()) for name, card in results.items()], headers=headers, floatfmt=floatfmt)


# ---------------------------------------------------------------- binary segmentation


def _binary(t, what: str, fn: str) -> torch.Tensor:
    """``t != 0`` for a binary map: boolean, 0/1, or whole numbers >= 0 (0/255 masks). Logits (negative
    values, floats above 1), probabilities (floats between 0 and 1) and NaN are refused with what to do."""
    if t.dtype == torch.bool:
        return t
    bad = ((t != 0) & (t != 1)) if t.is_floating_point() else (t < 0)
    if bool(bad.any()):
        lo, hi = (v.item() for v in torch.aminmax(t.float()))
        if hi != hi:  # NaN
            raise ValueError(
                f"{fn}: {what} holds {int(torch.isnan(t).sum())} NaN value(s); find where they come from "
                "(a training run that diverged?): a NaN is neither foreground nor background"
            )
        if what == "the mask":
            advice = "make it binary first, e.g. mask > 0.5"
        elif lo < 0 or hi > 1:
            advice = f"like logits: threshold them first, e.g. {fn}(logits > 0, mask) (logit 0 is probability 1/2)"
        else:
            advice = f"like probabilities: threshold them first, e.g. {fn}(probabilities > 0.5, mask)"
        raise ValueError(
            f"{fn} takes binary maps (booleans, 0 and 1, or whole numbers where nonzero is foreground); "
            f"{what} holds values from {lo:.3g} to {hi:.3g}, {advice}"
        )
    return t != 0


def confusion(pred: torch.Tensor, target: torch.Tensor, reduction: str = "pooled") -> dict[str, torch.Tensor]:
    """True/false positives/negatives of a binary prediction against a binary mask, both (N, ...).

    Returns ``{"tp", "fp", "fn", "tn"}``: pixel counts over the whole batch (``reduction="pooled"``) or
    per image, shape (N,) (``"none"``). Both maps are boolean, 0/1 floats, or whole numbers where nonzero
    is foreground (a 0/255 mask); logits or probabilities are refused: threshold them first.
    """
    return _confusion(pred, target, reduction, "confusion")


def _confusion(pred, target, reduction: str, fn: str) -> dict[str, torch.Tensor]:
    pred, target = as_tensor(pred, f"{fn}: the prediction").detach(), as_tensor(target, f"{fn}: the mask").detach()
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and mask {tuple(target.shape)} differ in shape")
    if reduction not in ("pooled", "none"):
        raise ValueError(f"reduction must be 'pooled' or 'none', not {reduction!r}")
    pred, target = _binary(pred, "the prediction", fn), _binary(target, "the mask", fn)
    p = pred.reshape(pred.shape[0], -1) if pred.dim() > 1 else pred[None]
    t = target.reshape(p.shape)
    counts = {"tp": (p & t).sum(1), "fp": (p & ~t).sum(1), "fn": (~p & t).sum(1), "tn": (~p & ~t).sum(1)}
    return {k: v.sum() if reduction == "pooled" else v for k, v in counts.items()}


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    num, den = num.double(), den.double()
    return torch.where(den > 0, num / den.clamp_min(1), torch.ones_like(den))


def pixel_accuracy(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """Fraction of pixels classified right, (TP + TN) / all. Misleading when one class dominates."""
    c = _confusion(pred, target, reduction, "pixel_accuracy")
    return _ratio(c["tp"] + c["tn"], c["tp"] + c["tn"] + c["fp"] + c["fn"])


def precision(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """TP / (TP + FP): of the pixels called foreground, the fraction that is (1.0 if none is called)."""
    c = _confusion(pred, target, reduction, "precision")
    return _ratio(c["tp"], c["tp"] + c["fp"])


def recall(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """TP / (TP + FN): of the foreground pixels, the fraction found (1.0 if there is none)."""
    c = _confusion(pred, target, reduction, "recall")
    return _ratio(c["tp"], c["tp"] + c["fn"])


def iou(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """Intersection over union (Jaccard index) TP / (TP + FP + FN) of a binary prediction (e.g. ``logits > 0``)
    and a binary mask; 1.0 when both masks are empty. Logits or probabilities are refused: threshold first."""
    c = _confusion(pred, target, reduction, "iou")
    return _ratio(c["tp"], c["tp"] + c["fp"] + c["fn"])


def dice(pred, target, reduction: str = "pooled") -> torch.Tensor:
    """Dice coefficient (F1 score) 2TP / (2TP + FP + FN) = 2·IoU / (1 + IoU) of a binary prediction (e.g.
    ``logits > 0``) and a binary mask; 1.0 when both are empty. Logits or probabilities are refused."""
    c = _confusion(pred, target, reduction, "dice")
    return _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])


def pr_curve(
    logits: torch.Tensor, target: torch.Tensor, thresholds=None, *, probabilities: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pooled precision and recall of ``logits > t`` for each threshold ``t``. Returns (thresholds, precision,
    recall), each of shape (T,).

    ``logits``: the model's logits; default thresholds: 41 values from -5 to +5, the lab's range. Or
    probabilities (the sigmoid of the logits), with ``probabilities=True``: thresholds in [0, 1], by default
    sigmoid(-5) ... sigmoid(5), the same operating points (p > sigmoid(t) exactly when logit > t).
    ``probabilities=None`` (the default) reads the values: all in [0, 1] with default thresholds, they are
    taken as probabilities, with a warning that says so; all in [0, 1] with thresholds outside [0, 1] (logit
    thresholds on probabilities?), the thresholds are used as given, with a warning. Pass ``probabilities``
    to say which you have (``False``: logits, whatever their values, as the logits of an untrained net can be).
    """
    scores = as_float_tensor(logits, "pr_curve: logits", integers="keep").detach().cpu()
    target = as_tensor(target, "pr_curve: target").detach().cpu()
    lo, hi = (v.item() for v in torch.aminmax(scores))
    inside = 0 <= lo and hi <= 1
    if probabilities and not inside:
        raise ValueError(
            f"pr_curve: probabilities=True, but the values run from {lo:.3g} to {hi:.3g}: these are not "
            "probabilities. If they are logits, pass probabilities=False (or leave it out)"
        )
    given = thresholds is not None
    thresholds = torch.linspace(-5, 5, 41) if not given else torch.as_tensor(thresholds, dtype=torch.float32)
    logit_thresholds = given and not bool(((thresholds >= 0) & (thresholds <= 1)).all())
    span = f"{thresholds.min().item():.3g} to {thresholds.max().item():.3g}"
    if probabilities and logit_thresholds:
        raise ValueError(
            f"pr_curve: the thresholds run from {span}, like logit thresholds, but probabilities=True: give "
            "thresholds in [0, 1] (torch.sigmoid(thresholds) for the same operating points), or pass the logits"
        )
    if probabilities is None and inside and logit_thresholds:
        warnings.warn(
            f"pr_curve: all values lie in [0, 1], like probabilities, but the thresholds run from {span}, like "
            "logit thresholds; they are compared as given. If these are probabilities, pass the logits instead "
            "or thresholds in [0, 1] (torch.sigmoid(thresholds)); if they are logits, say so with "
            "probabilities=False",
            stacklevel=2,
        )
    elif probabilities is None and inside:
        probabilities = True
        warnings.warn(
            "pr_curve: all values lie in [0, 1], so they are read as probabilities, with thresholds "
            + (f"as given ({span})" if given else "sigmoid(-5) ... sigmoid(5) (logits -5 ... +5)")
            + "; pass probabilities=True to say so, or probabilities=False if they are logits",
            stacklevel=2,
        )
    if probabilities and not given:
        thresholds = torch.sigmoid(thresholds)
    p = torch.stack([precision(scores > t, target) for t in thresholds])
    r = torch.stack([recall(scores > t, target) for t in thresholds])
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


# ---------------------------------------------------------------- objects (instance segmentation)


def _mask_2d_or_batch(mask, fn: str) -> torch.Tensor:
    m = as_tensor(mask, f"{fn}: the mask").detach().cpu()
    return _binary(m, "the mask", fn)


def label_objects(mask) -> torch.Tensor:
    """The connected components of a binary mask: each group of foreground pixels joined through their edges
    (4-connectivity, ``scipy.ndimage.label``'s default: two pixels that touch only at a corner are apart) gets
    its own number.

    Args:
        mask: one binary map (H, W) or a batch (N, H, W) or (N, 1, H, W): boolean, 0/1 or 0/255 (logits and
            probabilities are refused: threshold them first).

    Returns:
        int64 labels of the same shape: 0 for background, 1..k for the k components, numbered per image (in
        the order of a row-by-row scan).
    """
    from scipy import ndimage

    m = _mask_2d_or_batch(mask, "label_objects")
    if m.dim() < 2:
        raise ValueError(f"label_objects takes an (H, W) mask or a batch of them, not shape {tuple(m.shape)}")
    flat = m.reshape(-1, *m.shape[-2:]).numpy()
    out = np.stack([ndimage.label(x)[0] for x in flat]) if len(flat) else np.zeros(flat.shape, np.int64)
    return torch.from_numpy(out.astype(np.int64)).reshape(m.shape)


def count_objects(mask) -> int:
    """The number of connected components (4-connectivity) of one binary (H, W) mask: the nuclei a semantic
    segmentation finds, where every group of touching nuclei counts as one."""
    m = _mask_2d_or_batch(mask, "count_objects").squeeze()
    if m.dim() != 2:
        raise ValueError(
            f"count_objects counts the objects of one (H, W) mask, not shape {tuple(m.shape)}: loop over the images"
        )
    return int(label_objects(m).max())


def _labels(x, what: str, fn: str) -> np.ndarray:
    t = as_tensor(x, f"{fn}: {what}").detach().cpu()
    if t.dtype == torch.bool or t.is_floating_point():
        kind = "a boolean mask" if t.dtype == torch.bool else f"{str(t.dtype).removeprefix('torch.')} values"
        raise TypeError(
            f"{fn}: {what} must be a label image of integers (0 background, 1, 2, ... one per object), "
            f"got {kind}. Number the objects of a binary mask first: label_objects(mask)"
        )
    if bool((t < 0).any()):
        raise ValueError(f"{fn}: {what} holds negative labels; 0 is background, objects are 1, 2, ...")
    return t.numpy().astype(np.int64)


def match_objects(pred_labels, true_labels, threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """The one-to-one matching of the predicted and the true objects of one image.

    Args:
        pred_labels, true_labels: label images (H, W) of integers (tensors or arrays; 0 background, one
            positive number per object; numbers need not be consecutive).
        threshold: the IoU a pair needs to match, 0.5 (the 2018 Data Science Bowl's first threshold; it scores
            0.5 to 0.95) up to 1.

    Returns:
        ``[(pred_label, true_label, iou), ...]``, by decreasing IoU: pairs whose IoU (pixels in both / pixels
        in either) is at least ``threshold``, each object used at most once. Above 0.5 an object has at most
        one partner (objects of a label image do not overlap, and IoU > 0.5 needs more than half of each), so
        the matching is unique; at 0.5 exactly, a tie is broken by taking the pairs in order of IoU.

    The rule of Caicedo et al. 2019, "Nucleus segmentation across imaging experiments: the 2018 Data Science
    Bowl", Nature Methods 16:1247-1253 (and of StarDist, Schmidt et al. 2018, at its default 0.5).
    """
    if not 0.5 <= float(threshold) <= 1:
        raise ValueError(
            f"match_objects: threshold must lie between 0.5 and 1, not {threshold!r}: below 0.5 one object could "
            "match several, and the count of matches would depend on how they are paired"
        )
    p = _labels(pred_labels, "the prediction", "match_objects")
    t = _labels(true_labels, "the truth", "match_objects")
    if p.shape != t.shape:
        raise ValueError(f"match_objects: prediction {p.shape} and truth {t.shape} differ in shape")
    p, t = p.ravel(), t.ravel()
    both = (p > 0) & (t > 0)
    pairs, inter = np.unique(np.stack([p[both], t[both]]), axis=1, return_counts=True)
    area_p = dict(zip(*(v.tolist() for v in np.unique(p[p > 0], return_counts=True))))
    area_t = dict(zip(*(v.tolist() for v in np.unique(t[t > 0], return_counts=True))))
    candidates = []
    for (a, b), n in zip(pairs.T.tolist(), inter.tolist()):
        iou_ab = n / (area_p[a] + area_t[b] - n)
        if iou_ab >= threshold:
            candidates.append((a, b, iou_ab))
    matches, used_p, used_t = [], set(), set()
    for a, b, v in sorted(candidates, key=lambda c: -c[2]):
        if a not in used_p and b not in used_t:
            matches.append((a, b, v))
            used_p.add(a), used_t.add(b)
    return matches


def object_scores(pred_labels, true_labels, threshold: float = 0.5) -> dict[str, float]:
    """Object-level scores of an instance segmentation: how many nuclei were found, not how many pixels.

    Args:
        pred_labels, true_labels: label images of integers, (H, W) or batches (N, H, W) / (N, 1, H, W) of the
            same shape (0 background, one positive number per object in each image); from a binary mask,
            ``label_objects(mask)``.
        threshold: the IoU at which a predicted and a true object match (:func:`match_objects`), 0.5 by default.

    Returns:
        ``{"precision", "recall", "F1", "matched", "predicted", "true"}``: the counts summed over the images
        (pooled, as the pixel scores), then precision = matched / predicted (the objects found that are real),
        recall = matched / true (the real objects found), F1 = 2 matched / (predicted + true). A ratio with
        nothing to divide by is 1.0, as for the pixel scores.

    The matching of the 2018 Data Science Bowl (Caicedo et al. 2019, Nature Methods 16:1247) at IoU 0.5; the
    F1 at a fixed IoU threshold is the score of Caicedo et al. 2019, "Evaluation of deep learning strategies for
    nucleus segmentation in fluorescence images", Cytometry A 95:952.
    """
    p = _labels(pred_labels, "the prediction", "object_scores")
    t = _labels(true_labels, "the truth", "object_scores")
    if p.shape != t.shape:
        raise ValueError(f"object_scores: prediction {p.shape} and truth {t.shape} differ in shape")
    if p.ndim < 2:
        raise ValueError(f"object_scores takes (H, W) label images or batches of them, not shape {p.shape}")
    p, t = p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:])
    matched = sum(len(match_objects(a, b, threshold)) for a, b in zip(p, t))
    predicted = sum(len(np.unique(a[a > 0])) for a in p)
    true = sum(len(np.unique(b[b > 0])) for b in t)
    precision_, recall_, f1 = precision_recall_f1(matched, predicted, true)
    return {
        "precision": precision_,
        "recall": recall_,
        "F1": f1,
        "matched": matched,
        "predicted": predicted,
        "true": true,
    }


def precision_recall_f1(matched: int, predicted: int, true: int) -> tuple[float, float, float]:
    """Object precision, recall and F1 from counts: ``matched`` pairs of ``predicted`` objects and ``true`` objects.

    precision = matched / predicted, recall = matched / true, F1 = 2 matched / (predicted + true) (the harmonic
    mean of the two); 1.0 where there is nothing to divide by (nothing predicted, nothing to find). The counts
    are whole numbers with 0 <= matched <= min(predicted, true); anything else is a ValueError.
    """
    counts = {"matched": matched, "predicted": predicted, "true": true}
    for name, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)) or v < 0:
            raise ValueError(f"precision_recall_f1: {name} must be a whole number >= 0, not {v!r}")
    if matched > min(predicted, true):
        raise ValueError(
            f"precision_recall_f1: {matched} matches of {predicted} predicted and {true} true objects: each match "
            "pairs one predicted and one true object, so there cannot be more matches than either"
        )

    def ratio(num, den):
        return num / den if den else 1.0

    return ratio(matched, predicted), ratio(matched, true), ratio(2 * matched, predicted + true)
