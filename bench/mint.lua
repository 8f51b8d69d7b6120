-- wrk script: mints codes through the admin API (POST /admin/v1/authorizations) and appends
-- "client_id code verifier" lines to $CODES_FILE.<thread number>, one unbuffered write per
-- line so run.py can count them while wrk runs. A thread stops after $MINT_TARGET codes.
-- Env: CID, SUB, CHALLENGE, VERIFIER, ADMIN_TOKEN, SCOPES (a JSON list's items: "openid","phone").
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local cid, verifier = os.getenv("CID"), os.getenv("VERIFIER")
local target = tonumber(os.getenv("MINT_TARGET") or "1e12")
local out
minted = 0

wrk.method = "POST"
wrk.path = "/admin/v1/authorizations"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ADMIN_TOKEN")
wrk.body = '{"client_id":"' .. cid .. '","sub":"' .. os.getenv("SUB") .. '","scopes":[' ..
  os.getenv("SCOPES") .. '],"code_challenge":"' .. os.getenv("CHALLENGE") ..
  '","code_challenge_method":"S256"}'

function init(args)
  out = io.open(os.getenv("CODES_FILE") .. "." .. (tid or 0), "a")
  out:setvbuf("no")
end

function response(status, headers, body)
  tally(status, body)
  local code = status == 201 and body:match('"code":"([^"]+)"')
  if code then
    out:write(cid .. " " .. code .. " " .. verifier .. "\n")
    minted = minted + 1
    if minted >= target then wrk.thread:stop() end
  end
end
