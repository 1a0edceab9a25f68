"""Your model, in the shape of the Python model API template: modelwrap imports this file (its
folder first on sys.path, so `helpers` resolves), creates Model(), calls init() once and then
run() for every request. Replace the keyword rules with your own model, keep the types honest:
modelwrap validates every request against Record before run() sees it, and documents it in
/openapi.json and /docs."""
from typing import List

from pydantic import BaseModel

from helpers.blueprint import ModelBlueprint


# The fields of one record: str, int, float, bool or Optional[...] of them.
class Record(BaseModel):
    description: str
    ci: str


# The request body: {"data": [Record, ...]}.
class Records(BaseModel):
    data: List[Record]


# A stand-in for a trained model: the first category whose keyword appears in the description.
KEYWORDS = {
    "access": ["password", "login", "locked", "account"],
    "hardware": ["laptop", "printer", "screen", "keyboard"],
    "network": ["vpn", "wifi", "internet", "network"],
}


class Model(ModelBlueprint):
    model = None

    def init(self):
        # Load your artifact here, e.g. self.model = joblib.load(path_next_to_this_file).
        # A model left empty (None) stops the server at start-up with a clear message.
        self.model = KEYWORDS

    def run(self, records: Records):
        # `records` is the request body as a dict, as in the template. Return one entry per
        # record (a list) so that modelwrap can merge concurrent requests into one call.
        out = []
        for record in records["data"]:
            words = record["description"].lower().split()
            category = "other"
            for name, keys in self.model.items():
                if any(k in words for k in keys):
                    category = name
                    break
            out.append({"ci": record["ci"], "category": category})
        return out
