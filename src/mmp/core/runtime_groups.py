"""Runtime config groups (``conf/monitor/``, ``conf/daily/``): YAML files composed with Hydra when
a command runs, never into params.yaml, so changing one never re-runs a stage. One loader, so
an unknown file, key or value reads the same one line in every group."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmp.core.errors import MMPError
from mmp.core.parsing import T, parse


def group_names(root: Path, group: str) -> list[str]:
    """The files of ``conf/<group>/`` under ``root``, by name."""
    return sorted(p.stem for p in (root / "conf" / group).glob("*.yaml"))


def load_group(root: Path, group: str, name: str, overrides: Sequence[str], model: type[T], flag: str) -> T:
    """``conf/<group>/<name>.yaml`` under ``root`` with Hydra ``overrides`` of its keys
    (``gate.value=0.75``), typed by ``model``; ``flag`` is the option that names the file."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    known = group_names(root, group)
    source = (Path("conf") / group / f"{name}.yaml").as_posix()
    if name not in known:
        raise MMPError(flag, f"no file {source}", ", ".join(known) or "none yet")
    try:
        with initialize_config_dir(config_dir=str((root / "conf").resolve()), version_base=None):
            cfg = compose(overrides=[f"+{group}={name}", *(f"{group}.{o}" for o in overrides)])
    except (HydraException, OmegaConfBaseException) as err:
        raise MMPError("--set", f"cannot apply {list(overrides)}: {str(err).splitlines()[0]}", f"KEY=VALUE of conf/{group} keys") from None
    return parse(model, OmegaConf.to_container(cfg[group], resolve=True), group, source=source)
