-- wrk script: GET /v1/userinfo with one valid access token.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ACCESS_TOKEN")
local reported = false
response = function(status, headers, body)
  if status ~= 200 and not reported then
    reported = true
    io.stderr:write("first non-200 from userinfo: ", status, " ", body, "\n")
  end
end
