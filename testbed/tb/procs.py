"""Starting, waiting for and stopping the testbed's server processes."""

import os
import signal
import socket
import subprocess
import time


class StartError(Exception):
    """A server did not come up; the message includes the tail of its log."""


def alive(pid):
    """True while `pid` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def spawn(argv, log_path, cwd=None):
    """Starts a detached process (own session) with output to `log_path`; returns its pid."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, cwd=cwd, close_fds=True)
    return proc.pid


def tail(path, lines=20):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


def wait_for(check, what, timeout, log_path=None, pid=None):
    """Polls `check()` until true; raises StartError after `timeout` s or if `pid` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid is not None and not alive(pid):
            raise StartError(f"{what} exited during start-up:\n{tail(log_path) if log_path else ''}")
        time.sleep(0.02)
    raise StartError(f"{what} did not come up within {timeout:.0f} s:\n"
                     f"{tail(log_path) if log_path else ''}")


def port_open(address, port):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop_pid(pid, sig=signal.SIGTERM, timeout=10.0):
    """Signals `pid` and waits for it to go; SIGKILL after `timeout`."""
    if pid is None or not alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run(argv, what, timeout=60):
    """Runs a control command; raises StartError with its output when it fails."""
    try:
        result = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise StartError(f"{what}: no answer within {timeout} s") from e
    if result.returncode != 0:
        raise StartError(f"{what} failed ({' '.join(argv)}):\n"
                         f"{(result.stdout + result.stderr).decode(errors='replace')}")
    return result.stdout.decode(errors="replace")


def processes_under(directory):
    """Pids of processes whose command line mentions `directory` (leftover check)."""
    pids = []
    needle = directory.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read() and alive(int(entry)):
                    pids.append(int(entry))
        except OSError:
            continue
    return pids
