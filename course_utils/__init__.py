"""course_utils: the helper package of the course "Pixel-level deep learning with U-Nets".

``import course_utils as cu`` gives the names every notebook uses; a track's own modules are imported by name,
e.g. ``from course_utils import weak``. One concept per module, in four layers; a module imports only from its
own layer or the layers above it in this list, never sideways from another track:

1. **Foundations** (no course logic): :mod:`~course_utils.version` (``__version__``, the one place for it),
   :mod:`~course_utils.device`, :mod:`~course_utils.seeding`, :mod:`~course_utils.budget` (full / cpu / fast
   and the one table of training sizes, ``TRAINING_SIZES``), :mod:`~course_utils.files` (atomic writes),
   :mod:`~course_utils.download` (every data URL and checksum, a verified cache), :mod:`~course_utils.progress`
   (a long loop's progress as one line of text that a saved notebook keeps).
2. **Shared tools**, used by every track: :mod:`~course_utils.images` (read, convert, normalise),
   :mod:`~course_utils.inference` (predict on batches, on whole images with padding or tiles, patch averaging,
   parameter counts), :mod:`~course_utils.training` (``fit``), :mod:`~course_utils.metrics`,
   :mod:`~course_utils.checkpoints`, :mod:`~course_utils.experiment` (train, checkpoint, resume),
   :mod:`~course_utils.plotting`; the models :mod:`~course_utils.unet`, :mod:`~course_utils.residual`
   (y = x - net(x): the course's one residual convention).
3. **Tracks**, each a story of notebooks, with its data, models and recipes:

   * off the shelf: :mod:`~course_utils.pretrained` (notebook 00: a pretrained torchvision segmentation network,
     its weights from torchvision's cache or a random stand-in offline);
   * convolution: :mod:`~course_utils.convtranspose` (notebook 01);
   * segmentation (02-04): :mod:`~course_utils.nuclei` (synthetic nuclei), :mod:`~course_utils.nuclei_data`
     (the lab's arrays, Kromp et al., your folder), :mod:`~course_utils.simple_unet`, :mod:`~course_utils.augment`,
     :mod:`~course_utils.segmentation` (``segment_nuclei``, the reference model);
   * restoration (05, 08): :mod:`~course_utils.natural` (photographs, noisy crops), :mod:`~course_utils.dncnn`,
     :mod:`~course_utils.denoising`, :mod:`~course_utils.classical` (TV, NL-means, BM3D, Wiener,
     Richardson-Lucy), :mod:`~course_utils.blur`;
   * weak supervision (06, 07, 10): :mod:`~course_utils.synthetic` (the cells-under-clutter generators; their
     engine in the private :mod:`~course_utils._stamping`), :mod:`~course_utils.weak` (noise2noise, NES),
     :mod:`~course_utils.noise2void` (single noisy images: blind-spot masking, the masked loss);
   * a framework from scratch: :mod:`~course_utils.scratch` (notebook 09: layers with a hand-written backward
     pass, a loss, SGD and Adam, without autograd; checked against ``torch.nn``).
4. **Course machinery**: :mod:`~course_utils.checks` (the exercises' self-checks), :mod:`~course_utils.claims`
   (``claim``: a lesson's comparisons, checked on the run's numbers), :mod:`~course_utils.exercises`
   (what a solution notebook grades: exercise ids, points, written questions), :mod:`~course_utils.build`
   (solutions -> student notebooks), :mod:`~course_utils.release` (the student release),
   :mod:`~course_utils.kernel` (a fresh Jupyter kernel under limits), :mod:`~course_utils.grade` (the grader).

**Where a new notebook's code goes.** Its data set: a module of its track (or a new track module), with URLs and
checksums in ``download.REMOTES``. A model: a module of its own, registered for checkpoints with
``@register_model``. Its recipe (batches, losses, training runs): the track's module. Its training sizes: a row
of ``budget.TRAINING_SIZES``, read with ``training_sizes("track")``. Running a model on images:
:mod:`~course_utils.inference`, never a copy. Its self-checks: :mod:`~course_utils.checks`, through the one
harness ``@_check``, each called in a check cell with a line ``# Graded: <id>, <points> points``
(:mod:`~course_utils.exercises`). Pictures: :mod:`~course_utils.plotting`. Anything two tracks need moves up
to layer 2.
Nothing inside the package imports this facade: import from the module that defines a name.
"""

from . import download
from .budget import BUDGETS, TRAINING_SIZES, by_budget, current_budget, set_budget, training_sizes
from .checkpoints import CheckpointError, load_checkpoint, register_model, save_checkpoint
from .claims import claim
from .device import get_device
from .images import normalize_percentile
from .inference import count_parameters, patch_average, predict, predict_image
from .metrics import (
    dice,
    iou,
    mae,
    mse,
    pixel_accuracy,
    pr_curve,
    precision,
    psnr,
    recall,
    scores,
    scores_table,
    segmentation_scores,
)
from .nuclei import make_nuclei
from .plotting import (
    error_map,
    explore_threshold,
    ppmatrix,
    show_batch2d,
    show_errors,
    show_side_by_side,
    tile_batch,
    voir_batch2D,
)
from .residual import Residual
from .seeding import make_generator, seed_everything
from .segmentation import load_reference_nuclei_model, segment_nuclei
from .simple_unet import SimpleUNet
from .synthetic import gen, gen1_NES, gen2_NES, gen_noise2noise, make_cells, make_clutter
from .training import History, fit
from .unet import UNet
from .version import __version__, check_version
