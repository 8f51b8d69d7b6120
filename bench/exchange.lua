-- wrk script: POST /v1/token, grant_type=authorization_code; every request redeems a distinct
-- pre-minted code from $CODES_FILE (lines "client_id code verifier"). Thread k of $THREADS takes
-- lines k, k+T, k+2T, … and builds its requests in init(), before the clock starts. A code is
-- never sent twice: when a thread runs out it sends GET /healthz instead and counts
-- "exhausted", and run.py runs the scenario again with more codes.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local reqs, n, i = {}, 0, 0
local fallback

function init(args)
  local lines = read_lines("CODES_FILE")
  local threads = tonumber(os.getenv("THREADS") or "2")
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  for idx = (tid or 0) + 1, #lines, threads do
    local client_id, code, verifier = lines[idx]:match("(%S+) (%S+) (%S+)")
    n = n + 1
    reqs[n] = wrk.format("POST", "/v1/token", headers,
      "grant_type=authorization_code&client_id=" .. client_id .. "&code=" .. code ..
      "&code_verifier=" .. verifier)
  end
  fallback = wrk.format("GET", "/healthz")
end

function request()
  i = i + 1
  if i > n then
    count("exhausted")
    return fallback
  end
  return reqs[i]
end

function response(status, headers, body) tally(status, body) end
