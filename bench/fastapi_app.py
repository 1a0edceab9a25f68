"""The Python baseline of the benchmark: a FastAPI app that serves the SAME XGBoost model file as
modelwrap (models/iris/iris.ubj) with the same request and response JSON as POST /api/v1/predict.
Run by bench/run.sh under uvicorn with one worker and /usr/bin/python3 (Debian's packages)."""

import json
import os
import uuid
from typing import List

import numpy as np
import xgboost
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, conlist

# The model folder: BENCH_MODEL_DIR, else models/iris next to this file's parent (the repository).
MODEL_DIR = os.environ.get(
    "BENCH_MODEL_DIR",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "iris"),
)
MAX_RECORDS = 10000  # modelwrap's default MODELWRAP_MAX_RECORDS


def _load_model(model_dir):
    """Reads model.json (name, version, feature names, class labels) and loads the booster with
    the same settings as modelwrap's backend: one thread per prediction, in-place prediction."""
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        meta = json.load(f)
    sig = meta["signature"]
    features = sig["inputs"][0]["names"]
    labels = next(o["labels"] for o in sig["outputs"] if o["name"] == "probabilities")
    booster = xgboost.Booster(model_file=os.path.join(model_dir, meta["file"]))
    booster.set_param({"nthread": 1})
    return meta["name"], str(meta["version"]), features, labels, booster


MODEL_NAME, MODEL_VERSION, FEATURES, LABELS, BOOSTER = _load_model(MODEL_DIR)
if FEATURES != ["sepal_length", "sepal_width", "petal_length", "petal_width"]:
    raise SystemExit(f"fastapi_app: unexpected features {FEATURES} in {MODEL_DIR}/model.json")


class Record(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


class PredictRequest(BaseModel):
    data: conlist(Record, min_items=1, max_items=MAX_RECORDS)


app = FastAPI(title="iris (FastAPI baseline)", docs_url=None, redoc_url=None)


@app.exception_handler(RequestValidationError)
async def invalid_input(request: Request, exc: RequestValidationError):
    # modelwrap's error shape: {"error", "code", "request_id"} with status 400.
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid input"}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return JSONResponse(
        status_code=400,
        content={
            "error": f"{where}: {first.get('msg', 'invalid input')}" if where else first.get("msg"),
            "code": "invalid_input",
            "request_id": request.headers.get("x-request-id") or uuid.uuid4().hex,
        },
    )


@app.get("/api/v1/health/ready")
async def ready():
    return {"ready": True}


@app.post("/api/v1/predict")
async def predict(req: PredictRequest):
    # async def: the tiny prediction runs on the event loop, no thread-pool hop (FastAPI's
    # fastest path for a model this small).
    x = np.array(
        [[r.sepal_length, r.sepal_width, r.petal_length, r.petal_width] for r in req.data],
        dtype=np.float32,
    )
    probs = BOOSTER.inplace_predict(x)
    predictions: List[dict] = []
    for row in probs.tolist():
        best = max(range(len(row)), key=row.__getitem__)
        predictions.append(
            {"label": LABELS[best], "probabilities": dict(zip(LABELS, row))}
        )
    return {"model": MODEL_NAME, "model_version": MODEL_VERSION, "predictions": predictions}
