-- wrk script: GET /v1/userinfo with one valid access token.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ACCESS_TOKEN")
