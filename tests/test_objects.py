"""Objects in a segmentation: connected components, the one-to-one matching at IoU >= 0.5 and the object scores,
on hand-made label images whose answers are counted by hand; and the synthetic nuclei's instance labels."""

import numpy as np
import pytest
import torch

from course_utils.metrics import count_objects, label_objects, match_objects, object_scores, precision_recall_f1
from course_utils.nuclei import make_nuclei
from course_utils.nuclei_data import nuclei_dataset


def truth_and_prediction():
    """Three true nuclei (4, 4 and 6 pixels); the prediction merges the first two, finds 4 of the 6 pixels of
    the third, and adds a one-pixel speck."""
    truth = np.zeros((6, 8), np.int64)
    truth[0:2, 0:2], truth[0:2, 3:5], truth[4:6, 0:3] = 1, 2, 3
    pred = np.zeros((6, 8), np.int64)
    pred[0:2, 0:2] = pred[0:2, 3:5] = 5  # one object over nuclei 1 and 2: IoU 4/8 = 0.5 with each
    pred[4:6, 0:2] = 7  # inside nucleus 3: IoU 4/6
    pred[5, 7] = 9  # a speck: no nucleus there
    return truth, pred


def test_label_and_count_objects_use_4_connectivity():
    mask = torch.zeros(6, 6, dtype=torch.bool)
    mask[0:2, 0:2] = mask[2:4, 2:4] = True  # touching at a corner only: two objects
    mask[5, 0:6] = True
    labels = label_objects(mask)
    assert labels.dtype == torch.int64 and labels.shape == (6, 6)
    assert sorted(torch.unique(labels).tolist()) == [0, 1, 2, 3] and count_objects(mask) == 3
    batch = torch.stack([mask, torch.zeros_like(mask)])[:, None]  # (N, 1, H, W)
    assert label_objects(batch).shape == (2, 1, 6, 6) and int(label_objects(batch)[1].max()) == 0
    with pytest.raises(ValueError, match="one \\(H, W\\) mask"):
        count_objects(batch)
    with pytest.raises(ValueError, match="make it binary first"):
        label_objects(torch.randn(6, 6))


def test_match_objects_one_to_one_at_iou_half():
    truth, pred = truth_and_prediction()
    matches = match_objects(pred, truth)
    assert [(a, b) for a, b, _ in matches] == [(7, 3), (5, 1)]  # by decreasing IoU; 5 matches one nucleus only
    assert matches[0][2] == pytest.approx(4 / 6) and matches[1][2] == pytest.approx(0.5)
    assert match_objects(pred, truth, threshold=0.6) == [(7, 3, pytest.approx(4 / 6))]
    assert match_objects(truth, truth) == [(1, 1, 1.0), (2, 2, 1.0), (3, 3, 1.0)]
    with pytest.raises(ValueError, match="between 0.5 and 1"):
        match_objects(pred, truth, threshold=0.3)


def test_object_scores_exact_values():
    truth, pred = truth_and_prediction()
    card = object_scores(pred, truth)
    assert (card["matched"], card["predicted"], card["true"]) == (2, 3, 3)
    assert card["precision"] == pytest.approx(2 / 3) and card["recall"] == pytest.approx(2 / 3)
    assert card["F1"] == pytest.approx(4 / 6)
    strict = object_scores(pred, truth, threshold=0.6)  # the merged object no longer matches
    assert (strict["matched"], strict["precision"], strict["recall"], strict["F1"]) == (1, 1 / 3, 1 / 3, 2 / 6)
    # pooled over a batch (N, 1, H, W): the counts add up
    both = object_scores(np.stack([pred, truth])[:, None], np.stack([truth, truth])[:, None])
    assert (both["matched"], both["predicted"], both["true"]) == (5, 6, 6) and both["F1"] == pytest.approx(10 / 12)
    empty = np.zeros((4, 4), np.int64)
    assert object_scores(empty, empty) == {
        "precision": 1.0,
        "recall": 1.0,
        "F1": 1.0,
        "matched": 0,
        "predicted": 0,
        "true": 0,
    }


def test_object_scores_refuse_masks_and_say_what_to_do():
    truth, pred = truth_and_prediction()
    with pytest.raises(TypeError, match="label_objects"):
        object_scores(pred > 0, truth)
    with pytest.raises(TypeError, match="integers"):
        object_scores(pred.astype(np.float32), truth)
    with pytest.raises(ValueError, match="negative"):
        object_scores(-pred, truth)
    with pytest.raises(ValueError, match="differ in shape"):
        object_scores(pred[:4], truth)


def test_precision_recall_f1_from_counts():
    assert precision_recall_f1(8, 10, 16) == (0.8, 0.5, pytest.approx(16 / 26))
    assert precision_recall_f1(0, 0, 4) == (1.0, 0.0, 0.0)
    assert precision_recall_f1(0, 0, 0) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="cannot be more matches"):
        precision_recall_f1(5, 3, 10)
    with pytest.raises(ValueError, match="whole number"):
        precision_recall_f1(1.5, 3, 10)


def test_synthetic_nuclei_labels_number_each_nucleus_and_leave_the_images_alone():
    X, Y = make_nuclei(6, 64, generator=3)
    X2, Y2, L = make_nuclei(6, 64, generator=3, labels=True)
    assert torch.equal(X, X2) and torch.equal(Y, Y2) and L.dtype == torch.int64 and L.shape == Y.shape
    assert torch.equal(L > 0, Y > 0)
    for labels in L:
        assert torch.equal(torch.unique(labels), torch.arange(int(labels.max()) + 1))  # 0, 1, ..., k
    # touching nuclei merge in the binary mask: fewer components than nuclei, never more
    components = [count_objects(y[0]) for y in Y]
    nuclei = [int(labels.max()) for labels in L]
    assert all(c <= n for c, n in zip(components, nuclei)) and sum(components) < sum(nuclei)


def test_the_lab_data_carries_the_labels_of_its_test_images():
    data = nuclei_dataset("synthetic")
    assert data.test_labels.shape == data.test[1].shape and torch.equal(data.test_labels > 0, data.test[1] > 0)
