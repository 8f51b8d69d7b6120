-- wrk script: GET /v1/userinfo, cycling over the valid access tokens (granted `openid phone`)
-- of $TOKENS_FILE, one per line; thread k starts at line k.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local reqs, n, i = {}, 0, 0

function init(args)
  for _, token in ipairs(read_lines("TOKENS_FILE")) do
    n = n + 1
    reqs[n] = wrk.format("GET", "/v1/userinfo", {["Authorization"] = "Bearer " .. token})
  end
  i = tid or 0
end

function request()
  i = i % n + 1
  return reqs[i]
end

function response(status, headers, body) tally(status, body) end
