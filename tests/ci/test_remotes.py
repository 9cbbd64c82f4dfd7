"""Real push/pull round trips through DVC remotes: push from the repo with both runs, then a
fresh ``git clone`` + ``make pull`` must give a clean ``dvc status`` and a ``dvc repro`` that
runs nothing. A team remote is configured the documented way: ``make remote`` (``dvc remote add
--local --default``) plus credentials in .dvc/config.local or the environment; the committed
default remote needs nothing. Every test gives DVC a temp HOME: the default remote lives under
``~/.local/share``, and a test writes nothing outside its temp dirs."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci.conftest import TwoRevisions, clone, make
from tests.conftest import run

pytestmark = pytest.mark.slow
DEFAULT_REMOTE = ".local/share/mmp/modern-ml-pipeline/dvc-remote"  # under HOME (.dvc/config)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"server exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def round_trip(two: TwoRevisions, tmp_path: Path, configure: list[list[str]], **env: str) -> None:
    """Push what ``two`` computed, clone afresh, pull there and check nothing is left to do."""
    source = clone(two.repo, tmp_path / "source", share_cache=True)
    if "DVC_REMOTE_URL" in env:
        make(source, "remote", **env)
    for cmd in configure:
        run(cmd, source, **env)
    pushed = make(source, "push", **env).stdout
    assert "files pushed" in pushed or "file pushed" in pushed, pushed
    fresh = clone(source, tmp_path / "fresh")
    if "DVC_REMOTE_URL" in env:
        make(fresh, "remote", **env)
    for cmd in configure:
        run(cmd, fresh, **env)
    make(fresh, "pull", **env)
    assert (fresh / "models/package/MLmodel").exists()
    assert "Data and pipelines are up to date." in run(["dvc", "status"], fresh, **env).stdout
    repro = run(["dvc", "repro"], fresh, **env).stdout
    assert "Running stage" not in repro, repro
    assert "Data and pipelines are up to date." in repro


def test_cold_cache_pull_is_not_an_error(two_revisions: TwoRevisions, tmp_path: Path) -> None:
    fresh = clone(two_revisions.repo, tmp_path / "clone")
    proc = make(fresh, "pull", HOME=str(tmp_path / "home"))  # its default remote directory is empty
    assert "cache files do not exist neither locally nor on remote" in proc.stderr or "Missing cache files" in proc.stderr


def test_default_remote_is_shared_by_every_clone(two_revisions: TwoRevisions, tmp_path: Path) -> None:
    """The committed default remote is one directory per user, so what one clone pushes a fresh
    clone pulls (it was ``../.dvc-remote``, inside each clone: the pull failed)."""
    home = tmp_path / "home"
    round_trip(two_revisions, tmp_path, [], HOME=str(home))
    store = home / DEFAULT_REMOTE
    assert any(p.is_file() for p in store.rglob("*")), "objects landed in the per-user remote"
    assert not list(tmp_path.glob("*/.dvc-remote")), "nothing is written inside a clone"


def test_every_revision_resolves_the_default_remote_alike(repo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``dvc push -a`` reads each branch's own .dvc/config: a commit naming the old relative URL
    resolved it against the root of git's tree and wrote objects to ``/.dvc-remote``. After
    ``make pin-remote`` (run by setup, pull and push) every revision resolves the one remote."""
    from dvc.repo import Repo

    config = repo_copy / ".dvc" / "config"
    new = config.read_text()
    subprocess.run(["git", "checkout", "-qb", "old"], cwd=repo_copy, check=True)
    config.write_text(re.sub(r"url = .*", "url = ../.dvc-remote", new))
    subprocess.run(["git", "commit", "-qam", "the old relative remote", "--allow-empty"], cwd=repo_copy, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo_copy, check=True)
    home = tmp_path / "home"
    make(repo_copy, "pin-remote", HOME=str(home))
    monkeypatch.setenv("HOME", str(home))
    with Repo(str(repo_copy)) as repo:
        resolved = {rev: repo.cloud.get_remote().path for rev in repo.brancher(all_branches=True)}
    assert set(resolved) == {"workspace", "main", "old"}, resolved
    assert set(resolved.values()) == {str(home / DEFAULT_REMOTE)}, resolved


def sshd_binary() -> str | None:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)
    return str(Path(found).resolve()) if found else None  # sshd re-executes itself: an absolute path


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real OpenSSH server on 127.0.0.1 with its own config, host key and one authorized
    client key, all in a temp dir; and a HOME whose known_hosts trusts that host key."""
    binary = sshd_binary()
    if binary is None:
        pytest.skip("sshd is not installed (apt-get install openssh-server; .ci/run installs it as root)")
    import asyncssh

    etc, home = tmp_path / "sshd", tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    etc.mkdir()
    host_key, client_key = asyncssh.generate_private_key("ssh-ed25519"), asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(str(etc / "host_key"))
    client_key.write_private_key(str(home / ".ssh/id_mmp"))
    (etc / "authorized_keys").write_bytes(client_key.export_public_key())
    os.chmod(etc / "host_key", 0o600)
    os.chmod(home / ".ssh/id_mmp", 0o600)
    port = free_port()
    (home / ".ssh/known_hosts").write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode().strip()}\n")
    config = etc / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {etc / 'host_key'}\nPidFile {etc / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {etc / 'authorized_keys'}\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "Subsystem sftp internal-sftp\n"
    )
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        Path("/run/sshd").mkdir(mode=0o755)  # sshd's privilege-separation directory
    check = subprocess.run([binary, "-t", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.skip(f"sshd cannot run here: {check.stderr.strip()}")
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc)
        store = tmp_path / "store"
        yield {
            "url": f"ssh://{getpass.getuser()}@127.0.0.1:{port}{store}",
            "store": str(store),
            "keyfile": str(home / ".ssh/id_mmp"),
            "home": str(home),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ssh_remote_round_trip(two_revisions: TwoRevisions, sshd: dict[str, str], tmp_path: Path) -> None:
    """A real sshd; the client key goes in .dvc/config.local (never committed)."""
    env = {"DVC_REMOTE_URL": sshd["url"], "HOME": sshd["home"]}
    round_trip(two_revisions, tmp_path, [["dvc", "remote", "modify", "--local", "team", "keyfile", sshd["keyfile"]]], **env)
    assert any(p.is_file() for p in Path(sshd["store"]).rglob("*")), "objects landed on the SSH server"


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """moto's server mode: an S3 emulator (not AWS) serving the S3 HTTP API on 127.0.0.1."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        ).create_bucket(Bucket="mmp-cache")
        yield endpoint
    finally:
        server.stop()


def test_s3_remote_round_trip(two_revisions: TwoRevisions, s3_endpoint: str, tmp_path: Path) -> None:
    """S3 through moto, an S3 emulator; credentials come from the environment, the endpoint
    from .dvc/config.local. The pushed objects are then listed through the S3 API."""
    import boto3

    env = {
        "DVC_REMOTE_URL": "s3://mmp-cache/dvc",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    round_trip(two_revisions, tmp_path, [["dvc", "remote", "modify", "--local", "team", "endpointurl", s3_endpoint]], **env)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    assert s3.list_objects_v2(Bucket="mmp-cache", Prefix="dvc/")["KeyCount"] > 0
