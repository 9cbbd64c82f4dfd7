"""Loading pickles written before the re-layering.

Packages built before the package was split into layers pickled the featurizer and the model
(and MLflow pickled the pyfunc wrapper) under the old flat module names, e.g.
``mmp.features.AsText``. Unpickling those fails with ``ModuleNotFoundError``. Rather than keep
shim modules or install aliases at import time, :func:`load_legacy` retries the load with
``sys.modules`` aliases for exactly the old names that were missing, and removes the aliases
again when the load is done: nothing changes for a package built with the current names.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# old module name -> where that code lives now
RENAMED = {
    "mmp.features": "mmp.modeling.features",
    "mmp.models": "mmp.modeling.models",
    "mmp.models.mlp": "mmp.modeling.models.mlp",
    "mmp.models.torch_base": "mmp.modeling.models.torch_base",
    "mmp.models.tab_transformer": "mmp.modeling.models.tab_transformer",
    "mmp.packaging": "mmp.inference.pyfunc",
    "mmp.scoring": "mmp.inference.scorer",
}


def load_legacy(load: Callable[[], T]) -> T:
    """``load()``, retried with the old module names aliased to their new homes while it runs."""
    added: list[str] = []
    try:
        while True:
            try:
                return load()
            except ModuleNotFoundError as err:
                missing = _aliases_for(err.name or "")
                if not missing:
                    raise
                for old in missing:
                    sys.modules[old] = importlib.import_module(RENAMED[old])
                    added.append(old)
    finally:
        for old in added:
            sys.modules.pop(old, None)


def _aliases_for(name: str) -> list[str]:
    """The old names to alias for a missing module: the module and, for a package such as
    ``mmp.models``, its submodules too (otherwise Python would load ``mmp.models.mlp`` a second
    time from the new package's path, under the old name, with classes of its own)."""
    return [old for old in RENAMED if (old == name or old.startswith(f"{name}.")) and old not in sys.modules]
