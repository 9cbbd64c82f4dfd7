"""The hot swap: a real ``mmp serve --model models:/<name>@champion`` with two workers, under
concurrent requests, while the test moves ``champion`` in a temp SQLite registry: first to a
version that takes other inputs (refused: the served version stays, one log line), then to a
good one (swapped in). No request fails, and afterwards every response names the new version."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import ROOT, mmp, pipeline_env
from tests.serving.conftest import example_record, free_port, sqlite_registry

NAME = "credit-default"


def registry(tmp_path: Path, packages: list[Path]) -> str:
    """A SQLite registry holding ``packages`` as versions 1, 2, ... of NAME; champion -> 1."""
    from mlflow import MlflowClient

    uri, _ = sqlite_registry(tmp_path, NAME, packages)
    client = MlflowClient(uri)
    client.set_registered_model_alias(NAME, "champion", "1")
    return uri


def other_inputs(package: Path, dest: Path) -> Path:
    """A copy of ``package`` whose schema lacks one input column: it cannot answer the same requests."""
    shutil.copytree(package, dest)
    schema_file = dest / "artifacts" / "schema.json"
    schema = json.loads(schema_file.read_text())
    schema["columns"] = [c for c in schema["columns"] if c["name"] != "loan_amount"]
    schema["example"].pop("loan_amount", None)
    schema_file.write_text(json.dumps(schema))
    return dest


class Load:
    """Clients posting /predict from ``threads`` threads on fresh connections until stopped;
    every answer's status and model_version is kept, in order."""

    def __init__(self, url: str, record: dict, threads: int = 4):
        self.url, self.record = url, record
        self.answers: list[tuple[int, str]] = []
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, i: int) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)  # fresh connections: spread over the workers
        with httpx.Client(base_url=self.url, timeout=30, limits=limits) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    r = client.post("/predict", json={**self.record, "customer_id": i * 100_000 + n})
                    answer = (r.status_code, r.json().get("model_version") if r.status_code == 200 else r.text[:200])
                except httpx.HTTPError as err:
                    answer = (0, repr(err))
                with self.lock:
                    self.answers.append(answer)

    def since(self, start: int) -> list[tuple[int, str]]:
        with self.lock:
            return list(self.answers[start:])

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


def test_champion_moves_under_load_without_a_failed_request(package_dir: Path, challenger_dir: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = registry(tmp_path, [package_dir, challenger_dir, other_inputs(package_dir, tmp_path / "other")])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", f"models:/{NAME}@champion", "--port", str(port)]
    cmd += ["--workers", "2", "--poll-seconds", "0.3", "--no-access-log"]
    env = pipeline_env(ROOT, MLFLOW_TRACKING_URI=uri, TMPDIR=str(tmp_path))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    client = MlflowClient(uri)
    try:
        assert wait_until(lambda: proc.poll() is not None or ready(url), 120), "the server did not start"
        assert proc.poll() is None, "".join(lines)
        with Load(url, example_record(package_dir)) as load:
            assert wait_until(lambda: len(load.since(0)) >= 20, 30)
            client.set_registered_model_alias(NAME, "champion", "3")  # takes other inputs: refused
            assert wait_until(lambda: sum("version 3 of @champion failed to load" in line for line in lines) >= 2, 60), "".join(lines)
            time.sleep(1)  # more polls of both workers: the refusal is not retried
            refused = len(load.since(0))
            client.set_registered_model_alias(NAME, "champion", "2")
            moved = len(load.since(0))
            swapped = wait_until(lambda: len(after := load.since(moved)) >= 40 and all(v == "2" for _, v in after[-40:]), 60)
            time.sleep(0.5)  # keep loading on the new version
        answers = load.since(0)
        meta = httpx.get(f"{url}/metadata", timeout=10).json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
    out = "".join(lines)
    assert swapped, out
    assert [a for a in answers if a[0] != 200] == [], "no request failed"
    assert {v for _, v in answers[:refused]} == {"1"}, "the refused version never answered"
    versions = Counter(v for _, v in answers)
    assert set(versions) == {"1", "2"} and versions["2"] >= 40, versions
    assert (meta["model_version"], meta["version"], meta["follows"]["alias"]) == ("2", "2", f"{NAME}@champion")
    assert out.count("version 3 of @champion failed to load") == 2, out  # one line per worker, not one per poll
    assert "takes other inputs (input columns differ: loan_amount:float)" in out
    assert out.count(f"swapped {NAME} version 1 -> 2") == 2, out


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_bad_poll_interval_is_one_line_before_any_model_is_fetched() -> None:
    flag = mmp("serve", "--model", "models:/credit-default@champion", "--poll-seconds", "-1", check=False)
    assert flag.returncode == 2 and "error: --poll-seconds: got -1.0 (allowed: a number of seconds >= 0" in flag.stderr
    env = mmp("serve", "--model", "models:/credit-default@champion", check=False, MMP_POLL_SECONDS="soon")
    assert env.returncode == 2 and "error: MMP_POLL_SECONDS: got 'soon' (allowed: a number of seconds >= 0" in env.stderr
    assert "Traceback" not in flag.stderr + env.stderr
