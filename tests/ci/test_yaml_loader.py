"""DVC reads dvc.yaml and dvc.lock with ruamel.yaml many times a run (about 50 parses of
dvc.lock in one `dvc exp run`, 5 in a no-op `dvc repro`). ruamel.yaml 0.19 no longer pulls in its
C extension, and without it every parse takes the pure-Python path: 0.11 s against 0.02 s for
this repository's dvc.lock, which put the no-op `dvc repro` over its 1 s goal (issue 16).
requirements.lock pins `ruamel.yaml.clib`; this test fails where an environment lost it."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]


def test_dvc_yaml_reads_take_the_c_loader() -> None:
    yaml = YAML(typ="safe")  # what DVC's parse_yaml uses
    assert "clib" in yaml.Parser.__module__, f"{yaml.Parser}: ruamel.yaml.clib is missing, DVC parses dvc.lock in pure Python"
    assert yaml.load((ROOT / "dvc.lock").read_text())["stages"]["train"]["cmd"]


def test_mmp_reads_yaml_through_libyaml_with_the_same_result() -> None:
    # mmp's own reads of params.yaml and dvc.lock (each stage, the mirror several times a run)
    import yaml

    from mmp.core.io import load_yaml

    assert yaml.__with_libyaml__, "PyYAML was built without libyaml: every read takes the pure-Python parser"
    for name in ("params.yaml", "dvc.lock", "dvc.yaml"):
        text = (ROOT / name).read_text()
        assert load_yaml(text) == yaml.safe_load(text) and load_yaml(text.encode()) == yaml.safe_load(text)
    odd = "a: 1e3\nb: 0o17\nc: 2024-01-02\nd: ~\ne: [yes, 'no', on]\nf: !!str 12\n"
    assert load_yaml(odd) == yaml.safe_load(odd)
