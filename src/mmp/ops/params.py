"""Composing params.yaml from conf/ with DVC's own Hydra composition, as ``dvc exp run`` does."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mmp.core.errors import MMPError
from mmp.core.settings import recipe_overrides

PARAMS = "params.yaml"


def compose(repo: Path, overrides: list[str]) -> str:
    """The YAML that ``dvc exp run`` would write, using DVC's own composition. ``DATA_SOURCE_PATH``
    and ``DATA_LOADER_TYPE``, when set, come first (``mmp.core.settings.recipe_overrides``): an
    explicit override of the same key wins."""
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    config_dir = (repo / "conf").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / PARAMS
        try:
            compose_and_dump(out, str(config_dir), None, "config", str(repo.resolve()), [*recipe_overrides(), *overrides])
        except (HydraException, OmegaConfBaseException) as err:
            raise MMPError("conf/", f"cannot compose the recipe: {err}".replace(os.linesep, " ")) from None
        return out.read_text()


def is_stale(repo: Path) -> bool:
    """Whether the committed params.yaml differs from what conf/ composes to."""
    current = (repo / PARAMS).read_text() if (repo / PARAMS).exists() else ""
    return compose(repo, []) != current
