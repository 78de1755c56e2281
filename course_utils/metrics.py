"""Image-restoration metrics on batches: MSE, MAE and PSNR (per image, then averaged)."""
from __future__ import annotations

import torch

__all__ = ["mse", "mae", "psnr", "scores", "scores_table", "MAX_PSNR_DB"]


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
    return {"PSNR (dB)": psnr(output, clean, data_range=data_range, reduction="pooled").item(),
            "MAE": mae(output, clean).item(),
            "mean error": (output.detach().float() - clean.float()).mean().item()}


def scores_table(results: dict[str, dict[str, float]]) -> str:
    """``{method: scores(...)}`` as a plain-text table, one row per method."""
    from tabulate import tabulate

    headers = ["method", *next(iter(results.values()))]
    return tabulate([(name, *card.values()) for name, card in results.items()], headers=headers,
                    floatfmt=("", ".2f", ".4f", "+.4f"))
