"""User extensions named in the recipe by an import path, ``package.module:attribute``: a data
loader class (``data.loaders``) or a metric function (``evaluate.extra_metrics``). They come
from an installed package or from a module in the repository (the stages run from the
repository root, so ``plugins.my_metrics:profit_at_k`` imports ``plugins/my_metrics.py``).
Nothing is imported until a stage asks for it."""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

from mmp.core.errors import MMPError

# `module.path:attribute`, the notation of Python entry points.
OBJECT_PATH = r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$"
MODULE_PATH = r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$"


def import_module(name: str, key: str) -> Any:
    """The module ``name``; a module that is missing (or fails to import) is one line naming
    ``key`` and the path."""
    if not re.match(MODULE_PATH, name):
        raise MMPError(key, f"{name!r} is not a module path", "a dotted module path such as mypkg.loaders")
    _repository_on_path()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise MMPError(
            key, f"cannot import {name!r}: no module named {err.name!r}", "an installed package or a module in the repository"
        ) from None
    except Exception as err:  # the user's module raised while importing: say where, not a traceback
        raise MMPError(key, f"importing {name!r} failed: {type(err).__name__}: {err}") from None


def import_object(path: str, key: str) -> Any:
    """The object at ``module:attribute``; a bad path is one line naming ``key`` and ``path``."""
    if not re.match(OBJECT_PATH, path):
        raise MMPError(key, f"{path!r} is not an import path", "module:attribute, e.g. mypkg.metrics:profit_at_k")
    module_name, _, attr = path.partition(":")
    module = import_module(module_name, key)
    if not hasattr(module, attr):
        raise MMPError(key, f"{path!r}: module {module_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


def _repository_on_path() -> None:
    """``python -m`` puts the working directory first on ``sys.path``; the console script
    ``mmp`` does not. Both run from the repository root, so a module in the repository imports
    the same way from a stage and from ``mmp validate``."""
    from mmp.core.config import checkout_root

    here = str(checkout_root())
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)
