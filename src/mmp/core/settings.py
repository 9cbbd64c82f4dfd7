"""Runtime settings: WHERE things run (tracking URI, database URLs, credentials).

They live in ``conf/env/<APP_ENV>.yaml`` (``local`` by default), are read at run time, may
reference the environment (``${oc.env:VAR}``), and are never written into params.yaml, logs,
MLflow or a model, so switching environment never invalidates the DVC cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mmp.core.errors import MMPError

ENVIRONMENTS = ("local", "dev", "prod")


def repo_root() -> Path:
    """The repository root: ``DVC_ROOT`` during ``dvc exp run`` (so queued runs in DVC's temp
    dirs share one tracking store), else the nearest parent holding dvc.yaml, else the cwd."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").exists():
            return candidate
    return here


def app_env() -> str:
    env = os.environ.get("APP_ENV", "local")
    if env not in ENVIRONMENTS:
        raise MMPError("APP_ENV", f"unknown environment {env!r}", ", ".join(ENVIRONMENTS))
    return env


def load_settings(env: str | None = None, root: Path | None = None) -> Any:
    """The settings of ``env`` as an OmegaConf DictConfig, resolved lazily: a value is resolved
    when it is read, so a missing variable fails only the feature that needs it (serving in
    prod must not need the warehouse password). ``run_cli`` reports such a failure as one
    clean error line (see :func:`as_user_error`)."""
    from omegaconf import OmegaConf

    env = env or app_env()
    root = root or repo_root()
    path = root / "conf" / "env" / f"{env}.yaml"
    if not path.exists():
        raise MMPError("APP_ENV", f"no settings file conf/env/{env}.yaml", ", ".join(ENVIRONMENTS))
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(repo_root()))
    return OmegaConf.load(path)


def as_user_error(err: BaseException) -> MMPError | None:
    """An unresolvable runtime setting as a user error naming the key and the variable (never
    a value), or None when ``err`` is something else."""
    import sys

    errors = sys.modules.get("omegaconf.errors")
    if errors is None or not isinstance(err, errors.InterpolationResolutionError):
        return None
    key = getattr(err, "full_key", None) or "a runtime setting"
    reason = str(err).splitlines()[0]
    return MMPError(f"conf/env/{app_env()}.yaml: {key}", f"cannot be resolved: {reason}", "set the environment variable it references")
