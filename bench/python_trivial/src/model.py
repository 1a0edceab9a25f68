"""The trivial work of the plug-in tests/bench use (plugins/testkit: y = 2 * x per record, columns
a and b) as a template-style Python model, so that bench/python.sh can measure what the Python
path adds to a request on its own."""
from typing import List

from pydantic import BaseModel

from helpers.blueprint import ModelBlueprint


class Record(BaseModel):
    a: float
    b: float


class Records(BaseModel):
    data: List[Record]


class Model(ModelBlueprint):
    model = None

    def init(self):
        self.model = 2.0

    def run(self, records: Records):
        k = self.model
        return [{"y": [k * r["a"], k * r["b"]]} for r in records["data"]]
