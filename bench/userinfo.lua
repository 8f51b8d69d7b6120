-- wrk script: GET $BEARER_PATH (default /v1/userinfo; /v1/default for `web_profile`), cycling
-- over the valid access tokens of $TOKENS_FILE, one per line; thread k starts at line k.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local reqs, n, i = {}, 0, 0
local path = os.getenv("BEARER_PATH") or "/v1/userinfo"

function init(args)
  for _, token in ipairs(read_lines("TOKENS_FILE")) do
    n = n + 1
    reqs[n] = wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
  end
  i = tid or 0
end

function request()
  i = i % n + 1
  return reqs[i]
end

function response(status, headers, body) tally(status, body) end
