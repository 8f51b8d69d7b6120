-- wrk script: the whole flow per iteration, on every connection: mint a code through the
-- admin API (POST /admin/v1/authorizations, scopes `openid phone`), exchange it (POST
-- /v1/token, an RS256 id_token), read the profile (GET /v1/userinfo). Per thread, request()
-- sends a userinfo if an access token is queued, else an exchange if a code is queued, else a
-- mint; response() queues what came back. An iteration is a userinfo 200 ("iterations").
-- Env: CID, SUB, CHALLENGE, VERIFIER, ADMIN_TOKEN.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local codes, tokens = {}, {}
local cid, verifier = os.getenv("CID"), os.getenv("VERIFIER")
local mint_req
local form = {["Content-Type"] = "application/x-www-form-urlencoded"}

function init(args)
  mint_req = wrk.format("POST", "/admin/v1/authorizations", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("ADMIN_TOKEN"),
  }, '{"client_id":"' .. cid .. '","sub":"' .. os.getenv("SUB") ..
    '","scopes":["openid","phone"],"code_challenge":"' .. os.getenv("CHALLENGE") ..
    '","code_challenge_method":"S256"}')
end

function request()
  if #tokens > 0 then
    count("userinfo")
    return wrk.format("GET", "/v1/userinfo", {["Authorization"] = "Bearer " .. table.remove(tokens)})
  elseif #codes > 0 then
    count("exchange")
    return wrk.format("POST", "/v1/token", form, "grant_type=authorization_code&client_id=" ..
      cid .. "&code=" .. table.remove(codes) .. "&code_verifier=" .. verifier)
  end
  count("mint")
  return mint_req
end

function response(status, headers, body)
  tally(status, body)
  if status == 200 then
    local token = body:match('"access_token":"([^"]+)"')
    if token then
      tokens[#tokens + 1] = token
    elseif body:find('"sub":"', 1, true) then
      count("iterations")
    end
  elseif status == 201 then
    local code = body:match('"code":"([^"]+)"')
    if code then codes[#codes + 1] = code end
  end
end
