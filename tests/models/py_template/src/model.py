"""A template-style Model class (the test double of a data scientist's src/model.py): keyword
rules stand in for a trained classifier. It imports its helpers the way the template does."""
from typing import List, Optional

from pydantic import BaseModel

from helpers.blueprint import ModelBlueprint
from helpers.messages import MODEL_NOT_LOADED  # noqa: F401  (the template's sibling import)


class Record(BaseModel):
    description: str
    ci: str
    priority: Optional[int]


class Records(BaseModel):
    data: List[Record]


RULES = {"network": "network", "vpn": "network", "password": "access", "login": "access",
         "printer": "hardware", "laptop": "hardware"}


class Model(ModelBlueprint):
    model = None

    def init(self):
        print("loading the ticket rules")
        self.model = dict(RULES)

    def run(self, records: Records):
        out = []
        for r in records["data"]:
            words = r["description"].lower().split()
            cat = next((self.model[w] for w in words if w in self.model), "other")
            out.append({"category": cat, "ci": r["ci"], "urgent": (r.get("priority") or 0) >= 3})
        return out
