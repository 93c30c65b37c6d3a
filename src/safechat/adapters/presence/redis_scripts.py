"""The Lua scripts of the Redis presence and typing stores (redis.py).

Each multi-key change runs as one script, so two nodes never both announce the same
change (a user's first socket, their last, a typing start or stop). The scripts touch
keys they compute, which Redis Cluster does not allow: standalone Redis or Sentinel.
"""

# KEYS: socks, info, users, node set. ARGV: sid, info, now, expires, user, key_ttl,
# limit (0: none). Returns 1 first socket, 0 another one, -1 refused (limit reached).
PRESENCE_ADD = """
local alive = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf')
local limit = tonumber(ARGV[7])
if limit > 0 and alive >= limit and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('ZADD', KEYS[3], 'GT', ARGV[4], ARGV[5])
redis.call('SADD', KEYS[4], ARGV[5] .. ' ' .. ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[6])
if alive == 0 then return 1 end
return 0
"""

# KEYS: socks, info, users, status. ARGV: sid, now, user, prefix.
PRESENCE_REMOVE = """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if raw then
  local ok, info = pcall(cjson.decode, raw)
  if ok and type(info) == 'table' and type(info['node']) == 'string' then
    redis.call('SREM', ARGV[4] .. 'presence:node:' .. info['node'], ARGV[3] .. ' ' .. ARGV[1])
  end
end
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if removed == 0 then return 0 end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
for _, sid in ipairs(dead) do
  redis.call('ZREM', KEYS[1], sid)
  redis.call('HDEL', KEYS[2], sid)
end
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1
"""

# KEYS: users. ARGV: now, prefix. Users whose every socket expired, each returned once.
PRESENCE_EXPIRED = """
local gone = {}
local users = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 200)
for _, user in ipairs(users) do
  local socks = ARGV[2] .. 'presence:socks:' .. user
  local info = ARGV[2] .. 'presence:info:' .. user
  local dead = redis.call('ZRANGEBYSCORE', socks, '-inf', ARGV[1])
  for _, sid in ipairs(dead) do redis.call('HDEL', info, sid) end
  redis.call('ZREMRANGEBYSCORE', socks, '-inf', ARGV[1])
  local last = redis.call('ZRANGE', socks, -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', socks, info, ARGV[2] .. 'presence:status:' .. user)
    redis.call('ZREM', KEYS[1], user)
    table.insert(gone, user)
  else
    redis.call('ZADD', KEYS[1], last[2], user)
  end
end
return gone
"""

# KEYS: group set, due set. ARGV: user, deadline, member, key_ttl.
TYPING_START = """
local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if before then return 0 end
return 1
"""

# KEYS: group set, due set. ARGV: user, member.
TYPING_STOP = """
redis.call('ZREM', KEYS[2], ARGV[2])
return redis.call('ZREM', KEYS[1], ARGV[1])
"""

# KEYS: due set. ARGV: now, prefix.
TYPING_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local group, user = string.match(member, '^(%S+) (%S+)$')
  if group then redis.call('ZREM', ARGV[2] .. 'typing:' .. group, user) end
end
return due
"""
