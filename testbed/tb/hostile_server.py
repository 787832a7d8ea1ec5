"""Runs testbed/hostile.py: the hostile SMTP and HTTPS servers, and the canary."""

import json
import os
import signal
import sys

from . import procs

_PROGRAM = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))),
                        "hostile.py")


class Hostile:
    def __init__(self, directory):
        self.dir = os.path.join(directory, "hostile")
        self.config = os.path.join(self.dir, "config.json")
        self.pid_file = os.path.join(self.dir, "hostile.pid")
        self.log = os.path.join(self.dir, "hostile.log")
        self.events = os.path.join(self.dir, "events.jsonl")

    def write(self, config):
        os.makedirs(self.dir, exist_ok=True)
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            json.dump(config, f, indent=1)
        os.replace(tmp, self.config)

    def start(self):
        if os.path.exists(self.pid_file):
            os.remove(self.pid_file)
        pid = procs.spawn([sys.executable if sys.executable else "/usr/bin/python3", _PROGRAM,
                           "--config", self.config, "--pid-file", self.pid_file,
                           "--log", self.events], self.log)
        procs.wait_for(lambda: procs.read_pid(self.pid_file) == pid, "hostile servers", 30,
                       self.log, pid)
        return pid

    def _reload_events(self):
        try:
            with open(self.events) as f:
                return [json.loads(line) for line in f
                        if '"reload' in line and line.strip()]
        except OSError:
            return []

    def reload(self, strict=True):
        """Makes hostile.py re-read its configuration. With strict=False an address it cannot
        bind yet (still held by the MTA) is tolerated: a later reload binds it."""
        pid = procs.read_pid(self.pid_file)
        if pid is None or not procs.alive(pid):
            self.start()
            return
        before = len(self._reload_events())
        os.kill(pid, signal.SIGHUP)
        procs.wait_for(lambda: len(self._reload_events()) > before, "hostile servers reload",
                       10, self.log, pid)
        last = self._reload_events()[-1]
        if last.get("event") == "reload_failed":
            raise procs.StartError(f"hostile servers refused the new configuration: "
                                   f"{last.get('error')}")
        if strict and last.get("bind_failed"):
            raise procs.StartError(f"hostile servers cannot bind {last['bind_failed']}:\n"
                                   + procs.tail(self.log))

    def stop(self):
        procs.stop_pid(procs.read_pid(self.pid_file), timeout=5)
