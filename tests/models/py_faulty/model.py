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
        if "grow" in ops:
            self.leak.append(b"\x01" * (128 << 20))
        if "print" in ops:
            import logging
            print("hello from the model")
            logging.getLogger("model").warning("a logging line")
        return {"predictions": [r["x"] * 2 for r in records["data"]], "pid": os.getpid()}
