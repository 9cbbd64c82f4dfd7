"""``mmp serve`` as a real process: N workers each serve the model; a model that cannot load
exits non-zero at start; the container image's own command serves a model named by env vars."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, pipeline_env
from tests.serving.conftest import example_record, free_port


def worker_pids(parent: int) -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process(parent).children(recursive=True)}


def test_serve_with_two_workers_answers_real_requests(package_dir: Path, challenger_dir: Path, tmp_path: Path) -> None:
    """Two workers serving a champion and a challenger. Loaded from 8 threads on fresh connections,
    every /metrics scrape, whichever worker answers it, counts every worker's requests
    (prometheus-client's multiprocess mode; parsed by the client's own parser) and needs no
    token; the metrics' temp directory goes at exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(package_dir), "--port", str(port), "--workers", "2", "--no-access-log"]
    cmd += ["--challenger", str(challenger_dir), "--split", "0.3"]
    env = pipeline_env(ROOT, MMP_API_TOKEN="tok", TMPDIR=str(tmp_path))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, headers = f"http://127.0.0.1:{port}", {"Authorization": "Bearer tok"}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200 and len(worker_pids(proc.pid)) >= 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read()
        record = example_record(package_dir)
        # fresh connections spread over the workers; every answer must be a real prediction, the
        # same record (the same customer_id) always by the same variant
        answers = [httpx.post(f"{url}/predict", json=record, headers=headers, timeout=10) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert len({json.dumps(a.json()) for a in answers}) == 1
        assert httpx.post(f"{url}/predict", json=record, timeout=10).status_code == 401
        workers = worker_pids(proc.pid)
        assert len(workers) >= 2, "two worker processes serve the model"
        scrape_under_load(url, headers, record)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not list(tmp_path.glob("mmp-metrics-*")), "the multiprocess metrics directory is removed at exit"


def scrape_under_load(url: str, headers: dict[str, str], record: dict) -> None:
    """200 /predict requests (150 single records, 50 lists of 5) from 8 threads, scraped during
    and after: the counts add up across the workers."""
    from concurrent.futures import ThreadPoolExecutor

    from prometheus_client.parser import text_string_to_metric_families

    bodies = [{**record, "customer_id": i} for i in range(150)] + [[{**record, "customer_id": i + j} for j in range(5)] for i in range(50)]

    # One client (one TLS-free setup), no keep-alive: every request a fresh connection, so the
    # kernel spreads them over both workers.
    client = httpx.Client(base_url=url, headers=headers, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
    with client, ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client.post, "/predict", json=b) for b in bodies]
        during = [client.get("/metrics").status_code for _ in range(3)]
        assert [f.result().status_code for f in futures] == [200] * 200
        assert during == [200] * 3
        scrapes = [client.get("/metrics").text for _ in range(4)]
    for text in scrapes:
        samples = [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]
        ok = sum(v for n, lab, v in samples if n == "mmp_requests_total" and lab["endpoint"] == "/predict" and lab["status"] == "200")
        timed = sum(v for n, lab, v in samples if n == "mmp_request_duration_seconds_count" and lab["endpoint"] == "/predict")
        rows = {lab["variant"]: v for n, lab, v in samples if n == "mmp_rows_scored_total"}
        assert ok == 20 + 200 and timed == 20 + 1 + 200  # + the one 401
        assert rows["champion"] + rows["challenger"] == 20 + 150 + 50 * 5 and rows["challenger"] > 0
        assert {lab["variant"] for n, lab, v in samples if n == "mmp_model_info" and v == 1} == {"champion", "challenger"}


def test_serve_fails_at_start_when_the_model_cannot_load(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(tmp_path / "missing"), "--port", str(free_port()), "--workers", "2"]
    proc = subprocess.run(cmd, cwd=ROOT, env=pipeline_env(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: --model:" in proc.stderr and "neither an existing directory nor a model URI" in proc.stderr


def dockerfile_cmd() -> list[str]:
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1
    return json.loads(lines[0].removeprefix("CMD "))


def test_the_image_command_serves_the_model_named_by_env_vars(package_dir: Path) -> None:
    """No Docker engine here: run the image's own CMD (its app factory) with the env-var contract,
    on 127.0.0.1 and a free port instead of 0.0.0.0:8080."""
    cmd = dockerfile_cmd()
    assert cmd[:3] == ["uvicorn", "--factory", "mmp.serving.app:create_app"] and cmd[-4:] == ["--host", "0.0.0.0", "--port", "8080"]
    port = free_port()
    local = [sys.executable, "-m", *cmd[:-4], "--host", "127.0.0.1", "--port", str(port)]
    env = pipeline_env(
        ROOT,
        APP_ENV="prod",
        MLFLOW_TRACKING_URI="sqlite:///unused.db",
        MMP_MODEL=str(package_dir),
        MMP_MAX_BODY_BYTES="5000",
        MMP_MAX_RECORDS="5",  # 5,000 bytes hold 5 records of this model at their widest
    )
    proc = subprocess.Popen(local, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, deadline, ready = f"http://127.0.0.1:{port}", time.monotonic() + 90, None
        while ready is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{url}/ready", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, proc.stdout.read() if proc.poll() is not None else "not ready"
        assert httpx.post(f"{url}/predict", json=example_record(package_dir), timeout=10).status_code == 200
        assert httpx.post(f"{url}/predict", json=[example_record(package_dir)] * 30, timeout=10).status_code == 413  # MMP_MAX_BODY_BYTES
        assert httpx.get(f"{url}/health?token=s3cret", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = proc.stdout.read()
    assert '"GET /health HTTP/1.1" 200' in log and "s3cret" not in log, log  # the access log drops query strings
    failed = subprocess.run(
        local,
        cwd=ROOT,
        env=pipeline_env(ROOT, APP_ENV="prod", MLFLOW_TRACKING_URI="sqlite:///unused.db"),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert failed.returncode != 0 and "no model given" in failed.stderr
