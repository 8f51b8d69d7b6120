-- Shared by the wrk scripts of bench/run.py (loaded with dofile). Every thread tallies the
-- status of each answer and a few named counters; done() (in wrk's main Lua state) adds them
-- up over the threads and prints one line "BENCH_JSON {...}" on stdout for run.py to parse:
-- requests, duration, wrk's socket errors, latency percentiles (µs), statuses, counters, and
-- the first bodies of non-2xx answers.
--
-- Globals read from the threads: tid (thread number, set in setup), statuses, counters, samples.
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

statuses = {}
counters = {}
samples = {}

function tally(status, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and #samples < 3 then
    samples[#samples + 1] = status .. " " .. string.sub(body or "", 1, 300)
  end
end

function count(name, n)
  counters[name] = (counters[name] or 0) + (n or 1)
end

-- Lines of a file, or an error naming the variable that should have named it.
function read_lines(var)
  local path = os.getenv(var)
  if not path then error(var .. " is not set") end
  local lines = {}
  for l in io.lines(path) do
    if #l > 0 then lines[#lines + 1] = l end
  end
  return lines
end

local function json_string(s)
  s = tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

local function json_object(t)
  local parts = {}
  for k, v in pairs(t) do
    local value
    if type(v) == "number" then value = string.format("%.17g", v) else value = json_string(v) end
    parts[#parts + 1] = json_string(k) .. ":" .. value
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local st, ct, sm = {}, {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do st[tostring(k)] = (st[tostring(k)] or 0) + v end
    for k, v in pairs(t:get("counters") or {}) do ct[k] = (ct[k] or 0) + v end
    for _, s in ipairs(t:get("samples") or {}) do
      if #sm < 5 then sm[#sm + 1] = json_string(s) end
    end
  end
  local e = summary.errors
  local lat = {
    p50 = latency:percentile(50), p90 = latency:percentile(90), p99 = latency:percentile(99),
    max = latency.max, mean = latency.mean,
  }
  io.write("BENCH_JSON {",
    '"requests":', summary.requests, ',"duration_us":', summary.duration,
    ',"bytes":', summary.bytes,
    ',"errors":', json_object({connect = e.connect, read = e.read, write = e.write,
      status = e.status, timeout = e.timeout}),
    ',"latency_us":', json_object(lat),
    ',"statuses":', json_object(st), ',"counters":', json_object(ct),
    ',"samples":[', table.concat(sm, ","), "]}\n")
end
