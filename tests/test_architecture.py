"""The package's layering (see ``course_utils/__init__.py``): a module imports only from its own layer or the
ones above it, a track never imports another track, and nothing inside the package imports the facade."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "course_utils"

FOUNDATIONS = {"version", "device", "seeding", "budget", "files", "download", "progress"}
SHARED = {"images", "inference", "training", "metrics", "checkpoints", "experiment", "plotting", "unet", "residual"}
TRACKS = {
    "off the shelf": {"pretrained"},
    "convolution": {"convtranspose"},
    "segmentation": {"nuclei", "nuclei_data", "simple_unet", "augment", "segmentation"},
    "restoration": {"natural", "dncnn", "denoising", "classical", "blur"},
    "weak supervision": {"synthetic", "_stamping", "weak", "noise2void"},
    "framework from scratch": {"scratch"},
}
MACHINERY = {"checks", "claims", "exercises", "build", "release", "kernel", "grade"}


def allowed(module: str) -> set[str]:
    """The modules ``module`` may import."""
    if module in FOUNDATIONS:
        return FOUNDATIONS
    if module in SHARED:
        return FOUNDATIONS | SHARED
    for members in TRACKS.values():
        if module in members:
            return FOUNDATIONS | SHARED | members
    if module in MACHINERY:
        return FOUNDATIONS | SHARED | set().union(*TRACKS.values()) | MACHINERY
    raise AssertionError(f"course_utils/{module}.py is in no layer: add it to the package docstring and to this test")


def imports(path: Path) -> list[tuple[int, str | None]]:
    """(line, imported course_utils module) for each import of the package in ``path``; None for the facade."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # from . import x: goes through the facade
                found.append((node.lineno, None))
            else:
                found.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("course_utils"):
            rest = node.module.split(".")[1:]
            found.append((node.lineno, rest[0] if rest else None))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("course_utils"):
                    rest = alias.name.split(".")[1:]
                    found.append((node.lineno, rest[0] if rest else None))
    return found


MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__init__.py")


def test_every_module_has_a_layer():
    for path in MODULES:
        allowed(path.stem)
    listed = FOUNDATIONS | SHARED | set().union(*TRACKS.values()) | MACHINERY
    assert listed == {p.stem for p in MODULES}, "a listed module does not exist"
    doc = (PACKAGE / "__init__.py").read_text(encoding="utf-8").split('"""')[1]
    missing = [m for m in listed if f"~course_utils.{m}`" not in doc]
    assert not missing, f"the package docstring does not place {missing}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_imports_follow_the_layers(path):
    for line, target in imports(path):
        assert target is not None, (
            f"{path.name}:{line} imports the package facade; import from the module that defines the name"
        )
        assert target in allowed(path.stem), (
            f"{path.name}:{line} imports {target}, outside its layer (see course_utils/__init__.py)"
        )


def test_the_check_sees_a_sideways_import(tmp_path):
    bad = tmp_path / "segmentation.py"
    bad.write_text("from .denoising import denoise\nfrom . import metrics\nimport course_utils\n")
    found = imports(bad)
    assert found == [(1, "denoising"), (2, None), (3, None)]
    assert "denoising" not in allowed("segmentation")
