"""Stage processes forked from a warm interpreter, so that each DVC stage skips importing its
libraries again.

Each stage of ``dvc exp run`` is a new Python process, and at 20k rows most of its time is
imports: pandas, scikit-learn (with scipy.stats), LightGBM, matplotlib and MLflow cost 1-3 s a
stage, about 10 s of the default run. ``run_module`` asks a server that imported them once for a
fork of itself, which then runs the stage module exactly as ``python -m`` would: with the
caller's arguments, working directory, environment, umask, ``sys.path`` and standard streams
(the file descriptors themselves are passed over the socket). The caller forwards signals to it
and exits with its status, or dies of the same signal.

What keeps this safe:
- Only third-party libraries are preloaded, never mmp's own modules (bar this one): the stage
  imports its code fresh in the fork, so an edit is always seen.
- A server is keyed by everything that is read when those libraries load: the interpreter and
  its flags, ``sys.path`` and the modification times of its directories (``pip install``
  changes them), the environment variables libraries read at load time (``OMP_*``, which libgomp
  reads once, ``PYTHON*``, locale, matplotlib's), and this file. Any change starts a new server.
- A fork is a new session, so a signal for it reaches the processes it starts, as a terminal's
  Ctrl-C would. A caller that dies takes its fork with it.
- No server answering means the stage runs in the caller's process, as before, while a server
  starts in the background for the next stage. Linux only (``fork``, ``pidfd_open`` and
  ``SCM_RIGHTS``); elsewhere, or with ``MMP_FORKSERVER=0``, every stage runs in its own process.
- The server listens on a socket in a directory only its user can open, checks the peer's uid,
  and exits after ``IDLE_EXIT_S`` seconds without a stage.

A forked stage is not a child of DVC: ``RUSAGE_CHILDREN`` of the caller does not count it (the
pipeline benchmark measures peak memory with ``MMP_FORKSERVER=0``)."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import io
import json
import os
import runpy
import selectors
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

# What the stages import that is slow to import; a module that fails to import is left to the
# stage, which then reports the error itself.
PRELOAD = (
    "pandas",
    "pyarrow.parquet",
    "pyarrow.dataset",  # what pandas.read_parquet imports on first use
    "scipy.stats",
    "sklearn.base",
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.metrics",
    "sklearn.preprocessing",
    "lightgbm",
    "joblib",
    "matplotlib.pyplot",
    "dvclive",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "omegaconf",
)
# Environment variables that libraries read when they load (so a preloaded copy would miss a
# change): the interpreter's own, OpenMP's and the BLAS libraries' thread settings, locale,
# matplotlib's configuration and the home directory its defaults live under.
KEYED_ENV_PREFIXES = (
    *("PYTHON", "LANG", "LC_", "HOME", "XDG_CONFIG", "XDG_CACHE"),
    *("OMP_", "GOMP_", "KMP_", "OPENBLAS_", "MKL_", "NUMEXPR_", "NPY_", "NUMPY_", "SCIPY_", "SKLEARN_", "JOBLIB_", "LOKY_"),
    *("MPL", "MATPLOTLIB", "MLFLOW_CONFIGURE_LOGGING", "MLFLOW_LOGGING"),
)
IDLE_EXIT_S = 300.0
STARTING_WAIT_S = 10.0  # how long a stage waits for a server that is importing its libraries
HEADER = 8  # bytes of each number on the socket: the request's length, the fork's pid, its exit status
MAX_BASE_LENGTH = 107 - len("/mmp-forkserver-4294967295/") - 20 - len(".sock")  # 55: the key has 20 hex digits


def enabled() -> bool:
    return os.environ.get("MMP_FORKSERVER", "1").lower() not in ("0", "false", "off", "no") and _supported()


def _supported() -> bool:
    return sys.platform == "linux" and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


def run_module(module: str, argv: Sequence[str]) -> NoReturn:
    """Run ``python -m module *argv``: in a fork of the warm server when one answers, else here
    (and start one for the next call). Never returns: exits with the module's status."""
    paths = server_paths() if enabled() else None
    if paths is not None:
        code = run_on_server(paths, module, argv)
        if code is not None:
            exit_like(code)
        start_server(paths)
    sys.argv = [module, *argv]
    run_and_exit(module)


def run_and_exit(module: str) -> NoReturn:
    """Run ``module`` as ``__main__`` and exit as the interpreter would, minus its last step:
    tearing down every module (scikit-learn's, MLflow's, pandas'...), which took 0.7-1.3 s of
    each stage. Non-daemon threads are joined and atexit handlers run (MLflow, logging, joblib
    clean up there) as at any exit, the standard streams are flushed, then the process ends."""
    interrupted = False
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = exit_status(stop.code)
    except BaseException as err:  # what the interpreter does with an uncaught exception
        sys.excepthook(type(err), err, err.__traceback__)
        interrupted, code = isinstance(err, KeyboardInterrupt), 1
    threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as exit does
    atexit._run_exitfuncs()
    if interrupted:  # Python dies of SIGINT after an uncaught KeyboardInterrupt; so do we
        code = -signal.SIGINT
    exit_like(code)


def exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives: None is 0, an int itself, anything else is printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


@dataclass(frozen=True)
class ServerPaths:
    socket: Path
    lock: Path
    log: Path

    @classmethod
    def of(cls, socket: Path) -> ServerPaths:
        return cls(socket, socket.with_suffix(".lock"), socket.with_suffix(".log"))


def server_paths() -> ServerPaths | None:
    """The server's socket, lock and log for this interpreter and environment, in a directory
    only this user can open; None when that directory is not safe to use."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"
    if len(base) > MAX_BASE_LENGTH:  # a socket's path has at most 107 bytes
        base = "/tmp"
    root = Path(base) / f"mmp-forkserver-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = root.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None  # someone else's directory: never talk to a socket they could own
    return ServerPaths.of(root / f"{server_key()}.sock")


def server_key() -> str:
    """A digest of everything the preloaded libraries saw when they loaded (module docstring)."""

    def mtime(entry: str) -> int:
        try:
            return os.stat(entry).st_mtime_ns
        except OSError:
            return 0

    path = sys.path[1:]  # sys.path[0] is the caller's working directory (``python -m``): set per fork
    parts = [
        sys.executable,
        *subprocess._args_from_interpreter_flags(),  # type: ignore[attr-defined]  # -X, -W, -O, ...
        *(f"{entry}@{mtime(entry)}" for entry in path),
        *(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith(KEYED_ENV_PREFIXES)),
        str(mtime(__file__)),
    ]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:20]


# ------------------------------------------------------------------------------------ the caller


def run_on_server(paths: ServerPaths, module: str, argv: Sequence[str]) -> int | None:
    """The module's exit status (negative: killed by that signal) when a server ran it; None
    when no server took it (nothing was started)."""
    conn = connect(paths)
    if conn is None:
        return None
    with conn:
        request = Request(module, list(argv), os.getcwd(), sys.path, dict(os.environ), current_umask())
        payload = json.dumps({k: v for k, v in asdict(request).items() if k != "fds"}).encode()  # the fds go beside it
        try:
            socket.send_fds(conn, [encode_int(len(payload))], [0, 1, 2])
            conn.sendall(payload)
            pid = recv_int(conn)
        except OSError:
            return None  # the server went away before it forked: nothing ran
        forward_signals(pid)
        try:
            return recv_int(conn)
        except OSError:
            kill_group(pid, signal.SIGTERM)
            print(f"error: the stage server stopped while it ran {module}; its log: {paths.log}", file=sys.stderr)
            return 1


def connect(paths: ServerPaths) -> socket.socket | None:
    """A connection to the server; waits for one that is still importing its libraries."""
    deadline = time.monotonic() + STARTING_WAIT_S
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(str(paths.socket))
            return conn
        except OSError:
            conn.close()
        if not server_starting(paths) or time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def server_starting(paths: ServerPaths) -> bool:
    """Whether a server holds the lock (it takes it before importing, binds after)."""
    try:
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock this call took


def start_server(paths: ServerPaths) -> None:
    """A server in the background, in its own session, with no handle on the caller's streams
    (it writes to its log)."""
    subprocess.Popen(
        [sys.executable, *subprocess._args_from_interpreter_flags(), "-m", __name__, str(paths.socket)],  # type: ignore[attr-defined]
        cwd=paths.socket.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def forward_signals(pid: int) -> None:
    def forward(signum: int, _frame: object) -> None:
        kill_group(pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)


def kill_group(pid: int, signum: int) -> None:
    """Signal the fork and what it started (its session's group), or only the fork if it has not
    yet made its own session."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signum)
            return
        except OSError:
            continue  # no such group (yet), or already gone


def exit_like(code: int) -> NoReturn:
    """Exit with ``code`` (negative: die of that signal, as the process that got it did)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more reaches it
            stream.flush()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    os._exit(code)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def encode_int(value: int) -> bytes:
    """The protocol's one number format: a request's length, a fork's pid, its exit status."""
    return value.to_bytes(HEADER, "big", signed=True)


def recv_int(conn: socket.socket, received: bytes = b"") -> int:
    return int.from_bytes(received + recv_exact(conn, HEADER - len(received)), "big", signed=True)


def recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("the other side closed the connection")
        data += chunk
    return data


# ------------------------------------------------------------------------------------ the server


@dataclass
class Request:
    module: str
    argv: list[str]
    cwd: str
    path: list[str]
    env: dict[str, str]
    umask: int
    fds: list[int] = field(default_factory=list)


@dataclass
class Fork:
    pid: int
    conn: socket.socket  # to its caller, which gets the pid, then the exit status
    caller_alive: bool = True


class Server:
    """Preloads, then forks one process per request until idle for ``idle_s`` seconds."""

    def __init__(self, paths: ServerPaths, idle_s: float):
        self.paths, self.idle_s = paths, idle_s
        self.selector = selectors.DefaultSelector()
        self.forks: dict[int, Fork] = {}  # by pidfd, readable once the fork has exited
        self.lock = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def serve(self) -> Request | None:
        """In a fork: the request it is to run. In the server: None, when it stops."""
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            return None  # another server has this key
        server = os.getpid()
        try:
            self.log_to(self.paths.log)
            preload()
            self.paths.socket.unlink(missing_ok=True)  # a dead server's: the lock is ours
            self.listener.bind(str(self.paths.socket))
            self.listener.listen(16)
            self.selector.register(self.listener, selectors.EVENT_READ)
            return self.loop()
        finally:
            if os.getpid() == server:
                for path in (self.paths.socket, self.paths.log, self.paths.lock):
                    path.unlink(missing_ok=True)
                self.release()

    def loop(self) -> Request | None:
        while True:
            events = self.selector.select(timeout=self.idle_s)
            if not events and not self.forks:
                return None
            for key, _ in events:
                if key.fileobj is self.listener:
                    request = self.accept()
                    if request is not None:  # in the fork
                        self.release()
                        return request
                elif isinstance(key.fileobj, int):
                    self.finished(key.fileobj)
                else:  # the caller hung up while its fork runs: the fork must not outlive it
                    self.caller_gone(key.data)

    def accept(self) -> Request | None:
        conn, _ = self.listener.accept()
        request = receive(conn)
        if request is None:
            conn.close()
            return None
        pid = os.fork()
        if pid == 0:
            conn.close()
            return request
        for fd in request.fds:
            os.close(fd)
        print(f"{time.strftime('%H:%M:%S')} pid {pid}: {request.module} {' '.join(request.argv[:1])}", flush=True)
        conn.sendall(encode_int(pid))
        pidfd = os.pidfd_open(pid)
        self.forks[pidfd] = Fork(pid, conn)
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.selector.register(conn, selectors.EVENT_READ, data=pidfd)
        return None

    def finished(self, pidfd: int) -> None:
        fork = self.forks.pop(pidfd)
        _, status = os.waitpid(fork.pid, 0)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        code = os.waitstatus_to_exitcode(status)
        print(f"{time.strftime('%H:%M:%S')} pid {fork.pid}: exit status {code}", flush=True)
        if fork.caller_alive:
            self.selector.unregister(fork.conn)
            with contextlib.suppress(OSError):  # the caller went away just now
                fork.conn.sendall(encode_int(code))
        fork.conn.close()

    def caller_gone(self, pidfd: int) -> None:
        fork = self.forks[pidfd]
        self.selector.unregister(fork.conn)
        fork.caller_alive = False
        kill_group(fork.pid, signal.SIGTERM)

    def release(self) -> None:
        """Close what the server holds (in a fork: so that only the server holds it)."""
        self.selector.close()
        for fork in self.forks.values():
            fork.conn.close()
        for fd in (self.lock, *self.forks):
            os.close(fd)
        self.listener.close()

    @staticmethod
    def log_to(log: Path) -> None:
        """The server's output and errors (a traceback if it dies) go to its log, begun anew."""
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for target in (1, 2):
            os.dup2(fd, target)
        os.close(fd)


def preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as err:  # the stage imports it itself and reports what is wrong
            print(f"not preloaded: {name}: {err}", flush=True)


def receive(conn: socket.socket) -> Request | None:
    """A caller's request with its three standard streams, or None (logged) if it is not one."""
    try:
        conn.settimeout(5)
        uid = int.from_bytes(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)[4:8], sys.byteorder)
        if uid != os.getuid():
            raise PermissionError(f"a caller with uid {uid}")
        msg, fds, _flags, _addr = socket.recv_fds(conn, HEADER, 3)
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            raise ConnectionError(f"{len(fds)} file descriptors instead of 3")
        size = recv_int(conn, msg)
        conn.settimeout(None)
        return Request(**json.loads(recv_exact(conn, size).decode()), fds=fds)
    except (OSError, ValueError, TypeError) as err:
        print(f"refused a request: {err}", flush=True)
        return None


def become(request: Request) -> None:
    """Turn this fork into the caller's stage process."""
    os.setsid()
    for target, fd in enumerate(request.fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request.cwd)
    os.umask(request.umask)
    os.environ.clear()
    os.environ.update(request.env)
    time.tzset()  # TZ is read at start-up
    tempfile.tempdir = None  # chosen from TMPDIR at first use: the caller's, not the server's
    sys.path[:] = request.path
    for name in [name for name in sys.modules if name == "mmp" or name.startswith("mmp.")]:
        del sys.modules[name]  # the server's copy of this module and its packages: the stage imports its own
    sys.stdin, sys.stdout, sys.stderr = (reopen(fd, like) for fd, like in enumerate((sys.stdin, sys.stdout, sys.stderr)))
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # type: ignore[misc]
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = [request.module, *request.argv]


def reopen(fd: int, like: Any) -> io.TextIOWrapper:
    """A standard stream on ``fd`` buffered as Python would buffer it at start-up for what ``fd``
    is now (a terminal: line by line), with the interpreter's encoding."""
    reading = fd == 0
    raw = io.FileIO(fd, "r" if reading else "w", closefd=False)
    buffered = io.BufferedReader(raw) if reading else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffered,
        encoding=like.encoding if like else None,
        errors=like.errors if like else None,
        line_buffering=not reading and (fd == 2 or os.isatty(fd)),
        write_through=bool(getattr(like, "write_through", False)) and not reading,  # -u, PYTHONUNBUFFERED
    )


def main(argv: list[str]) -> None:
    """``python -m mmp.core.forkserver SOCKET``: the server (started by ``run_module``)."""
    idle_s = float(os.environ.get("MMP_FORKSERVER_IDLE_S", IDLE_EXIT_S))
    request = Server(ServerPaths.of(Path(argv[0])), idle_s).serve()
    if request is not None:
        become(request)
        run_and_exit(request.module)


if __name__ == "__main__":
    main(sys.argv[1:])
