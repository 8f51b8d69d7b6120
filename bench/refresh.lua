-- wrk script: POST /v1/token, grant_type=refresh_token. $TOKENS_FILE holds "client_id
-- refresh_token" lines; thread k of $THREADS queues lines k, k+T, … Each request takes the
-- token at the head of its thread's queue and each 200 puts the new (rotated) refresh token at
-- the tail, so no refresh token is ever used twice (reuse would revoke its family). An empty
-- queue (answers lost to errors) sends GET /healthz instead and counts "starved".
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local queue, head, tail = {}, 1, 0
local client_id, fallback
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}

function init(args)
  local lines = read_lines("TOKENS_FILE")
  local threads = tonumber(os.getenv("THREADS") or "2")
  for idx = (tid or 0) + 1, #lines, threads do
    local cid, token = lines[idx]:match("(%S+) (%S+)")
    client_id = cid
    tail = tail + 1
    queue[tail] = token
  end
  fallback = wrk.format("GET", "/healthz")
end

function request()
  if head > tail then
    count("starved")
    return fallback
  end
  local token = queue[head]
  queue[head] = nil
  head = head + 1
  return wrk.format("POST", "/v1/token", headers,
    "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. token)
end

function response(status, headers, body)
  tally(status, body)
  if status == 200 then
    local token = body:match('"refresh_token":"([^"]+)"')
    if token then
      tail = tail + 1
      queue[tail] = token
    else
      count("no_refresh_token")
    end
  end
end
