"""A Triton-style tensor model: initialize(args), execute(inputs) -> outputs, finalize()."""
import json

import numpy as np


class Scale:
    def initialize(self, args):
        cfg = json.loads(args["model_config"])
        self.factor = np.float32(cfg.get("config", {}).get("factor", 2.0))
        self.finalize_file = cfg.get("config", {}).get("finalize_file")

    def execute(self, inputs):
        x = inputs["x"]
        return {"y": x * self.factor, "total": x.astype(np.float64).sum(axis=1)}

    def finalize(self):
        if self.finalize_file:
            with open(self.finalize_file, "w") as f:
                f.write("finalized")
