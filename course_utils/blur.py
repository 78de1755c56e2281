"""Motion blur: linear motion kernels, blurring, blurred/sharp training pairs: the groundwork of the deblurring
notebook (08). The classical deconvolution baselines are in :mod:`course_utils.classical`.

* :func:`motion_kernel`: the (k, k) kernel of a straight camera motion of ``length`` pixels at ``angle``
  degrees, anti-aliased (the segment is supersampled), non-negative, summing to 1.
* :func:`random_motion_kernels`: lengths uniform in ``lengths``, angles uniform in [0, 180).
* :func:`blur`: images convolved with one kernel each (reflecting borders, same size), plus optional
  Gaussian noise (sigma on the 0-255 scale).
* :class:`BlurredCrops`: (blurred, sharp) pairs of crops, a fresh kernel and fresh noise per training item;
  fixed kernels and noise for a test set.

Images are (C, H, W) or (N, C, H, W) tensors in [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .natural import centre_crops, random_crops

__all__ = ["motion_kernel", "random_motion_kernels", "blur", "BlurredCrops", "KERNEL_SIZE"]

KERNEL_SIZE = 21  # every kernel is 21x21: lengths up to 21 pixels fit


def motion_kernel(length: float, angle: float, size: int = KERNEL_SIZE, supersample: int = 8) -> torch.Tensor:
    """(size, size) kernel of a linear motion of ``length`` pixels at ``angle`` degrees (0 = horizontal,
    counter-clockwise), centred; anti-aliased by drawing the segment on a ``supersample`` times finer grid.
    Non-negative, sums to 1. ``length`` <= 1 gives the identity (a single 1)."""
    if size % 2 == 0 or size < 1:
        raise ValueError(f"size must be odd and >= 1, got {size}")
    if not 0 <= length <= size:
        raise ValueError(f"length must be in [0, {size}] for a {size}x{size} kernel, got {length}")
    k = torch.zeros(size, size, dtype=torch.float64)
    c = size // 2
    if length <= 1:
        k[c, c] = 1.0
        return k.float()
    n = int(math.ceil(length * supersample)) + 1
    t = torch.linspace(-length / 2, length / 2, n, dtype=torch.float64)
    a = math.radians(angle)
    x, y = c + t * math.cos(a), c - t * math.sin(a)
    # bilinear splatting of each sample onto the 4 neighbouring pixels
    x0, y0 = x.floor().long(), y.floor().long()
    fx, fy = x - x0, y - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = (x0 + dx).clamp(0, size - 1), (y0 + dy).clamp(0, size - 1)
        k.index_put_((yi, xi), w, accumulate=True)
    return (k / k.sum()).float()


def random_motion_kernels(
    n: int, lengths=(3.0, 15.0), *, size: int = KERNEL_SIZE, generator=None, return_params: bool = False
):
    """``n`` kernels (n, size, size) with lengths uniform in ``lengths`` and angles uniform in [0, 180).
    With ``return_params=True``: ``(kernels, lengths, angles)``, the last two (n,) float64 tensors."""
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    lo, hi = lengths
    drawn, angles = lo + (hi - lo) * u[:, 0], 180.0 * u[:, 1]
    kernels = torch.stack([motion_kernel(float(a), float(b), size) for a, b in zip(drawn, angles)])
    return (kernels, drawn, angles) if return_params else kernels


def blur(images: torch.Tensor, kernels: torch.Tensor, sigma: float = 0.0, *, generator=None) -> torch.Tensor:
    """Each image convolved with its kernel (``kernels`` (N, k, k), or one (k, k) for all), borders
    reflected so the size is kept, plus Gaussian noise of ``sigma`` (0-255 scale). Returns the images' shape."""
    x = images if images.dim() == 4 else images[None]
    if x.dim() != 4:
        raise ValueError(f"expected (C, H, W) or (N, C, H, W) images, got {tuple(images.shape)}")
    k = kernels if kernels.dim() == 3 else kernels[None].expand(len(x), -1, -1)
    if len(k) != len(x) or k.shape[-1] != k.shape[-2] or k.shape[-1] % 2 == 0:
        raise ValueError(f"need one odd square kernel per image: {len(x)} images, kernels {tuple(kernels.shape)}")
    n, c, h, w = x.shape
    r = k.shape[-1] // 2
    if r >= h or r >= w:
        raise ValueError(f"a {k.shape[-1]}x{k.shape[-1]} kernel needs images larger than {r}x{r}, got {h}x{w}")
    padded = F.pad(x.reshape(1, n * c, h, w), (r, r, r, r), mode="reflect")
    weight = k.to(x).flip(-1, -2).repeat_interleave(c, 0)[:, None]  # true convolution, one kernel per image
    out = F.conv2d(padded, weight, groups=n * c).reshape(n, c, h, w)
    if sigma:
        out = out + torch.randn(out.shape, generator=generator, dtype=out.dtype) * (sigma / 255.0)
    return out if images.dim() == 4 else out[0]


class BlurredCrops(torch.utils.data.Dataset):
    """(blurred, sharp) pairs of (C, size, size) crops of ``images``: motion blur of random length in
    ``lengths`` and random angle, then Gaussian noise of ``sigma`` (0-255 scale).

    ``train=True``: ``length`` items, each a fresh random crop, kernel and noise. ``train=False``: the centre
    crop of each image with a kernel and noise fixed by ``seed``; ``kernels`` (N, k, k) holds the kernels, and
    ``motion_lengths`` and ``motion_angles`` (N,) their parameters (for non-blind methods, and to give them a
    wrong kernel on purpose).
    """

    def __init__(
        self,
        images,
        size: int,
        *,
        lengths=(3.0, 15.0),
        sigma: float = 2.0,
        train: bool = True,
        length: int = 1000,
        seed: int = 0,
    ):
        self.images, self.size, self.lengths, self.sigma, self.train = list(images), size, lengths, sigma, train
        if train:
            random_crops(self.images, 1, size)  # fail now, clearly, if no image is large enough
            self.length = length
        else:
            g = torch.Generator().manual_seed(seed)
            self.sharp = centre_crops(self.images, size)
            self.kernels, self.motion_lengths, self.motion_angles = random_motion_kernels(
                len(self.sharp), lengths, generator=g, return_params=True
            )
            self.blurred = blur(self.sharp, self.kernels, sigma, generator=g)
            self.length = len(self.sharp)

    def kernels_off_by(self, angle_error: float) -> torch.Tensor:
        """The test set's kernels (N, k, k) with the right lengths and every angle off by ``angle_error``
        degrees: the wrong kernel a non-blind method gets when the motion is misjudged."""
        if self.train:
            raise ValueError("kernels_off_by needs a test set (train=False): a training set has no fixed kernels")
        return torch.stack(
            [motion_kernel(float(L), float(a) + angle_error) for L, a in zip(self.motion_lengths, self.motion_angles)]
        )

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        if not 0 <= i < self.length:
            raise IndexError(i)
        if not self.train:
            return self.blurred[i], self.sharp[i]
        sharp = random_crops(self.images, 1, self.size)[0]
        return blur(sharp, random_motion_kernels(1, self.lengths)[0], self.sigma), sharp
