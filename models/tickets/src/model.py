"""A support-ticket classifier laid out like the Python model API template's src/model.py:
description (and configuration item) in, category out. The artifact is a scikit-learn pipeline
(TfidfVectorizer + LogisticRegression) that scripts/train-tickets-model.py trains and saves."""
import os
from typing import List

import joblib
from pydantic import BaseModel

from helpers.blueprint import ModelBlueprint
from helpers.messages import MISSING_ARTIFACT

ARTIFACT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tickets.joblib")


# Types example
class Record(BaseModel):
    description: str
    ci: str


class Records(BaseModel):
    data: List[Record]


class Model(ModelBlueprint):
    model = None

    def init(self):
        if not os.path.exists(ARTIFACT):
            raise FileNotFoundError(MISSING_ARTIFACT.format(ARTIFACT))
        self.model = joblib.load(ARTIFACT)

    def run(self, records: Records):
        # As in the template, `records` is the request body as a dict: {"data": [{...}, ...]}.
        rows = records["data"]
        texts = [r["description"] + " " + r["ci"] for r in rows]
        probabilities = self.model.predict_proba(texts)
        labels = self.model.classes_
        out = []
        for row, p in zip(rows, probabilities):
            best = int(p.argmax())
            out.append({"ci": row["ci"], "category": str(labels[best]),
                        "confidence": round(float(p[best]), 4)})
        return out
