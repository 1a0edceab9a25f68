"""The Python model API template's app, rebuilt minimally for bench/python.sh (no code of the
template copied): FastAPI with the template's CORS settings and routes under /api, the model
loaded at import exactly as the template's main.py does (Model(), init(), refuse to start when
`model` is falsy), and POST /api/predict/ passing the request body as a dict to run(). Run with
the model's src/ folder first on PYTHONPATH, under uvicorn with 2 workers:
  PYTHONPATH=models/tickets/src /usr/bin/python3 -m uvicorn main:app --app-dir bench/template_app \
      --workers 2 --port 8080"""
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from model import Model

APP_VERSION = "0.1"

app = FastAPI(title="template (bench)", version=APP_VERSION)
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True,
                   allow_methods=["*"], allow_headers=["*"])

api = APIRouter()
health = APIRouter()
predict = APIRouter()


@health.get("/")
def is_alive():
    return {"is_alive": True}


@predict.post("/")
def post_predict(request: Request, records: dict = Body(...)):
    # A plain `def`, as in the template: FastAPI runs it on its thread pool.
    return request.app.state.model.run(records)


@api.get("/")
def read_root():
    return {"version": APP_VERSION}


api.include_router(health, prefix="/health")
api.include_router(predict, prefix="/predict")
app.include_router(api, prefix="/api")

active_model = Model()
active_model.init()
if not active_model.model:
    raise Exception("Could not initiate model")
app.state.model = active_model
