"""The self-checks of the exercises restored in notebooks 03 and 04 (issue 21): the course's answer passes, the
typical wrong answers fail with a message that says what is wrong."""

import numpy as np
import torch
import torch.nn as nn
from scipy import ndimage

from course_utils.checks import (
    check_choose_threshold,
    check_count_nuclei,
    check_error_map,
    check_object_scores,
    check_unet,
)
from course_utils.metrics import count_objects, iou, precision_recall_f1
from course_utils.plotting import ERROR_COLOURS, error_map
from course_utils.segmentation import choose_threshold
from course_utils.unet import DoubleConv, Down, OutConv, UNet, Up, pad_to_multiple


def verdict(check, fn, capsys):
    result = check(fn)
    return result.passed, capsys.readouterr().out


# ---------------------------------------------------------------- error map (03)
def paint(cases):
    def error_map_(pred, target):
        out = np.zeros((*pred.shape, 3))
        for colour, where in zip(ERROR_COLOURS.values(), cases(pred, target)):
            out[where.numpy()] = colour
        return out

    return error_map_


def test_error_map_check(capsys):
    assert verdict(check_error_map, error_map, capsys)[0] is True
    right = paint(lambda p, t: (p & t, ~p & t, p & ~t, ~p & ~t))
    assert verdict(check_error_map, right, capsys)[0] is True
    swapped = paint(lambda p, t: (p & t, p & ~t, ~p & t, ~p & ~t))  # missed and wrongly added swapped
    passed, out = verdict(check_error_map, swapped, capsys)
    assert passed is False and "'missed (false negative)' pixel(s) have the wrong colour" in out
    assert "(the colour of 'wrongly added (false positive)')" in out and "missed = target & ~pred" in out

    def channels_first(pred, target):
        return np.moveaxis(error_map(pred, target), -1, 0)

    passed, out = verdict(check_error_map, channels_first, capsys)
    assert passed is False and "channels first" in out


# ---------------------------------------------------------------- choose_threshold (03)
def test_choose_threshold_check(capsys):
    assert verdict(check_choose_threshold, choose_threshold, capsys)[0] is True

    def returns_index(logits, masks, thresholds):
        t, ious = choose_threshold(logits, masks, thresholds)
        return int(np.argmax(ious)), ious

    passed, out = verdict(check_choose_threshold, returns_index, capsys)
    assert passed is False and "index of the best threshold" in out

    def global_grid(logits, masks, thresholds):
        return choose_threshold(logits, masks, np.linspace(-5, 5, 41))

    passed, out = verdict(check_choose_threshold, global_grid, capsys)
    assert passed is False and "one per threshold" in out

    def argmin(logits, masks, thresholds):
        ious = np.array([iou(logits > t, masks).item() for t in thresholds])
        return float(thresholds[ious.argmin()]), ious

    passed, out = verdict(check_choose_threshold, argmin, capsys)
    assert passed is False and "lowest IoU" in out


# ---------------------------------------------------------------- count_nuclei (03)
def test_count_nuclei_check(capsys):
    assert verdict(check_count_nuclei, lambda mask: ndimage.label(mask.numpy())[1], capsys)[0] is True
    assert verdict(check_count_nuclei, count_objects, capsys)[0] is True

    def eight(mask):
        return ndimage.label(mask.numpy(), structure=np.ones((3, 3)))[1]

    passed, out = verdict(check_count_nuclei, eight, capsys)
    assert passed is False and "touching at one corner only: you count 1, expected 2" in out
    assert "4-connectivity" in out

    passed, out = verdict(check_count_nuclei, lambda mask: ndimage.label(mask.numpy()), capsys)
    assert passed is False and "return the count only" in out

    passed, out = verdict(check_count_nuclei, lambda mask: ndimage.label(mask.numpy())[1] + 1, capsys)
    assert passed is False and "background (label 0) is not a nucleus" in out

    passed, out = verdict(check_count_nuclei, lambda mask: int(mask.sum()), capsys)
    assert passed is False and "you count foreground pixels" in out


# ---------------------------------------------------------------- object precision, recall, F1 (03)
def test_object_scores_check(capsys):
    assert verdict(check_object_scores, precision_recall_f1, capsys)[0] is True

    def swapped(m, p, t):
        precision, recall, f1 = precision_recall_f1(m, p, t)
        return recall, precision, f1

    passed, out = verdict(check_object_scores, swapped, capsys)
    assert passed is False and "precision and recall are swapped" in out

    def arithmetic(m, p, t):
        precision, recall, _ = precision_recall_f1(m, p, t)
        return precision, recall, (precision + recall) / 2

    passed, out = verdict(check_object_scores, arithmetic, capsys)
    assert passed is False and "harmonic mean" in out

    def no_empty_case(m, p, t):
        return m / p, m / t, 2 * m / (p + t)

    passed, out = verdict(check_object_scores, no_empty_case, capsys)
    assert passed is False and "ZeroDivisionError" in out


# ---------------------------------------------------------------- the full U-Net (04)
class Assembled(nn.Module):
    """The exercise's answer: UNet assembled from the blocks."""

    def __init__(self, n_channels=1, n_classes=1, size=8, depth=4, skip_order=None, sigmoid=False):
        super().__init__()
        self.depth, self.skip_order, self.sigmoid = depth, skip_order, sigmoid
        widths = [size * 2**i for i in range(depth)]
        self.inc = DoubleConv(n_channels, size)
        self.downs = nn.ModuleList(Down(widths[i], widths[min(i + 1, depth - 1)]) for i in range(depth))
        self.ups = nn.ModuleList(Up(widths[i], widths[i - 1] if i > 0 else size) for i in reversed(range(depth)))
        self.outc = OutConv(size, n_classes)

    def forward(self, x):
        x, crop = pad_to_multiple(x, 2**self.depth)
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop(0) if self.skip_order == "first" else skips.pop())
        y = self.outc(y)
        return crop(torch.sigmoid(y) if self.sigmoid else y)


def test_unet_check_passes_the_course_and_the_assembled_network(capsys):
    assert verdict(check_unet, UNet, capsys)[0] is True
    passed, out = verdict(check_unet, Assembled, capsys)
    assert passed is True, out


def test_unet_check_explains_wiring_widths_sigmoid_and_depth(capsys):
    class FirstSkip(Assembled):
        def __init__(self, *a, **k):
            super().__init__(*a, **k, skip_order="first")

    passed, out = verdict(check_unet, FirstSkip, capsys)
    assert passed is False and "the decoder blocks received, in order" in out and "skips.pop()" in out

    class Sigmoid(Assembled):
        def __init__(self, *a, **k):
            super().__init__(*a, **k, sigmoid=True)

    passed, out = verdict(check_unet, Sigmoid, capsys)
    assert passed is False and "no sigmoid" in out

    class Doubling(Assembled):  # the bottleneck doubles its width: more parameters than the course's
        def __init__(self, n_channels=1, n_classes=1, size=8, depth=4):
            super().__init__(n_channels, n_classes, size, depth)
            w = size * 2 ** (depth - 1)
            self.downs[-1] = Down(w, 2 * w)

    passed, out = verdict(check_unet, Doubling, capsys)
    assert passed is False and "parameters, UNet(1, 1, 4) has" in out and "yours by block" in out

    class FourLevels(Assembled):
        def __init__(self, n_channels=1, n_classes=1, size=8, depth=4):
            super().__init__(n_channels, n_classes, size, 4)

    passed, out = verdict(check_unet, FourLevels, capsys)
    assert passed is False and "depth=2" in out

    class Todo(nn.Module):
        def __init__(self, *a, **k):
            raise NotImplementedError

    passed, out = verdict(check_unet, Todo, capsys)
    assert passed is None and "not done yet" in out
