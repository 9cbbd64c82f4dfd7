"""Runtime settings: WHERE things run (tracking URI, database URLs, credentials).

They live in ``conf/env/<APP_ENV>.yaml`` (``local`` by default), are read at run time, may
reference the environment (``${oc.env:VAR}``), and are never written into params.yaml, logs,
MLflow or a model, so switching environment never invalidates the DVC cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mmp.errors import MMPError

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
    """The resolved settings of ``env`` as an OmegaConf DictConfig (never logged whole)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    env = env or app_env()
    root = root or repo_root()
    path = root / "conf" / "env" / f"{env}.yaml"
    if not path.exists():
        raise MMPError("APP_ENV", f"no settings file conf/env/{env}.yaml", ", ".join(ENVIRONMENTS))
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(repo_root()))
    cfg = OmegaConf.load(path)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as err:
        # The message names the key and the missing variable, never a value.
        raise MMPError(f"conf/env/{env}.yaml", f"cannot resolve a setting: {str(err).splitlines()[0]}", "set the environment variable it references") from None
    return cfg
