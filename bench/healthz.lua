-- wrk script: GET /healthz, the server's HTTP ceiling (no store, a fixed JSON answer).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/healthz"
function response(status, headers, body) tally(status, body) end
