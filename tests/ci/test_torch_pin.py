"""torch stays the pinned CPU build: Lightning (or any other dependency) must never pull another
torch, whose CUDA wheels are gigabytes and whose version the lock does not name."""

from __future__ import annotations

from importlib import metadata

from tests.conftest import ROOT

PIN = "2.13.0"


def test_torch_is_the_pinned_cpu_build() -> None:
    import torch

    assert torch.__version__.split("+")[0] == PIN, f"torch {torch.__version__} is installed, requirements.lock pins {PIN}"
    assert torch.version.cuda is None, f"torch is a CUDA build ({torch.version.cuda}); the project pins the CPU wheel"
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert f"torch=={PIN}" in lock
    assert f'"torch=={PIN}"' in (ROOT / "pyproject.toml").read_text()


def test_lightning_is_locked_and_installed_beside_it() -> None:
    lock = dict(line.split("==", 1) for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line)
    for name in ("pytorch-lightning", "lightning-utilities", "torchmetrics"):
        assert metadata.version(name) == lock[name], name
