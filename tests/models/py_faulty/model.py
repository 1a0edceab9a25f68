"""A template-style model that misbehaves on request: "op" picks what run() does."""
import ctypes
import os
import time
from typing import List

from pydantic import BaseModel


class Record(BaseModel):
    op: str
    x: float


class Records(BaseModel):
    data: List[Record]


class Model:
    model = "rules"

    def init(self):
        self.leak = []
        if os.path.exists("broken"):  # the current folder is the model's
            raise RuntimeError("this model is broken for now")

    def run(self, records: Records):
        ops = [r["op"] for r in records["data"]]
        if "raise" in ops:
            raise ValueError("secret-exception-text 42")
        if "exit" in ops:
            os._exit(7)
        if "segv" in ops:
            ctypes.string_at(0)
        if "sleep" in ops:
            time.sleep(30)
        if "env" in ops:
            fds = {}
            for fd in os.listdir("/proc/self/fd"):
                try:
                    fds[fd] = os.readlink("/proc/self/fd/" + fd)
                except OSError:
                    pass
            return {"env": dict(os.environ), "fds": fds, "pid": os.getpid()}
        if "forge" in ops:
            # Hostile model code answers for the runner: a RESULT frame (with the request's own
            # sequence number, read from the runner's frame) whose descriptor lies outside the
            # shared memory.
            import sys
            import __main__ as runner
            f = sys._getframe()
            while f is not None and "seq" not in f.f_locals:
                f = f.f_back
            runner.send_frame(runner.state["sock"], runner.T_RESULT, f.f_locals["seq"],
                              off=1 << 31, length=1 << 20)
            time.sleep(1)
        if "grow" in ops:
            self.leak.append(b"\x01" * (128 << 20))
        if "print" in ops:
            import logging
            print("hello from the model")
            logging.getLogger("model").warning("a logging line")
        return {"predictions": [r["x"] * 2 for r in records["data"]], "pid": os.getpid()}
