# modelwrap's Python worker: the server execs `python3 -I -B -c <boot>` with one SOCK_SEQPACKET
# socket on fd 3 and this file's text on fd 4 (boot reads and runs it). It imports the model
# once, then forks one process per instance on request; each
# instance answers RUN frames whose data sit in a shared-memory (memfd) area. The protocol is
# docs/python-workers.md; the server treats everything this program sends as untrusted.
import gc
import json
import mmap
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback

MAGIC = 0x5950574D  # "MWPY"
VERSION = 1
HDR = struct.Struct("<IHHQII")  # magic, version, type, seq, off, len
(T_INIT, T_READY, T_FORK, T_SPAWNED, T_KILL, T_EXITED, T_RUN, T_RESULT, T_LOG, T_HELLO,
 T_RUN_BODY, T_RESULT_JSON, T_RESULT_JSON_RECYCLE,
 T_RUN_BODIES, T_RESULT_JSONS, T_RESULT_JSONS_RECYCLE) = range(1, 17)
MAX_FRAME = 65536
LOG_MAX = 4096
ALIGN = 64

DTYPES = {"BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
          "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "FP16": "<f2",
          "FP32": "<f4", "FP64": "<f8"}

state = {"instance": -1, "sock": None, "model": None}


def send_frame(sock, ftype, seq=0, payload=b"", off=0, length=None, fds=None):
    if length is None:
        length = len(payload)
    data = HDR.pack(MAGIC, VERSION, ftype, seq, off, length) + payload
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))])
    else:
        sock.send(data)


def recv_frame(sock, want_fds=0):
    cmsg_len = socket.CMSG_SPACE(4 * want_fds) if want_fds else 0
    data, anc, _flags, _addr = sock.recvmsg(MAX_FRAME, cmsg_len)
    if not data:
        return None
    fds = []
    for level, ctype, cdata in anc:
        if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
            n = len(cdata) // 4
            fds.extend(struct.unpack("%di" % n, cdata[:4 * n]))
    if len(data) < HDR.size:
        raise RuntimeError("short frame")
    magic, version, ftype, seq, off, length = HDR.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise RuntimeError("bad frame")
    return ftype, seq, off, length, data[HDR.size:], fds


class LogStream:
    """sys.stdout / sys.stderr of model code: each line becomes a LOG frame (never blocking: a
    full socket drops the line rather than stall the model)."""

    def __init__(self, name):
        self.name = name
        self.pending = ""
        self.lock = threading.Lock()

    def write(self, s):
        if not isinstance(s, str):
            s = str(s)
        with self.lock:
            self.pending += s
            while "\n" in self.pending:
                line, self.pending = self.pending.split("\n", 1)
                emit_log(self.name, "info" if self.name == "stdout" else "warn", line)
            if len(self.pending) > LOG_MAX:
                emit_log(self.name, "info", self.pending)
                self.pending = ""
        return len(s)

    def flush(self):
        with self.lock:
            if self.pending:
                emit_log(self.name, "info", self.pending)
                self.pending = ""

    def isatty(self):
        return False

    def fileno(self):
        raise OSError("no file descriptor")

    @property
    def encoding(self):
        return "utf-8"


def emit_log(stream, level, text):
    sock = state["sock"]
    if sock is None or text == "":
        return
    payload = json.dumps({"stream": stream, "level": level, "text": text[:LOG_MAX]}).encode()
    try:
        data = HDR.pack(MAGIC, VERSION, T_LOG, 0, 0, len(payload)) + payload
        sock.send(data, socket.MSG_DONTWAIT)
    except OSError:
        pass


def setup_logging():
    import logging

    class Handler(logging.Handler):
        def emit(self, record):
            try:
                text = self.format(record)
            except Exception:
                text = str(record.msg)
            lvl = "error" if record.levelno >= logging.ERROR else (
                "warn" if record.levelno >= logging.WARNING else (
                    "info" if record.levelno >= logging.INFO else "debug"))
            emit_log("logging", lvl, text)

    root = logging.getLogger()
    root.handlers[:] = [Handler()]
    root.setLevel(logging.INFO)
    sys.stdout = LogStream("stdout")
    sys.stderr = LogStream("stderr")


# ---- loading ------------------------------------------------------------------------------------

def load_module(path):
    import importlib.util
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    # The template is started from its src/ folder: relative paths in model code mean that.
    os.chdir(folder)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot import %s" % path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def is_falsy(v):
    if v is None:
        return True
    try:
        return not bool(v)
    except Exception:
        return False


def pydantic_signature(cls):
    """The records signature derived from the annotation of run()'s parameter: a pydantic model
    with one list field named "data" whose items are a pydantic model of float/int/str/bool/
    Optional fields. Returns (inputs, warning)."""
    import inspect
    import typing
    try:
        params = [p for p in inspect.signature(cls.run).parameters.values()][1:]
    except (TypeError, ValueError):
        return None, "run() has no inspectable signature"
    if len(params) != 1:
        return None, "run() does not take exactly one parameter"
    try:
        hints = typing.get_type_hints(cls.run)
    except Exception:
        hints = {}
    ann = hints.get(params[0].name, params[0].annotation)
    if ann is inspect.Parameter.empty or not isinstance(ann, type):
        return None, "run()'s parameter has no pydantic annotation"
    try:
        outer = typing.get_type_hints(ann)
    except Exception:
        return None, "run()'s parameter annotation cannot be read"
    outer = {k: v for k, v in outer.items() if not k.startswith("_")}
    if list(outer) != ["data"]:
        return None, "run()'s parameter type does not have exactly one field named 'data'"
    lst = outer["data"]
    if typing.get_origin(lst) not in (list, typing.List) or len(typing.get_args(lst)) != 1:
        return None, "'data' is not a List[...]"
    item = typing.get_args(lst)[0]
    if not isinstance(item, type):
        return None, "'data' items are not a pydantic model"
    try:
        fields = typing.get_type_hints(item)
    except Exception:
        return None, "the record type's annotations cannot be read"
    names = {float: "FP64", int: "INT64", str: "BYTES", bool: "BOOL"}
    inputs = []
    for fname, ftype in fields.items():
        if fname.startswith("_"):
            continue
        optional = False
        if typing.get_origin(ftype) is typing.Union:
            args = [a for a in typing.get_args(ftype) if a is not type(None)]
            if len(args) != 1 or len(typing.get_args(ftype)) != 2:
                return None, "field '%s' has an unsupported Union type" % fname
            ftype, optional = args[0], True
        if ftype not in names:
            return None, "field '%s' has an unsupported type %r" % (fname, ftype)
        spec = {"name": fname, "datatype": names[ftype], "shape": [-1]}
        if optional:
            spec["optional"] = True
        inputs.append(spec)
    if not inputs:
        return None, "the record type has no fields"
    return inputs, None


TEMPLATE_OUTPUTS = [{"name": "predictions", "datatype": "BYTES", "shape": [-1]}]


class Loaded:
    pass


def load_model(cfg):
    """Imports and initialises the model named by cfg. Returns a Loaded with .interface, .obj,
    .signature and .warnings."""
    mj = cfg.get("model_json") or {}
    # Absolute before any chdir below: the server may name the folder relative to its own cwd.
    d = os.path.abspath(cfg["dir"])
    for p in cfg.get("path") or []:
        p = os.path.join(d, p)
        if p not in sys.path:
            sys.path.insert(0, p)
    L = Loaded()
    L.warnings = []
    L.cfg = cfg
    sig = mj.get("signature")
    if cfg["backend"] == "sklearn":
        os.chdir(d)
        path = os.path.join(d, mj.get("file", "model.joblib"))
        try:
            import joblib
            est = joblib.load(path)
        except ImportError:
            import pickle
            with open(path, "rb") as f:
                est = pickle.load(f)
        if not hasattr(est, "predict"):
            raise RuntimeError("%s: the object has no predict()" % path)
        L.interface = "sklearn"
        L.obj = est
        # The server passes arrays in the order of the feature names, so an estimator fitted on
        # a DataFrame would warn on every call that the array has no names: not news.
        import warnings
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        # model.json's inputs and outputs win; what it leaves out comes from the estimator.
        sig = dict(sig or {})
        if not (sig.get("inputs") and sig.get("outputs")):
            derived = sklearn_signature(est, path, sig.get("inputs"))
            sig.setdefault("inputs", derived["inputs"])
            sig.setdefault("outputs", derived["outputs"])
        L.signature = sig
        return L
    path = os.path.join(d, mj.get("file", "model.py"))
    mod = load_module(path)
    cname = mj.get("class", "Model")
    cls = getattr(mod, cname, None)
    if cls is None or not isinstance(cls, type):
        raise RuntimeError("%s: no class %s" % (path, cname))
    iface = mj.get("interface")
    if iface is None:
        if callable(getattr(cls, "execute", None)) and callable(getattr(cls, "initialize", None)):
            iface = "tensor"
        elif callable(getattr(cls, "run", None)):
            iface = "template"
        else:
            raise RuntimeError("%s: class %s has neither run() nor initialize()/execute()" % (path, cname))
    L.interface = iface
    obj = cls()
    if iface == "tensor":
        if not sig:
            raise RuntimeError("%s: a tensor model needs \"signature\" in model.json" % path)
        obj.initialize({"model_config": json.dumps(mj), "model_name": cfg.get("name", ""),
                        "model_version": cfg.get("version", ""), "model_repository": d,
                        "model_instance_name": "%s_%d" % (cfg.get("name", ""), max(state["instance"], 0))})
        L.signature = sig
    elif iface == "template":
        init = getattr(obj, "init", None)
        if callable(init):
            init()
        if hasattr(obj, "model") and is_falsy(getattr(obj, "model")):
            raise RuntimeError("Could not initiate model: %s.init() left %s.model empty" % (cname, cname))
        if sig:
            s = dict(sig)
            s.setdefault("outputs", TEMPLATE_OUTPUTS)
            L.signature = s
        else:
            inputs, warn = pydantic_signature(cls)
            if warn:
                L.warnings.append("no signature: %s; any JSON object is accepted" % warn)
                L.signature = {"outputs": TEMPLATE_OUTPUTS}
            else:
                L.signature = {"inputs": inputs, "outputs": TEMPLATE_OUTPUTS}
    else:
        raise RuntimeError("\"interface\": expected \"template\" or \"tensor\", not %r" % iface)
    L.obj = obj
    return L


def np_dtype_name(dt):
    import numpy as np
    dt = np.dtype(dt)
    if dt.kind == "b":
        return "BOOL"
    if dt.kind in "iu":
        return "INT64"
    if dt.kind == "f":
        return "FP64"
    return "BYTES"


def sklearn_signature(est, path, given_inputs=None):
    names = getattr(est, "feature_names_in_", None)
    nf = getattr(est, "n_features_in_", None)
    if given_inputs:
        names = ["given"]  # only the outputs are needed
    if names is None:
        if nf is None:
            raise RuntimeError("%s: no feature_names_in_ or n_features_in_: give a \"signature\"" % path)
        names = ["x%d" % i for i in range(int(nf))]
    names = [str(n) for n in names]
    inputs = [{"name": "input", "datatype": "FP64", "shape": [-1, len(names)], "names": names}]
    classes = getattr(est, "classes_", None)
    if classes is not None:
        outputs = [{"name": "label", "datatype": np_dtype_name(classes.dtype), "shape": [-1]}]
        if callable(getattr(est, "predict_proba", None)):
            outputs.append({"name": "probabilities", "datatype": "FP64",
                            "shape": [-1, len(classes)], "labels": [str(c) for c in classes]})
    else:
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
    return {"inputs": inputs, "outputs": outputs}


# ---- running ------------------------------------------------------------------------------------

class Shm:
    def __init__(self, fd, size):
        self.mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.close(fd)
        self.mv = memoryview(self.mm)
        self.size = size
        self.half = size // 2


def read_tensor(shm, spec, t):
    import numpy as np
    dt = t["dtype"]
    shape = tuple(int(x) for x in t["shape"])
    off, ln = int(t["off"]), int(t["len"])
    if off < 0 or ln < 0 or off + ln > shm.half:
        raise RuntimeError("tensor outside the request area")
    count = 1
    for s in shape:
        count *= s
    if dt == "BYTES":
        buf = shm.mv[off:off + ln]
        out, pos = [], 0
        for _ in range(count):
            (n,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            out.append(bytes(buf[pos:pos + n]))
            pos += n
        arr = np.empty(count, dtype=object)
        arr[:] = out
        return arr.reshape(shape)
    return np.frombuffer(shm.mm, dtype=DTYPES[dt], count=count, offset=off).reshape(shape)


class Writer:
    """Appends aligned blocks to the reply area (the second half of the shared memory)."""

    def __init__(self, shm):
        self.shm = shm
        self.pos = 0

    def put(self, data):
        data = memoryview(data).cast("B")
        ln = len(data)
        start = (self.pos + ALIGN - 1) // ALIGN * ALIGN
        if start + ln > self.shm.half:
            raise MemoryError("the answer does not fit the shared memory area")
        base = self.shm.half + start
        self.shm.mv[base:base + ln] = data
        self.pos = start + ln
        return start, ln


def to_jsonable(v):
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
    if hasattr(v, "dict") and callable(v.dict) and hasattr(v, "__fields__"):
        return v.dict()
    raise TypeError("not JSON serialisable: %s" % type(v).__name__)


# One encoder for every answer: json.dumps with options builds a new JSONEncoder per call.
ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False,
                           default=to_jsonable)


def dumps(v):
    return ENCODER.encode(v).encode()


def bytes_tensor(values):
    parts = []
    for v in values:
        if isinstance(v, str):
            b = v.encode()
        elif isinstance(v, (bytes, bytearray)):
            b = bytes(v)
        else:
            b = str(v).encode()
        parts.append(struct.pack("<I", len(b)))
        parts.append(b)
    return b"".join(parts)


def write_tensor(w, name, arr, spec):
    import numpy as np
    dt = spec["datatype"]
    if dt == "BYTES":
        arr = np.asarray(arr, dtype=object)
        data = bytes_tensor(arr.reshape(-1).tolist())
    else:
        arr = np.ascontiguousarray(np.asarray(arr).astype(DTYPES[dt], copy=False))
        data = arr.tobytes()
    off, ln = w.put(data)
    return {"dtype": dt, "shape": [int(s) for s in np.shape(arr)], "off": off, "len": ln}


def item_records(L, shm, item):
    """The request body of one item: the JSON body itself, or records built from tensors."""
    if "body" in item:
        off, ln = item["body"]
        if off < 0 or ln < 0 or off + ln > shm.half:
            raise RuntimeError("body outside the request area")
        return json.loads(bytes(shm.mv[off:off + ln]))
    ins = L.signature.get("inputs") or []
    arrs = [read_tensor(shm, s, t) for s, t in zip(ins, item["tensors"])]

    def val(x):
        if isinstance(x, bytes):
            return x.decode("utf-8", "replace")
        return x.item() if hasattr(x, "item") else x
    if len(ins) == 1 and len(arrs[0].shape) == 2 and ins[0].get("names"):
        names = ins[0]["names"]
        rows = [{names[j]: val(r[j]) for j in range(len(names))} for r in arrs[0]]
    else:
        n = arrs[0].shape[0] if arrs else 0
        rows = [{s["name"]: val(a[i]) for s, a in zip(ins, arrs)} for i in range(n)]
    return {"data": rows}


def split_answer(ans, counts):
    """Per-item answers of a merged run, or None when the answer cannot be split by position."""
    total = sum(counts)
    if isinstance(ans, list) and len(ans) == total:
        out, pos = [], 0
        for n in counts:
            out.append(ans[pos:pos + n])
            pos += n
        return out
    if isinstance(ans, dict) and isinstance(ans.get("predictions"), list) and len(ans["predictions"]) == total:
        out, pos = [], 0
        for n in counts:
            d = dict(ans)
            d["predictions"] = ans["predictions"][pos:pos + n]
            out.append(d)
            pos += n
        return out
    return None


def v2_of_answer(ans, n):
    if isinstance(ans, list) and len(ans) == n:
        vals = ans
    else:
        vals = [ans]
    return [v if isinstance(v, str) else dumps(v).decode() for v in vals]


def run_records(L, bodies, batch):
    """Runs the request bodies of one frame: merged into one run() when batch allows it and the
    answer splits by position, else one run() per body so that only a faulty request fails.
    Returns (answers, errors, merged, unbatchable)."""
    n = len(bodies)
    answers = [None] * n
    errors = [None] * n
    unbatchable = False
    mergeable = n > 1 and batch and all(isinstance(b, dict) and isinstance(b.get("data"), list)
                                        for b in bodies)
    if mergeable:
        counts = [len(b["data"]) for b in bodies]
        merged = {"data": [r for b in bodies for r in b["data"]]}
        try:
            ans = L.obj.run(merged)
        except Exception:
            ans = None  # one of the requests is faulty: they run one by one below
        else:
            split = split_answer(ans, counts)
            if split is not None:
                return split, errors, True, False
            unbatchable = True
    for i, b in enumerate(bodies):
        try:
            answers[i] = L.obj.run(b)
        except Exception:
            errors[i] = traceback.format_exc()
    return answers, errors, False, unbatchable


def reply_items(w, items, bodies, answers, errors):
    """The descriptor items of template answers: JSON written to the reply area, BYTES tensors
    for requests that came as tensors, or the traceback of the exception."""
    out = []
    for i in range(len(bodies)):
        if errors[i] is not None:
            out.append({"error": errors[i]})
            continue
        try:
            if items is None or "body" in items[i]:
                off, ln = w.put(dumps(answers[i]))
                out.append({"json": [off, ln]})
            else:
                n = len(bodies[i]["data"])
                vals = v2_of_answer(answers[i], n)
                data = bytes_tensor(vals)
                off, ln = w.put(data)
                out.append({"tensors": [{"dtype": "BYTES", "shape": [len(vals)], "off": off, "len": ln}]})
        except Exception:
            out.append({"error": traceback.format_exc()})
    return out


def run_template(L, shm, req, w):
    items = req["items"]
    bodies = [item_records(L, shm, it) for it in items]
    answers, errors, _merged, unbatchable = run_records(L, bodies, req.get("batch"))
    return reply_items(w, items, bodies, answers, errors), unbatchable


def run_bodies(L, shm, off, ln, w):
    """A RUN_BODIES frame: the JSON array of the request bodies of a merged batch. Returns the
    reply area's [off, len) of the answers table (count, lengths, answers back to back) when the
    merged run() split by position, else (None, descriptor items, unbatchable)."""
    bodies = json.loads(bytes(shm.mv[off:off + ln]))
    if not isinstance(bodies, list) or not bodies:
        raise RuntimeError("RUN_BODIES without a list of bodies")
    answers, errors, merged, unbatchable = run_records(L, bodies, True)
    if merged:
        try:
            parts = [dumps(a) for a in answers]
        except Exception:
            parts = None  # one answer is not JSON: the descriptor says which
        if parts is not None:
            table = struct.pack("<%dI" % (len(parts) + 1), len(parts), *[len(p) for p in parts])
            return w.put(table + b"".join(parts)), None, False
    return None, reply_items(w, None, bodies, answers, errors), unbatchable


def run_tensor(L, shm, req, w):
    import numpy as np
    ins = L.signature.get("inputs") or []
    outs = L.signature.get("outputs") or []
    result = []
    for it in req["items"]:
        try:
            arrs = [read_tensor(shm, s, t) for s, t in zip(ins, it["tensors"])]
            if L.interface == "sklearn":
                x = arrs[0]
                res = {}
                pred = L.obj.predict(x)
                res[outs[0]["name"]] = pred
                if len(outs) > 1 and callable(getattr(L.obj, "predict_proba", None)):
                    res[outs[1]["name"]] = L.obj.predict_proba(x)
            else:
                res = L.obj.execute({s["name"]: a for s, a in zip(ins, arrs)})
                if not isinstance(res, dict):
                    raise TypeError("execute() must return a dict of arrays by output name")
            tens = []
            for s in outs:
                if s["name"] not in res:
                    raise KeyError("execute() returned no output '%s'" % s["name"])
                tens.append(write_tensor(w, s["name"], res[s["name"]], s))
            result.append({"tensors": tens})
        except Exception:
            result.append({"error": traceback.format_exc()})
    return result, False


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except Exception:
        return 0


# After a fast answer the instance polls its socket for the next request for up to SPIN_S before
# it sleeps: on an idle machine waking a sleeping process costs more than a trivial model's run,
# and a client that sends its next request right after the answer pays it on every request. A
# model whose calls take longer than that sleeps at once, and so does a machine with one CPU.
SPIN_S = 150e-6


def recv_next(sock, buf, spin):
    """The next frame into buf: polled without blocking for up to spin seconds, then waited for."""
    if spin > 0:
        end = time.monotonic() + spin
        while True:
            try:
                return sock.recv_into(buf, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if time.monotonic() >= end:
                    break
    return sock.recv_into(buf)


def serve_instance(L, sock, shm, cfg):
    max_requests = int(cfg.get("max_requests") or 0)
    max_rss = int(cfg.get("max_rss") or 0)
    served = 0
    # RUN frames are headers only: one buffer for all of them instead of a new one per recvmsg.
    fbuf = bytearray(MAX_FRAME)
    spin = SPIN_S if cfg.get("spin") else 0.0  # the server checked "busy_poll" and the CPUs
    last = spin + 1.0
    while True:
        got = recv_next(sock, fbuf, spin if last < spin else 0.0)
        if got == 0:
            break
        if got < HDR.size:
            raise RuntimeError("short frame")
        magic, version, ftype, seq, off, ln = HDR.unpack_from(fbuf)
        if magic != MAGIC or version != VERSION:
            raise RuntimeError("bad frame")
        if ftype not in (T_RUN, T_RUN_BODY, T_RUN_BODIES):
            continue
        t_run = time.monotonic()
        w = Writer(shm)
        answer = None
        answers = None
        try:
            if off < 0 or ln < 0 or off + ln > shm.half:
                raise RuntimeError("request outside the request area")
            if ftype == T_RUN_BODY and L.interface == "template":
                # One request, no descriptors: the body in, the JSON answer out.
                answer = w.put(dumps(L.obj.run(json.loads(bytes(shm.mv[off:off + ln])))))
                items, unbatchable = None, False
            elif ftype == T_RUN_BODIES and L.interface == "template":
                answers, items, unbatchable = run_bodies(L, shm, off, ln, w)
            else:
                req = json.loads(bytes(shm.mv[off:off + ln]))
                if L.interface == "template":
                    items, unbatchable = run_template(L, shm, req, w)
                else:
                    items, unbatchable = run_tensor(L, shm, req, w)
        except Exception:
            answer = None
            answers = None
            items, unbatchable = [{"error": traceback.format_exc()}], False
        served += 1
        last = time.monotonic() - t_run
        recycle = (max_requests > 0 and served >= max_requests) or (max_rss > 0 and rss_bytes() > max_rss)
        if answer is not None:
            send_frame(sock, T_RESULT_JSON_RECYCLE if recycle else T_RESULT_JSON, seq,
                       off=answer[0], length=answer[1])
        elif answers is not None:
            send_frame(sock, T_RESULT_JSONS_RECYCLE if recycle else T_RESULT_JSONS, seq,
                       off=answers[0], length=answers[1])
        else:
            desc = json.dumps({"items": items, "unbatchable": unbatchable, "recycle": recycle}).encode()
            try:
                doff, dln = w.put(desc)
            except MemoryError:
                w = Writer(shm)
                desc = json.dumps({"items": [{"error": "the answer does not fit the shared memory area"}] * len(items),
                                   "recycle": recycle}).encode()
                doff, dln = w.put(desc)
            send_frame(sock, T_RESULT, seq, off=doff, length=dln)
        if recycle:
            break


# ---- the master ---------------------------------------------------------------------------------

def reset_signals():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGHUP, signal.SIGQUIT,
              signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD):
        try:
            signal.signal(s, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def set_pdeathsig():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def child_main(master, L, cfg, k, sock_fd, shm_fd, shm_size):
    master.close()
    set_pdeathsig()
    sock = socket.socket(fileno=sock_fd)
    state["sock"] = sock
    state["instance"] = k
    code = 0
    try:
        shm = Shm(shm_fd, shm_size)
        if L is None:
            try:
                L = load_model(cfg)
            except Exception:
                send_frame(sock, T_HELLO, 0, json.dumps({"error": traceback.format_exc()}).encode())
                os._exit(1)
        send_frame(sock, T_HELLO, 0, json.dumps({"ok": True, "pid": os.getpid()}).encode())
        serve_instance(L, sock, shm, cfg)
        fin = getattr(L.obj, "finalize", None)
        if L.interface == "tensor" and callable(fin):
            fin()
    except BaseException:
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)


def main():
    reset_signals()
    master = socket.socket(fileno=3)
    state["sock"] = master
    fr = recv_frame(master)
    if fr is None or fr[0] != T_INIT:
        return 2
    cfg = json.loads(fr[4])
    setup_logging()
    L = None
    try:
        if cfg.get("load") == "per-instance":
            # The signature still comes from one load, here; instances load their own copy.
            L0 = load_model(cfg)
            sig, warns, iface = L0.signature, L0.warnings, L0.interface
            del L0
        else:
            L = load_model(cfg)
            sig, warns, iface = L.signature, L.warnings, L.interface
            # The loaded model lives as long as its instances: frozen out of the cycle collector's
            # generations, its objects are never rescanned, so collections in an instance do not
            # write to (and copy) the pages it shares with the master.
            gc.freeze()
        send_frame(master, T_READY, 0, json.dumps({"interface": iface, "signature": sig,
                                                   "warnings": warns}).encode())
    except BaseException:
        send_frame(master, T_READY, 0, json.dumps({"error": traceback.format_exc()}).encode())
        return 1
    children = {}
    master.settimeout(0.05)
    while True:
        try:
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                children.pop(pid, None)
                info = {"pid": pid}
                if os.WIFSIGNALED(status):
                    info["signal"] = os.WTERMSIG(status)
                else:
                    info["status"] = os.WEXITSTATUS(status)
                send_frame(master, T_EXITED, 0, json.dumps(info).encode())
        except ChildProcessError:
            pass
        try:
            fr = recv_frame(master, want_fds=2)
        except socket.timeout:
            continue
        except OSError:
            fr = None
        if fr is None:
            break
        ftype, seq, _off, _ln, payload, fds = fr
        if ftype == T_FORK and len(fds) == 2:
            msg = json.loads(payload)
            k = int(msg["instance"])
            pid = os.fork()
            if pid == 0:
                child_main(master, L if cfg.get("load") != "per-instance" else None, cfg, k,
                           fds[0], fds[1], int(msg["shm_size"]))
            for fd in fds:
                os.close(fd)
            children[pid] = k
            send_frame(master, T_SPAWNED, seq, json.dumps({"instance": k, "pid": pid}).encode())
        elif ftype == T_KILL:
            pid = int(json.loads(payload).get("pid", 0))
            if pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        else:
            for fd in fds:
                os.close(fd)
    # The server closed every instance's socket too: give them a second to finish (finalize()),
    # then kill what is left.
    end = time.monotonic() + 1.0
    while children and time.monotonic() < end:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
        else:
            children.pop(pid, None)
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in list(children):
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    os._exit(main() or 0)
