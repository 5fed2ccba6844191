-- GCRA ("generic cell rate algorithm") for one key, atomically, on the server's clock, so
-- every instance sharing this Redis shares one count and one notion of now.
-- KEYS[1]: the key's theoretical arrival time (TAT), microseconds since the Unix epoch.
-- ARGV[1]: the spacing between requests, window / limit, in microseconds (>= 1).
-- ARGV[2]: the window in microseconds (how far ahead the TAT may run: the burst).
-- Returns {1, remaining} when allowed, {0, retry_after_us} when limited.
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then
  tat = now
end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > window then
  return {0, ahead - window}
end
-- The key lives exactly as long as it matters: once the TAT has passed, it is as if absent.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000))
return {1, math.floor((window - ahead) / interval)}
