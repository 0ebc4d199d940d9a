"""The peer of bench/bench_serve.py: the usual Python way to put an ONNX model behind HTTP,
FastAPI on uvicorn (uvloop and httptools, what `uvicorn[standard]` installs) with an
onnxruntime session per worker process, answering the same KServe V2 JSON infer request as
`aistack serve` (POST /v2/models/NAME/infer, {"inputs": [{"name", "datatype", "shape",
"data"}]}, requested outputs optional) with the same JSON response. Written as a careful
engineer would: an async endpoint that reads the body once, no pydantic validation of the
tensor lists, the response serialized once by JSONResponse, ORT on one intra-op thread per
worker (the workers are the parallelism, as aistack serve's --threads are).

    PEER_MODEL=model.onnx uvicorn serve_fastapi_peer:app --app-dir bench --workers 2
"""
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT8": np.int8, "INT16": np.int16,
          "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16,
          "UINT32": np.uint32, "UINT64": np.uint64, "BOOL": np.bool_}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}

_opts = ort.SessionOptions()
_opts.intra_op_num_threads = 1
_opts.inter_op_num_threads = 1
SESSION = ort.InferenceSession(os.environ["PEER_MODEL"], _opts,
                               providers=["CPUExecutionProvider"])
OUTPUTS = [o.name for o in SESSION.get_outputs()]
app = FastAPI()


@app.get("/v2/health/ready")
async def ready():
    return {"ready": True}


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    req = await request.json()
    try:
        feeds = {i["name"]: np.asarray(i["data"], dtype=DTYPES[i["datatype"]]).reshape(i["shape"])
                 for i in req["inputs"]}
        names = [o["name"] for o in req.get("outputs") or []] or OUTPUTS
        outs = SESSION.run(names, feeds)
    except Exception as e:  # noqa: BLE001  (a bad request is the client's error)
        return JSONResponse({"error": str(e)}, status_code=400)
    return JSONResponse({"model_name": name, "model_version": "1", "outputs": [
        {"name": n, "datatype": NAMES[a.dtype], "shape": list(a.shape), "data": a.ravel().tolist()}
        for n, a in zip(names, outs)]})
