"""MLflow mirror, registry and promotion, against real stores: the default SQLite store that
`dvc exp run` fills, and (integration) a real `mlflow server` on its own PostgreSQL database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import VENV_BIN, pipeline_env, run
from tests.e2e.conftest import SMALL_ROWS

SMALL = ["-S", f"data.rows={SMALL_ROWS}"]  # the rows of small_run, which `tracked` copies
MODEL = "credit-default"


def client_for(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def sqlite_uri(repo: Path) -> str:
    return f"sqlite:///{repo}/mlflow.db"


def runs(client: Any) -> list[Any]:
    experiment = client.get_experiment_by_name("modern-ml-pipeline")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def versions(client: Any) -> list[Any]:
    return sorted(client.search_model_versions(f"name = '{MODEL}'"), key=lambda v: int(v.version))


def md5(path: Path) -> str:
    from mmp.core.io import md5_file

    return md5_file(path)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def model_size(package: Path) -> int:
    """The package's size without its drift reference sample (capped at 5,000 rows)."""
    return dir_size(package) - (package / "reference.parquet").stat().st_size


@pytest.fixture(scope="module")
def tracked(small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small `dvc exp run` named `first`, mirrored by its mirror stage into the SQLite store:
    this module's own copy of the shared ``small_run`` (its tests change it, in file order)."""
    return Path(shutil.copytree(small_run, tmp_path_factory.mktemp("tracked") / "repo", symlinks=True))


@pytest.mark.slow
@pytest.mark.xdist_group("small_run")
def test_exp_run_is_mirrored_once_with_everything(tracked: Path) -> None:
    client = client_for(sqlite_uri(tracked))
    [mirrored] = runs(client)
    data = mirrored.data
    assert mirrored.info.run_name == "first" and mirrored.info.status == "FINISHED"
    assert data.tags["mmp.dvc.exp_name"] == "first"
    assert (
        data.tags["mmp.dvc.baseline_rev"]
        == subprocess.run(["git", "rev-parse", "HEAD"], cwd=tracked, capture_output=True, text=True).stdout.strip()
    )
    lock = yaml.safe_load((tracked / "dvc.lock").read_text())
    results = {name: stage for name, stage in lock["stages"].items() if name != "mirror"}  # its marker is written after it mirrors
    for stage in results.values():
        for out in stage.get("outs", []):
            assert data.tags[f"mmp.dvc.out.{out['path']}"] == out["md5"], out["path"]
    assert data.params["model.class_path"] == "lightgbm.LGBMClassifier" and data.params["data.rows"] == "2000"
    assert data.params["registry.model_name"] == "null", "the registered model's name is derived from the data"
    assert client.get_registered_model(MODEL).tags["mmp.task"] == "binary"
    scores = json.loads((tracked / "metrics/evaluate.json").read_text())
    assert {k: data.metrics[k] for k in scores} == pytest.approx(scores)
    assert data.metrics["data.rows.train"] == 1600
    curve = client.get_metric_history(mirrored.info.run_id, "train/binary_logloss")
    assert [m.step for m in curve] == list(range(300))
    inputs = {d.dataset.name: d.dataset for d in mirrored.inputs.dataset_inputs}
    assert inputs["data/prepared/train"].digest == md5(tracked / "data/prepared/train.parquet")
    assert json.loads(inputs["data/prepared/test"].source)["dvc_path"] == "data/prepared/test.parquet"
    artifacts = {a.path for a in client.list_artifacts(mirrored.info.run_id)}
    assert {"MODEL_CARD.md", "plots"} <= artifacts
    assert {a.path for a in client.list_artifacts(mirrored.info.run_id, "plots/evaluate/sklearn")} >= {"plots/evaluate/sklearn/roc.json"}
    [version] = versions(client)
    assert version.run_id == mirrored.info.run_id
    assert data.tags["mmp.model.kind"] == version.tags["mmp.model.kind"] == "tabular"  # the package's ModelWrapper kind
    assert str(client.get_model_version_by_alias(MODEL, "candidate").version) == str(version.version)
    card = Path(client.download_artifacts(mirrored.info.run_id, "MODEL_CARD.md", str(tracked.parent / "dl")))
    assert card.read_text() == (tracked / "models/package/MODEL_CARD.md").read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("small_run")
def test_mirroring_again_updates_and_never_duplicates(tracked: Path) -> None:
    client = client_for(sqlite_uri(tracked))
    [before] = runs(client)
    history = len(client.get_metric_history(before.info.run_id, "train/binary_logloss"))
    for cmd in (["mmp", "mirror"], ["mmp", "mirror", "--all"], ["mmp", "mirror", "--all"]):
        assert "mirrored first -> MLflow run " + before.info.run_id in run(cmd, tracked).stdout
    [after] = runs(client)
    assert after.info.run_id == before.info.run_id
    assert len(client.get_metric_history(after.info.run_id, "train/binary_logloss")) == history
    assert len(client.get_metric_history(after.info.run_id, "roc_auc")) == 1
    assert len(after.inputs.dataset_inputs) == 2
    assert len(client.search_logged_models([after.info.experiment_id])) == 1
    assert len(versions(client)) == 1
    assert after.data.tags["mmp.git.commit"] != after.data.tags["mmp.dvc.baseline_rev"], "--all records the experiment's own commit"
    assert "Data and pipelines are up to date" in run(["dvc", "status"], tracked).stdout, "mirroring changes no DVC output"


@pytest.mark.slow
@pytest.mark.xdist_group("small_run")
def test_promote_gates_the_candidate_and_serves_the_champion(tracked: Path) -> None:
    client = client_for(sqlite_uri(tracked))
    out = run(["mmp", "promote"], tracked).stdout
    assert "promoted: credit-default@champion -> version 1" in out and "no champion yet" in out
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1" and champion.tags["mmp.gate.passed"] == "true"
    small_package = model_size(tracked / "models/package")
    champion_uuid = yaml.safe_load((tracked / "models/package/MLmodel").read_text())["model_uuid"]

    # A second experiment on 10x the rows becomes the candidate; a strict gate refuses it.
    assert "mirrored second" in run(["dvc", "exp", "run", "-S", "data.rows=20000", "-n", "second"], tracked).stdout
    assert str(client.get_model_version_by_alias(MODEL, "candidate").version) == "2"
    assert abs(model_size(tracked / "models/package") - small_package) < 256 * 1024, "the model holds no training rows"
    assert pq.read_metadata(tracked / "models/package/reference.parquet").num_rows == 5000  # of 16000: the capped sample
    strict = yaml.safe_load((tracked / "params.yaml").read_text())
    strict["evaluate"]["gate"]["classification"] = {
        "rules": [{"metric": "roc_auc", "op": ">=", "value": 0.99}],
        "beat_champion": {"metric": "f1", "min_delta": 0.5},
    }
    (tracked / "strict.yaml").write_text(yaml.safe_dump(strict))
    refused = run(["mmp", "promote", "--params", "strict.yaml"], tracked, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "FAIL  roc_auc >= 0.99: got 0.8" in refused.stdout
    assert "error: not promoted: FAIL  roc_auc >= 0.99" in refused.stdout and "f1 beats the champion by >= 0.5" in refused.stdout
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    rejected = client.get_model_version(MODEL, "2")
    assert rejected.tags["mmp.gate.passed"] == "false" and rejected.tags["mmp.gate.champion_version"] == "1"
    assert float(rejected.tags["mmp.gate.roc_auc"]) > 0.7

    # A gate for a test split that is not the candidate's is refused by name.
    wrong = run(["mmp", "promote", "--test", "data/prepared/train.parquet"], tracked, check=False)
    assert wrong.returncode == 2 and "error: --test: data/prepared/train.parquet is not version 2's test data" in wrong.stderr

    # The champion loads by alias with plain MLflow in a fresh process and scores raw rows.
    code = (
        "import mlflow.pyfunc, pandas as pd\n"
        f"m = mlflow.pyfunc.load_model('models:/{MODEL}@champion')\n"
        "raw = pd.read_parquet('data/prepared/test.parquet').drop(columns=['default']).head(7)\n"
        "out = m.predict(raw)\n"
        "assert len(out) == 7 and set(out.prediction) <= {0, 1}, out\n"
        "print(m.metadata.model_uuid)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tracked,
        env=pipeline_env(tracked, MLFLOW_TRACKING_URI=sqlite_uri(tracked)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == champion_uuid, "the champion is version 1, not the newer candidate"


@pytest.mark.slow
@pytest.mark.xdist_group("small_run")
def test_another_dataset_gets_its_own_registered_model(tracked: Path) -> None:
    client = client_for(sqlite_uri(tracked))
    credit_versions = len(versions(client))
    sugar = ["-S", "data=diabetes", "-S", "model=lightgbm_regressor"]  # 442 rows: cheap
    out = run(["dvc", "exp", "run", *sugar, "-n", "sugar"], tracked).stdout
    assert "mirrored sugar -> MLflow run" in out and "diabetes version 1 (new, alias candidate)" in out, out
    card = (tracked / "models/package/MODEL_CARD.md").read_text()
    assert card.startswith("# Model card: diabetes") and "loan" not in card.lower(), card
    # A bundled sklearn dataset runs the same graph as the credit data, with the regression metrics.
    scores = json.loads((tracked / "metrics/evaluate.json").read_text())
    assert {"rmse", "mae", "r2"} <= set(scores) and scores["r2"] > 0.2, scores
    promoted = run(["mmp", "promote"], tracked).stdout
    assert "promoted: diabetes@champion -> version 1" in promoted, promoted
    assert len(versions(client)) == credit_versions, "credit-default is untouched"

    # Naming the credit model for the diabetes data: the version is refused in one line.
    wrong = run(["dvc", "exp", "run", *sugar, "-S", "registry.model_name=credit-default", "-n", "wrong"], tracked)
    [line] = [x for x in wrong.stderr.splitlines() if "MLflow mirroring failed" in x]
    assert "registered model 'credit-default' holds binary models" in line and "registry.model_name" in line, wrong.stderr
    assert "Traceback" not in wrong.stderr and len(versions(client)) == credit_versions


def queue_idle(repo: Path) -> bool:
    status = run(["dvc", "queue", "status"], repo).stdout
    return not any(word in status for word in ("Queued", "Running"))


FAST = ["-S", "model=logistic_regression"]  # the queued and cached runs: cheap models


def candidate_run(client: Any) -> str:
    return client.get_model_version_by_alias(MODEL, "candidate").run_id


@pytest.mark.slow
def test_queued_runs_register_and_mirror_all_leaves_candidate_on_the_newest(repo_copy: Path) -> None:
    run(["dvc", "exp", "run", "--queue", *SMALL, *FAST, "-n", "q1"], repo_copy)
    run(
        ["dvc", "exp", "run", "--queue", *SMALL, "-S", "model=random_forest", "-S", "model.hyperparameters.n_estimators=5", "-n", "q2"],
        repo_copy,
    )
    # The workers outlive `dvc queue start` and inherit its stdout: send it to a file, not a pipe.
    with (repo_copy.parent / "queue.log").open("w") as log:
        subprocess.run(
            ["dvc", "queue", "start", "-j", "2"],
            cwd=repo_copy,
            env=pipeline_env(repo_copy),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
    deadline = time.monotonic() + 900
    try:
        while not queue_idle(repo_copy):
            assert time.monotonic() < deadline, run(["dvc", "queue", "status"], repo_copy).stdout
            time.sleep(5)
    finally:
        run(["dvc", "queue", "stop"], repo_copy, check=False)
    shown = run(["dvc", "exp", "show", "--json"], repo_copy).stdout
    assert '"q1"' in shown and '"q2"' in shown, run(["dvc", "queue", "status"], repo_copy).stdout

    # Each queued run registered its own version in its mirror stage (they run in DVC's temp
    # dirs, whose cwd is not the repository: nothing may resolve through the cwd's store).
    client = client_for(sqlite_uri(repo_copy))
    logs = "".join(run(["dvc", "queue", "logs", name], repo_copy).stdout for name in ("q1", "q2"))
    assert "MLflow mirroring failed" not in logs, logs
    by_run = {r.info.run_id: r.info.run_name for r in runs(client)}
    assert sorted(by_run[v.run_id] for v in versions(client)) == ["q1", "q2"], logs

    # q1's recipe again in the workspace, the newest run. DVC never saves a stage to its
    # run-cache when the stage has a `cache: false` output that is not a metric or plot
    # (dvc/stage/__init__.py: `run_cache=... not no_cache_outs`): tune, train and evaluate
    # write their dvclive folders that way (kept in git), so they always re-run. Their outputs
    # are byte-identical for a deterministic model, so package is restored and its package is
    # q1's: it keeps q1's version, which becomes the candidate.
    proc = run(["dvc", "exp", "run", *SMALL, *FAST, "-n", "cached"], repo_copy)
    restored = proc.stdout + proc.stderr
    for stage in ("featurize", "package"):
        assert f"Stage '{stage}' is cached - skipping run" in restored, restored
    # prepare too writes such an output (metrics/data_profile.json, kept in git for `mmp report`),
    # so it re-runs; its outputs are byte-identical, so featurize is restored.
    for stage in ("prepare", "tune", "train", "evaluate"):
        assert f"Running stage '{stage}'" in restored, restored
    assert "mirrored cached -> MLflow run" in restored, restored
    assert len(versions(client)) == 2
    q1_version = next(v for v in versions(client) if by_run[v.run_id] == "q1")
    assert str(client.get_model_version_by_alias(MODEL, "candidate").version) == str(q1_version.version)

    # `mirror --all` walks every experiment (q2 sorts after cached): the candidate still ends on
    # the newest one, and a package already registered keeps its one version.
    for _ in range(2):
        out = run(["mmp", "mirror", "--all"], repo_copy).stdout
        assert "(new, alias candidate)" not in out, out
        assert len(runs(client)) == 3 and len(versions(client)) == 2, out
        assert str(client.get_model_version_by_alias(MODEL, "candidate").version) == str(q1_version.version), out

    # A plain `dvc repro` of another recipe is mirrored too and becomes the candidate; repeating
    # it is a no-op.
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["seed"] = 3
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert "mirrored repro-" in run(["dvc", "repro"], repo_copy).stdout
    noop = run(["dvc", "repro"], repo_copy).stdout
    assert "mirrored" not in noop and "Stage 'mirror' didn't change, skipping" in noop, noop
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo_copy).stdout
    assert len(versions(client)) == 3 and client.get_run(candidate_run(client)).info.run_name.startswith("repro-")
    assert all(r.info.status == "FINISHED" and r.data.tags.get("mmp.package.md5") for r in runs(client))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1: PostgreSQL backend, local artifact store."""

    def __init__(self, backend: str, artifacts: Path, log: Path):
        self.backend, self.artifacts, self.log, self.port = backend, artifacts, log, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [
            str(VENV_BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            self.backend,
            "--artifacts-destination",
            str(self.artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2).close()
                return
            except OSError:
                time.sleep(1)
        pytest.fail(f"mlflow server did not start\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Any:
    """A server on its OWN fresh PostgreSQL database (MLflow's schema cannot share one)."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    admin_url = os.environ.get("MMP_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    engine = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sqlalchemy.exc.OperationalError as err:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {str(err).splitlines()[0]}")
    db = f"mmp_mlflow_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{db}"')
    server = MlflowServer(
        engine.url.set(database=db).render_as_string(hide_password=False), tmp_path / "artifacts", tmp_path / "server.log"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        engine.dispose()


CANARY = "canary-" + uuid.uuid4().hex


@pytest.mark.slow
@pytest.mark.integration
def test_catching_up_after_the_server_was_down_and_nothing_leaks(repo_copy: Path, mlflow_server: MlflowServer) -> None:
    # Credentials in the environment must never reach MLflow or the model.
    env = {
        "APP_ENV": "dev",
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        "MLFLOW_TRACKING_USERNAME": "mmp",
        "MLFLOW_TRACKING_PASSWORD": CANARY,
        "AWS_SECRET_ACCESS_KEY": CANARY,
    }
    assert "mirrored up -> MLflow run" in run(["dvc", "exp", "run", *SMALL, "-n", "up"], repo_copy, **env).stdout

    mlflow_server.stop()
    down = run(["dvc", "exp", "run", *SMALL, "-S", "seed=3", "-n", "down"], repo_copy, **env)
    warnings = [line for line in down.stderr.splitlines() if "MLflow mirroring failed" in line]
    assert len(warnings) == 1 and "catch up later with `mmp mirror --all`" in warnings[0], down.stderr
    assert (repo_copy / "models/package/MLmodel").exists() and "Data and pipelines are up to date" in run(
        ["dvc", "status"], repo_copy
    ).stdout
    offline = run(["mmp", "mirror", "--all"], repo_copy, check=False, **env)
    assert offline.returncode == 2 and "is unreachable" in offline.stderr and CANARY not in offline.stderr

    mlflow_server.start()
    caught_up = run(["mmp", "mirror", "--all"], repo_copy, **env).stdout
    assert "mirrored down" in caught_up and "(new, alias candidate)" in caught_up
    client = client_for(mlflow_server.uri)
    mirrored = runs(client)
    assert sorted(r.info.run_name for r in mirrored) == ["down", "up"]
    assert [str(v.version) for v in versions(client)] == ["1", "2"]

    texts = [
        json.dumps([r.data.params, r.data.tags, r.data.metrics, [d.dataset.source for d in r.inputs.dataset_inputs]]) for r in mirrored
    ]
    texts += [json.dumps(v.tags) for v in versions(client)]
    stored = [p for p in (mlflow_server.artifacts).rglob("*") if p.is_file()] + [
        p for p in (repo_copy / "models").rglob("*") if p.is_file()
    ]
    assert any(p.name == "MODEL_CARD.md" for p in stored) and any(p.name == "MLmodel" for p in stored)
    for text in texts:
        assert CANARY not in text
    for path in stored:
        assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_a_fresh_clone_whose_run_reproduces_the_committed_lock_still_mirrors(repo_copy: Path, tmp_path: Path) -> None:
    """A clone's first run reproduces the committed dvc.lock exactly, so the mirror stage's deps
    all match it; its missing marker output must still make the stage run (and mirror once)."""
    pinned = {"SOURCE_DATE_EPOCH": "1700000000"}  # the package's time, so the lock is reproducible
    run(["dvc", "exp", "run", *SMALL], repo_copy, MMP_MIRROR="false", **pinned)
    run(["git", "add", "-A"], repo_copy)
    run(["git", "commit", "-qm", "results"], repo_copy)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo_copy), str(clone)], tmp_path)
    out = run(["dvc", "repro"], clone, **pinned).stdout
    assert (clone / "dvc.lock").read_bytes() == (repo_copy / "dvc.lock").read_bytes(), "the clone reproduces the committed lock"
    assert "Running stage 'mirror'" in out and "mirrored repro-" in out, out
    assert len(runs(client_for(sqlite_uri(clone)))) == 1
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
