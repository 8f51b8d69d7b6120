-- wrk script: each request redeems a distinct pre-minted code, read from $CODES_FILE (lines
-- "client_id code verifier"). Thread k of $THREADS takes lines k, k+T, k+2T, …; once the codes
-- run out, requests replay old ones and show up as Non-2xx responses.
local lines = {}
for l in io.lines(os.getenv("CODES_FILE")) do lines[#lines + 1] = l end
local threads = tonumber(os.getenv("THREADS") or "2")
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

local i = 0
function request()
  local idx = (i * threads + (tid or 0)) % #lines + 1
  i = i + 1
  local client_id, code, verifier = lines[idx]:match("(%S+) (%S+) (%S+)")
  local body = "grant_type=authorization_code&client_id=" .. client_id .. "&code=" .. code ..
    "&code_verifier=" .. verifier
  return wrk.format("POST", "/v1/token", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
