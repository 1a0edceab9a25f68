-- wrk script of the benchmark: every request is POST /api/v1/predict with one iris record,
-- exactly as bench/run.sh documents it (keep-alive is wrk's default).
wrk.method = "POST"
wrk.body = '{"data":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}'
wrk.headers["Content-Type"] = "application/json"
