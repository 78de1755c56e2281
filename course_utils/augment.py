"""Data augmentation for segmentation with ``torchvision.transforms.v2``: the image and its mask get
the same geometric transform (v2 moves a ``tv_tensors.Mask`` with nearest-neighbour interpolation, so
it stays binary); intensity changes touch the image only.

``PairAugment()(image, mask)`` on (C, H, W) tensors; :func:`augmented_batches` makes a batch source for
``fit`` with a fresh random transform per image. Randomness comes from torch's global generator
(``seed_everything`` makes it reproducible).
"""

from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

__all__ = ["PairAugment", "augmented_batches"]


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(()).uniform_(low, high))


class PairAugment:
    """Random flips, 90° rotations, a small affine (rotation, scale, shift, shear) and optionally an
    elastic deformation, applied jointly to image and mask; then brightness, contrast, gamma and
    Gaussian noise on the image only (values stay in [0, 1]).

    Args:
        flips, rot90, affine, elastic, intensity: switch each family on or off.
        p_affine, p_elastic: probability of applying the affine / elastic deformation to an image.

    Call: ``image, mask = aug(image, mask)`` with (C, H, W) tensors, image in [0, 1], mask in {0, 1}.
    """

    def __init__(
        self,
        flips: bool = True,
        rot90: bool = True,
        affine: bool = True,
        elastic: bool = False,
        intensity: bool = True,
        p_affine: float = 0.5,
        p_elastic: float = 0.3,
    ):
        self.rot90, self.intensity = rot90, intensity
        geometric = []
        if flips:
            geometric += [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
        if affine:
            geometric.append(
                v2.RandomApply(
                    [
                        v2.RandomAffine(
                            degrees=15,
                            translate=(0.05, 0.05),
                            scale=(0.85, 1.2),
                            shear=5,
                            interpolation=v2.InterpolationMode.BILINEAR,
                        )
                    ],
                    p=p_affine,
                )
            )
        if elastic:
            geometric.append(v2.RandomApply([v2.ElasticTransform(alpha=30.0, sigma=5.0)], p=p_elastic))
        self.geometric = v2.Compose(geometric) if geometric else None

    def __repr__(self) -> str:
        return f"PairAugment(rot90={self.rot90}, geometric={self.geometric}, intensity={self.intensity})"

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if image.dim() != 3 or mask.dim() != 3 or image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(
                f"PairAugment takes one image (C, H, W) and its mask (1, H, W) of the same size; got "
                f"{tuple(image.shape)} and {tuple(mask.shape)}. For a batch use augmented_batches()."
            )
        if self.rot90:
            k = int(torch.randint(4, ()))
            image, mask = torch.rot90(image, k, (-2, -1)), torch.rot90(mask, k, (-2, -1))
        if self.geometric is not None:
            image, mask = self.geometric(tv_tensors.Image(image), tv_tensors.Mask(mask))
        image, mask = image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)
        if self.intensity:
            image = TF.adjust_brightness(image, _uniform(0.7, 1.3))
            image = TF.adjust_contrast(image, _uniform(0.7, 1.3))
            image = TF.adjust_gamma(image.clamp(0, 1), _uniform(0.7, 1.4))
            image = (image + _uniform(0.0, 0.03) * torch.randn_like(image)).clamp(0, 1)
        return image.contiguous(), mask.contiguous()


def augmented_batches(
    X: torch.Tensor, Y: torch.Tensor, batch_size: int, augment: PairAugment | None = None, crop: int | None = None
):
    """A zero-argument function giving a batch of ``batch_size`` random (image, mask) pairs of (X, Y)
    (N, C, H, W), for ``fit``: each cut to a random ``crop`` x ``crop`` window (``None``: whole images),
    then transformed by ``augment`` on its own (``None``: no augmentation).

    Fully convolutional nets train on crops and predict whole images; crops make a step cheaper."""
    if len(X) != len(Y) or X.shape[-2:] != Y.shape[-2:]:
        raise ValueError(f"X {tuple(X.shape)} and Y {tuple(Y.shape)}: need as many masks as images, of the same size")
    h, w = X.shape[-2:]
    if crop is not None and not 1 <= crop <= min(h, w):
        raise ValueError(f"crop must be between 1 and {min(h, w)} (the image size), not {crop}")

    def batch():
        xs, ys = [], []
        for i in torch.randint(len(X), (batch_size,)).tolist():
            x, y = X[i], Y[i]
            if crop is not None:
                top, left = int(torch.randint(h - crop + 1, ())), int(torch.randint(w - crop + 1, ()))
                x, y = x[..., top : top + crop, left : left + crop], y[..., top : top + crop, left : left + crop]
            if augment is not None:
                x, y = augment(x, y)
            xs.append(x), ys.append(y)
        return torch.stack(xs), torch.stack(ys)

    return batch
