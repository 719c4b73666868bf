"""`flightline-dbt`: the dbt command line, started from a process that has imported dbt already.

A dbt process spends ~3.5-4 s of CPU importing dbt-core before it reads a file (its
dataclasses generate their serialisation code at import; docs/facts.md), and a run invokes
dbt two to four times: that import was a fifth of an evening and of every test that builds
a warehouse. `flightline-dbt ARGS` behaves as `dbt ARGS`: same arguments, environment,
working directory, standard streams, exit code and signals, but the dbt inside it is a fork
of a server that imported dbt once (~0.1 s to start instead of ~4 s).

How: the first call starts the server (`python -m orchestration.dbt_fork serve`, a session
of its own, gone after FLIGHTLINE_DBT_SERVER_IDLE seconds without a call, 900 by default). Each
call connects to its Unix socket (a folder only this user can enter; the server also checks
the caller's uid), hands over its three standard streams' descriptors, its arguments,
environment and working directory; the server forks, and the child runs dbt's own command
line (`dbt.cli.main.cli`, what the `dbt` script runs) on them and reports its exit code.
Before it listens, the server parses the project twice (orchestration/dbt_warm.py): dbt's
first invocation in a process costs ~1 s more than the next, which every child paid before.
The caller forwards SIGINT and SIGTERM to the child (dagster-dbt stops a cancelled dbt with
SIGINT), and a child whose caller died stops itself.

The server is keyed by this interpreter, the installed dbt-core and dbt-duckdb and its code:
an upgrade starts a new one. Where it cannot start, or with FLIGHTLINE_DBT_FORK=0, the
caller runs the real `dbt` in its place (exec): the same command, the import paid.

Only the standard library is imported here before the fork (and ingest/processes.py and
orchestration/dbt_warm.py, which import only the standard library): the caller starts in ~50 ms.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from ingest.processes import apply_python_warnings, exit_without_teardown
from orchestration import dbt_warm

IDLE_SECONDS = 900
START_TIMEOUT = 120
"""Seconds a caller waits for a server it started to listen (importing dbt and parsing the
project on a busy machine: ~6 s alone, ~30 s and more beside two test workers)."""
HEADER = struct.Struct("!I")


def real_dbt() -> str:
    return str(Path(sys.executable).parent / "dbt")


def enabled() -> bool:
    return os.environ.get("FLIGHTLINE_DBT_FORK", "1") != "0" and hasattr(socket, "send_fds")


def _key() -> str:
    """What the server depends on: this interpreter, dbt's packages, this file, its warm-up."""
    import importlib.metadata as metadata

    # sys.prefix, not the interpreter's real path: two venvs share their base Python.
    parts = [sys.prefix, str(Path(__file__).stat().st_mtime_ns)]
    parts.append(str(Path(dbt_warm.__file__).stat().st_mtime_ns))

    for package in ("dbt-core", "dbt-duckdb", "dbt-adapters", "dbt-common", "duckdb"):
        try:
            parts.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package}=none")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _folder() -> Path:
    """A folder only this user can enter (Unix socket paths must be short: not the repo)."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
    folder = base / f"flightline-dbt-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or folder.is_symlink():
        raise PermissionError(f"{folder} is not this user's private folder")
    return folder


# --- the caller ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """`flightline-dbt ARGS`: `dbt ARGS` through the server."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"] and len(args) == 2:
        serve(Path(args[1]))
        return
    if args == ["stop-server"]:
        sys.exit(0 if stop_server() else 1)
    if enabled():
        try:
            sock = _connect()
        except OSError:
            sock = None
        code = _call(sock, args) if sock is not None else None
        if code is not None:
            sys.exit(code)
    os.execv(real_dbt(), [real_dbt(), *args])


def _connect() -> socket.socket:
    folder = _folder()
    path = folder / f"{_key()}.sock"
    try:
        return _open(path)
    except OSError:
        pass
    with (folder / f"{path.stem}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one caller starts it; the others wait for it
        try:
            return _open(path)
        except OSError:
            path.unlink(missing_ok=True)  # a server that died
        server = subprocess.Popen(
            [sys.executable, "-m", "orchestration.dbt_fork", "serve", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
            # Its forks take each caller's warning options (apply_python_warnings), not the first's.
            env={name: value for name, value in os.environ.items() if name != "PYTHONWARNINGS"},
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                return _open(path)
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise  # it could not start (its import failed?): dbt runs as itself
                time.sleep(0.05)


def stop_server() -> bool:
    """Stop this environment's server, if one runs (`make test` does once it is done):
    whether one did."""
    try:
        sock = _open(_folder() / f"{_key()}.sock")
    except OSError:
        return False
    with sock:
        body = json.dumps({"stop": True}).encode()
        socket.send_fds(sock, [HEADER.pack(len(body))], [0, 1, 2])
        sock.sendall(body)
        sock.recv(1)  # closed once the server has stopped listening
    return True


def _open(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def _call(sock: socket.socket, args: list[str]) -> int | None:
    """dbt's exit code, once the child has exited (its files closed: dbt-duckdb closes the
    warehouse in an atexit handler); None when the server closed the call before it forked
    (it was stopping): dbt did not start, the caller runs it itself."""
    request = {"args": args, "cwd": os.getcwd(), "env": dict(os.environ)}
    request["umask"] = os.umask(0)
    os.umask(request["umask"])
    body = json.dumps(request).encode()
    child: int | None = None
    pending: list[int] = []  # signals that came before the child's pid

    def forward(signum: int, _frame) -> None:
        if child is None:
            pending.append(signum)
        else:
            os.kill(child, signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    code = None
    try:
        socket.send_fds(sock, [HEADER.pack(len(body))], [0, 1, 2])
        sock.sendall(body)
        for line in sock.makefile("r"):  # until the child's end closes it: it has exited
            kind, _, value = line.strip().partition(" ")
            if kind == "pid":
                child = int(value)
                for signum in pending:
                    os.kill(child, signum)
            elif kind == "exit":
                code = int(value)
    except OSError:  # the server went away (stopping) before or while it read the call
        pass
    if code is not None:
        return code
    # Ended without a word: killed (dbt's exit code for an error), or never forked.
    return 1 if child is not None else None


# --- the server ---------------------------------------------------------------------------


def serve(path: Path) -> None:
    """Import dbt, listen on `path`, fork a child per call; exit after IDLE_SECONDS idle."""
    import dbt.adapters.duckdb.impl  # the adapter a duckdb target loads
    import dbt.cli.main  # noqa: F401

    # Warmed only where nothing has started a thread yet; a server the warm-up left with a
    # thread (a fork would inherit none of it) starts again as itself, cold.
    if os.environ.pop(NO_WARM_UP, "") != "1" and dbt_warm.threads() == 1:
        dbt_warm.warm_up()
        if dbt_warm.threads() > 1:
            os.environ[NO_WARM_UP] = "1"
            os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    gc.freeze()  # the children's collections leave the server's objects (and pages) alone
    idle = float(os.environ.get("FLIGHTLINE_DBT_SERVER_IDLE", IDLE_SECONDS))
    server = os.getpid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    ours = path.stat().st_ino
    listener.listen(16)
    listener.settimeout(idle)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the children are reaped by the kernel
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return
            try:
                request = _receive(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            if request[1].get("stop"):
                for fd in request[0]:
                    os.close(fd)
                listener.close()  # before the caller hears: no call reaches a closed server
                conn.close()
                return
            if os.fork() == 0:
                listener.close()
                _child(conn, *request)  # never returns
            conn.close()
            for fd in request[0]:
                os.close(fd)
    finally:
        if os.getpid() == server:
            listener.close()
            try:
                if path.stat().st_ino == ours:  # not a newer server's socket
                    path.unlink()
            except FileNotFoundError:
                pass


NO_WARM_UP = "FLIGHTLINE_DBT_SERVER_COLD"
"""1: set by a server that found itself with a thread after its warm-up, for the one it
execs in its place."""


def _receive(conn: socket.socket) -> tuple[list[int], dict]:
    conn.settimeout(10)
    uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
    if uid != os.getuid():
        raise ValueError(f"a call from uid {uid}")
    header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
    try:  # a caller's descriptors held here would keep its stdout open: never keep them
        if len(fds) != 3 or len(header) != HEADER.size:
            raise ValueError("a call without its three standard streams")
        (size,) = HEADER.unpack(header)
        body = b""
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                raise ValueError("a call cut short")
            body += chunk
        conn.settimeout(None)
        return fds, json.loads(body)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def _child(conn: socket.socket, fds: list[int], request: dict) -> None:
    """dbt's command line on the caller's streams, environment and folder."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # dbt may wait on processes of its own
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.umask(request.get("umask", 0o022))
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        apply_python_warnings(os.environ.get("PYTHONWARNINGS", ""))
        # As a process started on these streams would buffer them: by line on a terminal.
        unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
        sys.stdout.reconfigure(
            line_buffering=unbuffered or sys.stdout.isatty(), write_through=unbuffered
        )
        sys.stderr.reconfigure(line_buffering=True, write_through=unbuffered)  # as Python's
        sys.argv = ["dbt", *request["args"]]
        conn.sendall(f"pid {os.getpid()}\n".encode())
        threading.Thread(target=_stop_when_the_caller_is_gone, args=(conn,), daemon=True).start()
        from dbt.cli.main import cli

        try:
            cli.main(args=request["args"], prog_name="dbt")  # standalone: exits with its code
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        except KeyboardInterrupt:
            code = 130
    finally:
        FINISHED.set()

        # The exit line goes to the caller after the atexit handlers (dbt-duckdb closes the
        # warehouse there); the caller returns once the connection closes, after all of it.
        def last_words() -> None:
            with contextlib.suppress(OSError):
                conn.sendall(f"exit {code}\n".encode())

        exit_without_teardown(code, last_words)


FINISHED = threading.Event()
"""Set in a child once dbt has returned: its caller may go."""


def _stop_when_the_caller_is_gone(conn: socket.socket) -> None:
    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    if FINISHED.is_set():
        return
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
    os._exit(130)


if __name__ == "__main__":
    main()
