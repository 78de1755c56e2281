"""A deep-learning framework written by hand (notebook 09): layers with an explicit forward and backward pass, a
loss, a container and two optimizers, on plain PyTorch tensors used as arrays, autograd off.

The framework is backpropagation itself (Rumelhart, Hinton and Williams, *Learning representations by
back-propagating errors*, Nature 1986): every module computes its output in :meth:`Module.forward` and keeps what
it needs; :meth:`Module.backward` receives the gradient of the loss with respect to that output and returns the
gradient with respect to the input (the chain rule, one layer at a time), adding the gradients of its own parameters
into their ``grad`` (they accumulate, as in PyTorch, until :meth:`Module.zero_grad`). Nothing here asks autograd for
anything: the tensors never require gradients, so PyTorch records no graph.

* :class:`Conv2d` is a matrix product over the unfolded input, ``F.unfold`` (im2col: Chellapilla, Puri and Simard,
  *High performance convolutional neural networks for document processing*, 2006); its input gradient is the
  matrix product's transpose folded back with ``F.fold``, which is a transposed convolution.
  :class:`ConvTranspose2d` is the same two steps in the other order.
* :class:`ReLU`, :class:`Sigmoid`, :class:`NearestUpsample`, :class:`Upsampling` (nearest neighbour then a
  convolution: the Noise2Noise-Lite project's upsampling), :class:`Sequential`; :class:`MSELoss`.
* :class:`SGD` (with optional momentum, PyTorch's convention) and :class:`Adam` (Kingma and Ba, *Adam: a method
  for stochastic optimization*, ICLR 2015) update :class:`Parameter` objects.

A module here needs no base class: :class:`Sequential`, the optimizers and the helpers only call ``forward``,
``backward`` and, where it exists, ``parameters()``, so a class written in a notebook plugs in as it is. Two
helpers check a module: :func:`compare_with_torch` (against a ``torch.nn`` module given the same weights, outputs
and gradients by autograd) and :func:`finite_difference_check` (central differences in float64, no autograd at
all); :func:`copy_parameters` gives a ``torch.nn`` twin the weights of a hand-made model.

Images are (N, C, H, W) tensors throughout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "Parameter",
    "Module",
    "Conv2d",
    "ConvTranspose2d",
    "ReLU",
    "Sigmoid",
    "NearestUpsample",
    "Upsampling",
    "Sequential",
    "MSELoss",
    "SGD",
    "Adam",
    "copy_parameters",
    "compare_with_torch",
    "finite_difference_check",
]


class Parameter:
    """A tensor that training changes, with the gradient of the loss with respect to it.

    Attributes:
        value: the tensor (any shape); optimizers change it in place.
        grad: a tensor of the same shape, zero at first; each backward pass *adds* its gradient into it.
    """

    def __init__(self, value: torch.Tensor):
        if not torch.is_tensor(value):
            raise TypeError(f"Parameter(value): value must be a tensor, got {type(value).__name__}")
        self.value = value.detach()
        self.grad = torch.zeros_like(self.value)

    @property
    def shape(self) -> torch.Size:
        return self.value.shape

    def zero_grad(self) -> None:
        self.grad.zero_()

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.shape)}, dtype={self.value.dtype})"


class Module:
    """The course's base class (optional: any class with the same three methods plugs in).

    ``forward(x)`` returns the output and keeps what the backward pass needs; ``backward(grad_output)`` takes
    dL/d(output), of the output's shape, adds dL/d(parameter) into each parameter's ``grad`` and returns
    dL/d(input), of the input's shape; ``parameters()`` lists the module's :class:`Parameter` objects.
    Calling the module calls ``forward``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def parameters(self) -> list[Parameter]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def _saved(self, attribute: str):
        """What the forward pass kept for the backward pass; a clear error when forward was not called."""
        saved = getattr(self, attribute, None)
        if saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward: run forward on a batch first")
        return saved


def _check_4d(x, module: Module, channels: int | None = None) -> None:
    if not torch.is_tensor(x) or x.dim() != 4:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{type(module).__name__} takes images of shape (N, C, H, W), got {shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{type(module).__name__} expects {channels} input channels, got {x.shape[1]}")


def _uniform(shape, bound: float, generator, dtype, device) -> torch.Tensor:
    """Uniform in [-bound, bound], drawn on the CPU (a CPU ``generator`` gives the same weights on any device)."""
    return ((torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * bound).to(device)


class Conv2d(Module):
    """A 2-D convolution (a cross-correlation, as ``torch.nn.Conv2d``) computed as a matrix product.

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size: k (square kernels).
        stride, padding: as in ``torch.nn.Conv2d`` (zero padding of ``padding`` pixels on every side).
        generator, dtype, device: for the initial weights, uniform in [-1/sqrt(C_in k k), 1/sqrt(C_in k k)] as in
            PyTorch (the bias too).

    Parameters: ``weight`` (C_out, C_in, k, k) and ``bias`` (C_out,).
    forward: (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H + 2 padding - k) // stride + 1. The input is
    unfolded into columns, ``cols = F.unfold(x)`` of shape (N, C_in k k, L), L = H_out W_out (im2col: every
    column one k x k patch), then ``weight`` as a (C_out, C_in k k) matrix times ``cols``, plus the bias.
    backward: dL/d(weight) += sum over the batch of grad_output @ cols^T; dL/d(bias) += grad_output summed over the
    batch and the pixels; returns dL/dx = ``F.fold(weight^T @ grad_output)``: the columns' gradients added back
    where they were taken from, a transposed convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device=None,
    ):
        if min(in_channels, out_channels, kernel_size, stride) < 1 or padding < 0:
            raise ValueError("Conv2d: channels, kernel_size and stride must be >= 1, padding >= 0")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        bound = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Parameter(_uniform(shape, bound, generator, dtype, device))
        self.bias = Parameter(_uniform((out_channels,), bound, generator, dtype, device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_4d(x, self, self.in_channels)
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        h_out, w_out = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        if h_out < 1 or w_out < 1:
            raise ValueError(f"Conv2d: an input of {h}x{w} pixels is smaller than the {k}x{k} kernel after padding")
        cols = F.unfold(x, k, padding=p, stride=s)  # (N, C_in k k, L)
        out = self.weight.value.reshape(self.out_channels, -1) @ cols + self.bias.value[:, None]
        self._cache = (cols, (h, w))
        return out.reshape(n, self.out_channels, h_out, w_out)

    def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
        cols, size = self._saved("_cache")
        g = grad_output.reshape(grad_output.shape[0], self.out_channels, -1)  # (N, C_out, L)
        self.weight.grad += (g @ cols.transpose(1, 2)).sum(0).reshape(self.weight.shape)
        self.bias.grad += g.sum(dim=(0, 2))
        grad_cols = self.weight.value.reshape(self.out_channels, -1).T @ g  # (N, C_in k k, L)
        return F.fold(grad_cols, size, self.kernel_size, padding=self.padding, stride=self.stride)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def __repr__(self) -> str:
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding})"
        )


class ConvTranspose2d(Module):
    """A transposed convolution, as ``torch.nn.ConvTranspose2d``: Conv2d's two steps in the other order.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding: as in PyTorch (square kernels;
            ``output_padding`` < stride adds that many rows and columns at the bottom and right).
        generator, dtype, device: initial weights uniform in [-1/sqrt(C_out k k), 1/sqrt(C_out k k)], PyTorch's
            bound for this layer (the bias too).

    Parameters: ``weight`` (C_in, C_out, k, k), PyTorch's order, and ``bias`` (C_out,).
    forward: (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H - 1) stride - 2 padding + k + output_padding:
    every input pixel's C_in values times the weight give a (C_out k k) column, and ``F.fold`` adds the columns
    into the output, each at its pixel's place times the stride (the scatter of notebook 01).
    backward: the output gradient unfolded, ``gcols = F.unfold(grad_output)``; dL/dx = weight @ gcols;
    dL/d(weight) += sum over the batch of x @ gcols^T; dL/d(bias) += grad_output summed over batch and pixels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        output_padding: int = 0,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device=None,
    ):
        if min(in_channels, out_channels, kernel_size, stride) < 1 or padding < 0:
            raise ValueError("ConvTranspose2d: channels, kernel_size and stride must be >= 1, padding >= 0")
        if not 0 <= output_padding < stride:
            raise ValueError(f"ConvTranspose2d: output_padding must be in [0, stride), got {output_padding}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.output_padding = kernel_size, stride, padding, output_padding
        bound = 1 / math.sqrt(out_channels * kernel_size * kernel_size)
        shape = (in_channels, out_channels, kernel_size, kernel_size)
        self.weight = Parameter(_uniform(shape, bound, generator, dtype, device))
        self.bias = Parameter(_uniform((out_channels,), bound, generator, dtype, device))

    def _out_size(self, h: int) -> int:
        return (h - 1) * self.stride - 2 * self.padding + self.kernel_size + self.output_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_4d(x, self, self.in_channels)
        n, c, h, w = x.shape
        size = (self._out_size(h), self._out_size(w))
        if min(size) < 1:
            raise ValueError(f"ConvTranspose2d: an input of {h}x{w} pixels gives an empty output (padding too large)")
        flat = x.reshape(n, c, h * w)  # (N, C_in, L)
        cols = self.weight.value.reshape(c, -1).T @ flat  # (N, C_out k k, L)
        out = F.fold(cols, size, self.kernel_size, padding=self.padding, stride=self.stride)
        self._cache = flat
        return out + self.bias.value[None, :, None, None]

    def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
        flat = self._saved("_cache")
        n, c, _ = flat.shape
        gcols = F.unfold(grad_output, self.kernel_size, padding=self.padding, stride=self.stride)  # (N, C_out k k, L)
        self.weight.grad += (flat @ gcols.transpose(1, 2)).sum(0).reshape(self.weight.shape)
        self.bias.grad += grad_output.sum(dim=(0, 2, 3))
        grad_x = self.weight.value.reshape(c, -1) @ gcols  # (N, C_in, L)
        return grad_x.reshape(n, c, *self._input_size(grad_output))

    def _input_size(self, grad_output) -> tuple[int, int]:
        h_out, w_out = grad_output.shape[-2:]
        k, s, p, op = self.kernel_size, self.stride, self.padding, self.output_padding
        return (h_out - op + 2 * p - k) // s + 1, (w_out - op + 2 * p - k) // s + 1

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def __repr__(self) -> str:
        return (
            f"ConvTranspose2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding})"
        )


class ReLU(Module):
    """max(x, 0), any shape. backward: the gradient where the input was positive, 0 elsewhere (also at x = 0,
    as in PyTorch)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._mask = x > 0
        return x * self._mask

    def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output * self._saved("_mask")

    def __repr__(self) -> str:
        return "ReLU()"


class Sigmoid(Module):
    """s = 1 / (1 + exp(-x)), any shape, values in (0, 1). backward: grad_output * s * (1 - s)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._out = 1 / (1 + torch.exp(-x))
        return self._out

    def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
        s = self._saved("_out")
        return grad_output * s * (1 - s)

    def __repr__(self) -> str:
        return "Sigmoid()"


class NearestUpsample(Module):
    """Nearest-neighbour upsampling by an integer ``scale``: (N, C, H, W) -> (N, C, scale H, scale W), every pixel
    copied into a scale x scale block (``nn.Upsample(scale_factor=scale, mode="nearest")``). backward: each
    block's gradients summed, (N, C, scale H, scale W) -> (N, C, H, W)."""

    def __init__(self, scale: int = 2):
        if scale < 1 or int(scale) != scale:
            raise ValueError(f"NearestUpsample: scale must be a whole number >= 1, got {scale}")
        self.scale = int(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_4d(x, self)
        self._shape = x.shape
        return x.repeat_interleave(self.scale, dim=2).repeat_interleave(self.scale, dim=3)

    def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
        n, c, h, w = self._saved("_shape")
        s = self.scale
        return grad_output.reshape(n, c, h, s, w, s).sum(dim=(3, 5))

    def __repr__(self) -> str:
        return f"NearestUpsample({self.scale})"


class Sequential(Module):
    """Modules applied one after the other (``torch.nn.Sequential``): forward in order, backward in reverse order,
    each module's input gradient becoming the previous module's output gradient; ``parameters()`` lists every
    module's parameters in order. Any object with ``forward``, ``backward`` and ``parameters`` is a module here."""

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            missing = [a for a in ("forward", "backward") if not callable(getattr(m, a, None))]
            if missing:
                raise TypeError(f"Sequential: module {i} ({type(m).__name__}) has no {' and no '.join(missing)} method")
        self.modules = list(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.modules:
            x = m.forward(x)
        return x

    def backward(self, grad_output: torch.Tensor) -> torch.Tensor:
        for m in reversed(self.modules):
            grad_output = m.backward(grad_output)
        return grad_output

    def parameters(self) -> list[Parameter]:
        return [p for m in self.modules for p in _parameters_of(m)]

    def __getitem__(self, i):
        return self.modules[i]

    def __len__(self) -> int:
        return len(self.modules)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {m!r}".replace("\n", "\n  ").replace("\n  ", "\n", 1) for i, m in enumerate(self))
        return f"{type(self).__name__}({inner}\n)"


class Upsampling(Sequential):
    """The Noise2Noise-Lite project's upsampling: :class:`NearestUpsample` by ``scale``, then a :class:`Conv2d`
    (``kernel_size``, stride 1, padding ``kernel_size // 2``) from ``in_channels`` to ``out_channels``:
    (N, C_in, H, W) -> (N, C_out, scale H, scale W) for odd kernel sizes. Unlike a transposed convolution with a
    kernel that is not a multiple of the stride, it leaves no checkerboard pattern (notebook 01)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, scale: int = 2, **init):
        super().__init__(
            NearestUpsample(scale), Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, **init)
        )


class MSELoss:
    """The mean squared error over every element, ``torch.nn.MSELoss()``.

    forward(prediction, target): two tensors of the same shape -> a 0-d tensor, mean((prediction - target)^2).
    backward(): dL/d(prediction) = 2 (prediction - target) / (number of elements), of the prediction's shape
    (the target gets no gradient).
    """

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.shape != target.shape:
            raise ValueError(
                f"MSELoss: prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ in shape"
            )
        self._diff = prediction - target
        return (self._diff**2).mean()

    def backward(self) -> torch.Tensor:
        diff = getattr(self, "_diff", None)
        if diff is None:
            raise RuntimeError("MSELoss.backward called before forward: compute the loss first")
        return 2 * diff / diff.numel()

    def __call__(self, prediction, target):
        return self.forward(prediction, target)


def _parameter_list(parameters) -> list[Parameter]:
    parameters = list(parameters)
    if not parameters:
        raise ValueError("the optimizer got no parameters: pass model.parameters()")
    bad = [type(p).__name__ for p in parameters if not (hasattr(p, "value") and hasattr(p, "grad"))]
    if bad:
        raise TypeError(
            f"the optimizer takes Parameter objects (with .value and .grad), got {bad[0]}: pass model.parameters() "
            "of a hand-made model, not of a torch.nn model"
        )
    return parameters


class SGD:
    """Stochastic gradient descent: ``value -= lr * grad``; with ``momentum`` m > 0, PyTorch's heavy ball
    (``buffer = m buffer + grad``, ``value -= lr * buffer``). ``zero_grad()`` sets every gradient to 0."""

    def __init__(self, parameters, lr: float, momentum: float = 0.0):
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"SGD: lr must be > 0 and momentum in [0, 1), got lr={lr}, momentum={momentum}")
        self.parameters, self.lr, self.momentum = _parameter_list(parameters), lr, momentum
        self.buffers = [None] * len(self.parameters)

    def step(self) -> None:
        for i, p in enumerate(self.parameters):
            step = p.grad
            if self.momentum:
                self.buffers[i] = (
                    p.grad.clone() if self.buffers[i] is None else self.momentum * self.buffers[i] + p.grad
                )
                step = self.buffers[i]
            p.value -= self.lr * step

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad.zero_()


class Adam:
    """Adam (Kingma and Ba 2015), as ``torch.optim.Adam`` without weight decay.

    At step t (from 1), for each parameter with gradient g: m = beta1 m + (1 - beta1) g, v = beta2 v +
    (1 - beta2) g^2 (moving averages, zero at first); their bias-corrected values m_hat = m / (1 - beta1^t),
    v_hat = v / (1 - beta2^t); value -= lr m_hat / (sqrt(v_hat) + eps). The first step thus moves every weight by
    about lr, whatever the gradient's scale. ``zero_grad()`` sets every gradient to 0.
    """

    def __init__(self, parameters, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if lr <= 0 or not all(0 <= b < 1 for b in betas) or eps <= 0:
            raise ValueError(f"Adam: lr > 0, betas in [0, 1) and eps > 0, got lr={lr}, betas={betas}, eps={eps}")
        self.parameters, self.lr, self.betas, self.eps = _parameter_list(parameters), lr, tuple(betas), eps
        self.m = [torch.zeros_like(p.value) for p in self.parameters]
        self.v = [torch.zeros_like(p.value) for p in self.parameters]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        for p, m, v in zip(self.parameters, self.m, self.v):
            m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            m_hat = m / (1 - beta1**self.t)
            v_hat = v / (1 - beta2**self.t)
            p.value -= self.lr * m_hat / (v_hat.sqrt() + self.eps)

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad.zero_()


# ---------------------------------------------------------------- checks against PyTorch


def _parameters_of(module) -> list:
    """``module.parameters()``, or none when the module does not define the method (a layer without weights)."""
    method = getattr(module, "parameters", None)
    return list(method()) if callable(method) else []


def copy_parameters(mine, reference) -> list[str]:
    """Give the ``torch.nn`` module ``reference`` the weights of the hand-made ``mine``: its parameters, in the
    order of ``reference.parameters()``, get the values of ``mine.parameters()``, one to one. Returns their names
    in ``reference`` (e.g. ``["0.weight", "0.bias", ...]``).

    Raises:
        ValueError: the two have a different number of parameters, or a parameter of another shape (the message
            says which).
    """
    theirs = list(reference.named_parameters())
    ours = _parameters_of(mine)
    if len(ours) != len(theirs):
        raise ValueError(
            f"the hand-made model has {len(ours)} parameter tensors, the torch.nn one {len(theirs)}: "
            "build the same layers in the same order"
        )
    with torch.no_grad():
        for i, (p, (name, q)) in enumerate(zip(ours, theirs)):
            if tuple(p.shape) != tuple(q.shape):
                raise ValueError(
                    f"parameter {i} ({name}) has shape {tuple(q.shape)} in the torch.nn model, {tuple(p.shape)} in "
                    "the hand-made one: build the same layers in the same order"
                )
            q.copy_(p.value.to(q.dtype))
    return [name for name, _ in theirs]


def _max_diff(a, b) -> float:
    if not torch.is_tensor(a) or a.shape != b.shape:
        return math.inf
    return float((a.detach().to(b.dtype) - b.detach()).abs().max()) if a.numel() else 0.0


def compare_with_torch(mine, reference, x: torch.Tensor, *, generator: torch.Generator | None = None) -> dict:
    """The largest differences between a hand-made module and a ``torch.nn`` module given the same weights.

    ``reference`` receives the weights of ``mine`` (:func:`copy_parameters`); both run forward on ``x``; the
    reference's gradients come from autograd, for the loss sum(output * G) with a random G (so dL/d(output) = G),
    and ``mine.backward(G)`` must give the same. Use float64 (for both) to compare to rounding, about 1e-15.

    Returns:
        ``{"output": d, "input gradient": d, "<name> gradient": d, ...}``: the max absolute difference of each
        (``inf`` where shapes differ), one entry per parameter, named as in ``reference`` (``"weight
        gradient"``, ``"0.bias gradient"``).
    """
    names = copy_parameters(mine, reference)
    x_ref = x.detach().clone().requires_grad_(True)
    want = reference(x_ref)
    g = torch.randn(want.shape, generator=generator, dtype=want.dtype, device=want.device)
    (want * g).sum().backward()
    ours = _parameters_of(mine)
    for p in ours:
        p.grad.zero_()
    got = mine.forward(x.detach().clone())
    grad_x = mine.backward(g.clone())
    diffs = {"output": _max_diff(got, want), "input gradient": _max_diff(grad_x, x_ref.grad)}
    for name, p, (_, q) in zip(names, ours, reference.named_parameters()):
        diffs[f"{name} gradient"] = _max_diff(p.grad, q.grad)
    return diffs


def finite_difference_check(module, x: torch.Tensor, *, eps: float = 1e-6, generator=None) -> dict:
    """The largest differences between ``module.backward`` and central finite differences, in float64: no
    autograd, only the module's own forward. For the loss L = sum(forward(x) * G), G random, each input and
    parameter element e is moved by +-eps and dL/de ~ (L(e + eps) - L(e - eps)) / (2 eps), with an error of
    order eps^2 (about 1e-9 here) plus rounding (1e-16 / eps).

    ``x`` and the module's parameters must be float64, and small: every element costs two forward passes (at
    most 20,000 elements in all).

    Returns:
        ``{"input gradient": d, "parameter 0 gradient": d, ...}``, max absolute differences.
    """
    params = _parameters_of(module)
    tensors = [x] + [p.value for p in params]
    if any(t.dtype != torch.float64 for t in tensors):
        raise ValueError("finite_difference_check needs float64 inputs and parameters (float32 rounds too much)")
    total = sum(t.numel() for t in tensors)
    if total > 20_000:
        raise ValueError(f"finite_difference_check: {total:,} elements to perturb; use a smaller input (<= 20,000)")
    x = x.detach().clone()
    g = torch.randn(module.forward(x).shape, generator=generator, dtype=torch.float64)

    def loss() -> float:
        return float((module.forward(x) * g).sum())

    module.forward(x)
    for p in params:
        p.grad.zero_()
    analytic = [module.backward(g.clone())] + [p.grad.clone() for p in params]
    result = {}
    for i, (t, a) in enumerate(zip([x] + [p.value for p in params], analytic)):
        numeric = torch.zeros_like(t)
        flat, out = t.view(-1), numeric.view(-1)
        for j in range(flat.numel()):
            keep = float(flat[j])
            flat[j] = keep + eps
            up = loss()
            flat[j] = keep - eps
            down = loss()
            flat[j] = keep
            out[j] = (up - down) / (2 * eps)
        result["input gradient" if i == 0 else f"parameter {i - 1} gradient"] = _max_diff(a, numeric)
    return result
