-- wrk script: mints codes through the admin API and appends "client_id code verifier" lines
-- to $CODES_FILE. Run with one thread (-t1).
local cid, sub, challenge, verifier = os.getenv("CID"), os.getenv("SUB"), os.getenv("CHALLENGE"), os.getenv("VERIFIER")
local out = io.open(os.getenv("CODES_FILE"), "a")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ADMIN_TOKEN")
wrk.body = '{"client_id":"' .. cid .. '","sub":"' .. sub .. '","scopes":[' .. os.getenv("SCOPES") ..
  '],"code_challenge":"' .. challenge .. '","code_challenge_method":"S256"}'

response = function(status, headers, body)
  local code = body:match('"code":"([^"]+)"')
  if status == 201 and code then out:write(cid, " ", code, " ", verifier, "\n") end
end
