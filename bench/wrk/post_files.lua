-- wrk script: single-request uploads, `POST /v1/files` (multipart form: bucket, path, file),
-- 1 KiB bodies, every request a new path. The token comes from the TOKEN environment variable.
--   TOKEN=… wrk -t2 -c64 -d10s -s bench/wrk/post_files.lua http://127.0.0.1:8080

local boundary = "filegate-wrk-boundary"
local payload = string.rep("x", 1024)
local threads = {}
local counter = 0


function setup(thread)
  thread:set("prefix", "t" .. #threads .. "-" .. tostring(os.time()))
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
end

local function field(name, value)
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name .. "\"\r\n\r\n" .. value .. "\r\n"
end

function request()
  counter = counter + 1
  local path = "wrk/" .. prefix .. "/" .. counter .. ".bin"
  local body = field("bucket", "default") .. field("path", path)
    .. "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
    .. "Content-Type: application/octet-stream\r\n\r\n" .. payload .. "\r\n--" .. boundary .. "--\r\n"
  return wrk.format(nil, "/v1/files", nil, body)
end

local failures = 0
function response(status, headers, body)
  if status ~= 201 and status ~= 200 then
    failures = failures + 1
    if failures <= 3 then
      io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    end
  end
end
