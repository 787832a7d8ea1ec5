"""Runs testbed/hostile.py: the hostile SMTP and HTTPS servers, and the canary."""

import json
import os
import signal
import sys
import time

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

    def reload(self):
        pid = procs.read_pid(self.pid_file)
        if pid is None or not procs.alive(pid):
            self.start()
            return
        mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        os.kill(pid, signal.SIGHUP)
        # hostile.py reads the new configuration within a moment; give it time to bind.
        time.sleep(0.3)
        if not procs.alive(pid):
            raise procs.StartError("hostile servers died on reload:\n" + procs.tail(self.log))
        del mark

    def stop(self):
        procs.stop_pid(procs.read_pid(self.pid_file), timeout=5)
