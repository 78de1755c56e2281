"""course_utils: the helper package of the course "Pixel-level deep learning with U-Nets".

One concept per module. ``import course_utils as cu`` gives the names every notebook uses; the modules
for one notebook or one task (``natural``, ``weak``, ``convtranspose``, ``checks``, ``build``) are
imported by name, e.g. ``from course_utils import weak``.

* :mod:`~course_utils.device`, :mod:`~course_utils.seeding`, :mod:`~course_utils.budget`:
  where to compute, reproducibility, how long each training loop runs (full / cpu / fast).
* :mod:`~course_utils.synthetic`: the cells-under-clutter generators (gen, gen_noise2noise, gen1_NES, gen2_NES).
* :mod:`~course_utils.nuclei`: synthetic fluorescence nuclei with exact masks, ``normalize_percentile``;
  :mod:`~course_utils.nuclei_data`: the lab's arrays (synthetic, Kromp et al. 2020, your own folder);
  :mod:`~course_utils.download`: the data URLs and checksums, a verified cache.
* :mod:`~course_utils.simple_unet`: notebook 02's U-Net blocks; :mod:`~course_utils.augment`: joint image/mask
  augmentation (torchvision.transforms.v2); :mod:`~course_utils.segmentation`: whole-image prediction, the
  reference nuclei model.
* :mod:`~course_utils.unet`: the U-Net; :mod:`~course_utils.residual`: ``Residual(net)`` (y = x - net(x)).
* :mod:`~course_utils.training`: ``fit``, ``predict``; :mod:`~course_utils.metrics`: MSE, MAE, PSNR, ``scores``, accuracy, precision, recall, IoU, Dice, PR curves;
  :mod:`~course_utils.checkpoints`: save / load.
* :mod:`~course_utils.plotting`: voir_batch2D, ppmatrix, show_side_by_side, show_errors, TrainingMonitor.
* :mod:`~course_utils.natural`: the natural images shipped with scikit-image, BSDS300, any folder; crops,
  Gaussian noise, ``NoisyCrops`` pairs.
* :mod:`~course_utils.dncnn`: DnCNN, UDnCNN, DUDnCNN, receptive fields; :mod:`~course_utils.denoising`: notebook
  05's budget, ``denoise`` (any size), the reference denoisers; :mod:`~course_utils.classical`: TV, NL-means,
  BM3D, Wiener, Richardson-Lucy; :mod:`~course_utils.experiment`: ``Experiment`` (checkpoint every epoch, resume).
* :mod:`~course_utils.blur`: motion-blur kernels, blurred/sharp pairs; :mod:`~course_utils.patches`:
  ``patch_average`` (restoration by overlapping patches).
* :mod:`~course_utils.weak`: noise2noise and Neural Egg Separation recipes (notebooks 06 and 07).
* :mod:`~course_utils.convtranspose` and :mod:`~course_utils.checks`: notebook 01's explorer, exercise self-checks.
* :mod:`~course_utils.build`: solutions/ -> notebooks/ (``python -m course_utils.build``).
"""
__version__ = "0.1.0"

from .budget import BUDGETS, by_budget, current_budget, set_budget
from . import download
from .checkpoints import CheckpointError, load_checkpoint, register_model, save_checkpoint
from .device import get_device
from .metrics import (dice, iou, mae, mse, pixel_accuracy, pr_curve, precision, psnr, recall, scores, scores_table,
                      segmentation_scores)
from .plotting import error_map, ppmatrix, show_batch2d, show_errors, show_side_by_side, tile_batch, voir_batch2D
from .residual import Residual
from .seeding import make_generator, seed_everything
from .nuclei import make_nuclei, normalize_percentile
from .synthetic import gen, gen1_NES, gen2_NES, gen_noise2noise, make_cells, make_clutter
from .training import History, fit, predict
from .segmentation import predict_image, segment_nuclei
from .simple_unet import SimpleUNet
from .unet import UNet
from .version import check_version
