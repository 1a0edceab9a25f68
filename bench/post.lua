-- wrk script of the benchmarks: every request is a POST (keep-alive is wrk's default). By default
-- the body is one iris record for POST /api/v1/predict, exactly as bench/run.sh documents it.
-- Environment (all optional):
--   BENCH_BODY_FILE     the body is this file's content instead (e.g. 100 records, V2 tensors)
--   BENCH_CONTENT_TYPE  Content-Type (default application/json)
--   BENCH_IHCL          Inference-Header-Content-Length (V2 binary tensors)
--   BENCH_API_KEY       sent as X-API-Key
wrk.method = "POST"
wrk.body = '{"data":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}'
wrk.headers["Content-Type"] = "application/json"

local function env(name)
    local v = os.getenv(name)
    if v ~= nil and v ~= "" then
        return v
    end
    return nil
end

local path = env("BENCH_BODY_FILE")
if path then
    local f = assert(io.open(path, "rb"))
    wrk.body = f:read("*a")
    f:close()
end
wrk.headers["Content-Type"] = env("BENCH_CONTENT_TYPE") or wrk.headers["Content-Type"]
wrk.headers["Inference-Header-Content-Length"] = env("BENCH_IHCL")
wrk.headers["X-API-Key"] = env("BENCH_API_KEY")
