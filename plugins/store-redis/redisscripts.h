// SPDX-License-Identifier: MIT
// The Lua scripts the broker runs in Redis: each is one atomic step (docs/cluster.md, "What is
// in Redis"). Liveness uses Redis's clock (TIME), so that nodes' clocks need not agree.
#pragma once

#include <QByteArray>

namespace Mtw::StoreRedis::Scripts {

// The sum of the member counts of the channel's live nodes (a node is live while its heartbeat
// is younger than node_ttl_ms). Prepended to the scripts that need it.
inline constexpr char Common[] = R"lua(
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function liveMembers(countsKey, nodesKey, now, ttl)
  local total = 0
  local counts = redis.call('HGETALL', countsKey)
  for i = 1, #counts, 2 do
    local seen = redis.call('ZSCORE', nodesKey, counts[i])
    if seen and now - tonumber(seen) <= ttl then
      total = total + tonumber(counts[i + 1])
    end
  end
  return total
end
local function startChannel(metaKey, historyKey, epoch)
  redis.call('HSET', metaKey, 'e', epoch, 'o', 0)
  redis.call('DEL', historyKey)
  return epoch
end
local function entryOffset(id)
  return tonumber(string.match(id, '^(%d+)'))
end
)lua";

// KEYS: meta, history, counts, nodes
// ARGV: head, middle, tail, newEpoch, historySize, historyTtlS, metaTtlS, node, senderKey,
//       senderIsMember, mustExist, nodeTtlMs, pubsubChannel, deliveredHere
// -> {offset, epoch, recipients} or an error "404".
inline constexpr char Publish[] = R"lua(
local now = nowMs()
if ARGV[11] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('404')
end
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then epoch = startChannel(KEYS[1], KEYS[2], ARGV[4]) end
local offset = string.format('%d', redis.call('HINCRBY', KEYS[1], 'o', 1))
if tonumber(ARGV[7]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[7]) end
local envelope = ARGV[1] .. epoch .. ARGV[2] .. offset .. ARGV[3]
if tonumber(ARGV[5]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], offset .. '-1',
             't', now, 'n', ARGV[8], 'h', ARGV[14], 'd', envelope)
  if tonumber(ARGV[6]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
end
local recipients = liveMembers(KEYS[3], KEYS[4], now, tonumber(ARGV[12]))
if ARGV[10] == '1' and recipients > 0 then recipients = recipients - 1 end
redis.call('PUBLISH', ARGV[13], ARGV[8] .. ' ' .. ARGV[9] .. ' ' .. offset .. ' ' .. epoch .. ' '
           .. ARGV[14] .. '\n' .. envelope)
return {offset, epoch, recipients}
)lua";

// KEYS: meta, history, counts, nodes, presence, channels, nodeChannels
// ARGV: node, newEpoch, maxMembers, nodeTtlMs, connId, presenceValue ('' = none), read mode
//       ('-' nothing, 'N' newest, 'A' after), count, afterOffset, afterEpoch, historyTtlMs,
//       channel, metaTtlS
// -> {members, offset, epoch, recovered, {envelopes...}} or an error "409".
inline constexpr char Join[] = R"lua(
local now = nowMs()
local members = liveMembers(KEYS[3], KEYS[4], now, tonumber(ARGV[4]))
if tonumber(ARGV[3]) > 0 and members >= tonumber(ARGV[3]) then
  return redis.error_reply('409 ' .. members)
end
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
if ARGV[6] ~= '' then redis.call('HSET', KEYS[5], ARGV[5], ARGV[6]) end
redis.call('ZADD', KEYS[6], 0, ARGV[12])
redis.call('SADD', KEYS[7], ARGV[12])
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then epoch = startChannel(KEYS[1], KEYS[2], ARGV[2]) end
if tonumber(ARGV[13]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[13]) end
local top = tonumber(redis.call('HGET', KEYS[1], 'o'))
local ttl = tonumber(ARGV[11])
local oldest = 0
if ttl > 0 then oldest = now - ttl end
local out = {}
local recovered = 0
if ARGV[7] == 'A' then
  local after = tonumber(ARGV[9])
  local same = ARGV[10] == epoch and after <= top
  local from = '-'
  if same then from = string.format('%d', after + 1) .. '-0' end
  local first = nil
  for _, entry in ipairs(redis.call('XRANGE', KEYS[2], from, '+')) do
    if tonumber(entry[2][2]) >= oldest then
      if not first then first = entryOffset(entry[1]) end
      out[#out + 1] = entry[2][8]
    end
  end
  if same and (after == top or first == after + 1) then recovered = 1 end
elseif ARGV[7] == 'N' then
  local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[8])
  for i = #entries, 1, -1 do
    if tonumber(entries[i][2][2]) >= oldest then out[#out + 1] = entries[i][2][8] end
  end
end
return {members + 1, string.format('%d', top), epoch, recovered, out}
)lua";

// KEYS: counts, presence, nodeChannels   ARGV: node, connId, channel
inline constexpr char Leave[] = R"lua(
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[3])
end
redis.call('HDEL', KEYS[2], ARGV[2])
return left
)lua";

// After a reconnect: this node's members of one channel, as it has them. A channel with members
// exists: a Redis that restarted empty gets it back (in a new epoch).
// KEYS: counts, presence, channels, nodeChannels, meta, history
// ARGV: node, count, channel, newEpoch, then connId, presenceValue pairs
inline constexpr char Register[] = R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if redis.call('HEXISTS', KEYS[5], 'e') == 0 then startChannel(KEYS[5], KEYS[6], ARGV[4]) end
redis.call('ZADD', KEYS[3], 0, ARGV[3])
redis.call('SADD', KEYS[4], ARGV[3])
return 1
)lua";

// KEYS: meta, history   ARGV: afterOffset, afterEpoch
// -> {offset, epoch, {offset, node, deliveredHere, envelope, ...}}: what followed the position
// (everything kept when the channel started over in another epoch).
inline constexpr char ReadAfter[] = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then return {'0', '', {}} end
local top = redis.call('HGET', KEYS[1], 'o')
local out = {}
local from = '-'
if epoch == ARGV[2] then from = string.format('%d', tonumber(ARGV[1]) + 1) .. '-0' end
do
  for _, entry in ipairs(redis.call('XRANGE', KEYS[2], from, '+')) do
    out[#out + 1] = string.format('%d', entryOffset(entry[1]))
    out[#out + 1] = entry[2][4]
    out[#out + 1] = entry[2][6]
    out[#out + 1] = entry[2][8]
  end
end
return {top, epoch, out}
)lua";

// KEYS: meta, history
// ARGV: limit (0 all), reverse, hasSince, sinceOffset, sinceEpoch, historyTtlMs
// -> {offset, epoch, recovered, {envelopes...}} in the order the client gets them.
inline constexpr char History[] = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then return {'0', '', 1, {}} end
local top = tonumber(redis.call('HGET', KEYS[1], 'o'))
local limit = tonumber(ARGV[1])
local ttl = tonumber(ARGV[6])
local oldest = 0
if ttl > 0 then oldest = nowMs() - ttl end
local out = {}
local recovered = 1
local function keep(entry) return tonumber(entry[2][2]) >= oldest end
if ARGV[3] == '1' then
  local since = tonumber(ARGV[4])
  local same = ARGV[5] == epoch and since <= top
  if ARGV[2] == '1' then
    local before = '+'
    if same then before = '(' .. string.format('%d', since) .. '-0' end
    local entries
    if limit > 0 then entries = redis.call('XREVRANGE', KEYS[2], before, '-', 'COUNT', limit)
    else entries = redis.call('XREVRANGE', KEYS[2], before, '-') end
    for _, entry in ipairs(entries) do if keep(entry) then out[#out + 1] = entry[2][8] end end
  else
    local from = '-'
    if same then from = string.format('%d', since + 1) .. '-0' end
    local entries
    if limit > 0 then entries = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', limit)
    else entries = redis.call('XRANGE', KEYS[2], from, '+') end
    local first = nil
    for _, entry in ipairs(entries) do
      if keep(entry) then
        if not first then first = entryOffset(entry[1]) end
        out[#out + 1] = entry[2][8]
      end
    end
    recovered = 0
    if same and (since == top or first == since + 1) then recovered = 1 end
  end
else
  local entries
  if limit > 0 then entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)
  else entries = redis.call('XREVRANGE', KEYS[2], '+', '-') end
  if ARGV[2] == '1' then
    for _, entry in ipairs(entries) do if keep(entry) then out[#out + 1] = entry[2][8] end end
  else
    for i = #entries, 1, -1 do
      if keep(entries[i]) then out[#out + 1] = entries[i][2][8] end
    end
  end
end
return {string.format('%d', top), epoch, recovered, out}
)lua";

// KEYS: presence, nodes   ARGV: nodeTtlMs   -> {connId, userId, ...} of live nodes' members
inline constexpr char Presence[] = R"lua(
local now = nowMs()
local ttl = tonumber(ARGV[1])
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local node, user = string.match(all[i + 1], '^([^\t]*)\t(.*)$')
  local seen = redis.call('ZSCORE', KEYS[2], node)
  if seen and now - tonumber(seen) <= ttl then
    out[#out + 1] = all[i]
    out[#out + 1] = user
  end
end
return out
)lua";

// KEYS: channels, nodes   ARGV: after ('' from the start), limit, nodeTtlMs, prefix
// -> {name, members, ...}: channels with live members, by name.
inline constexpr char Channels[] = R"lua(
local now = nowMs()
local ttl = tonumber(ARGV[3])
local limit = tonumber(ARGV[2])
local out = {}
local from = '-'
if ARGV[1] ~= '' then from = '(' .. ARGV[1] end
while #out < 2 * limit do
  local names = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0, 100)
  if #names == 0 then break end
  for _, name in ipairs(names) do
    local countsKey = ARGV[4] .. ':cnt:' .. name
    if redis.call('EXISTS', countsKey) == 0 then
      redis.call('ZREM', KEYS[1], name)
    else
      local members = liveMembers(countsKey, KEYS[2], now, ttl)
      if members > 0 and #out < 2 * limit then
        out[#out + 1] = name
        out[#out + 1] = members
      end
    end
    from = '(' .. name
  end
end
return out
)lua";

// KEYS: nodes, nodeInfo   ARGV: node, nodeTtlMs, then field, value pairs
// The heartbeat: this node is live as of Redis's clock.
inline constexpr char Heartbeat[] = R"lua(
local now = nowMs()
redis.call('ZADD', KEYS[1], now, ARGV[1])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], 'last_seen', now, unpack(fields))
redis.call('PEXPIRE', KEYS[2], 3 * tonumber(ARGV[2]))
return now
)lua";

// KEYS: nodes   ARGV: nodeTtlMs, prefix
// -> {id, lastSeen, {field, value, ...}, ...} for live nodes; nodes gone for 3 TTLs are dropped,
// with their member counts and presence entries.
inline constexpr char Nodes[] = R"lua(
local now = nowMs()
local ttl = tonumber(ARGV[1])
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - 3 * ttl)) do
  local chans = ARGV[2] .. ':nc:' .. id
  for _, name in ipairs(redis.call('SMEMBERS', chans)) do
    redis.call('HDEL', ARGV[2] .. ':cnt:' .. name, id)
    local presence = ARGV[2] .. ':pres:' .. name
    local all = redis.call('HGETALL', presence)
    for i = 1, #all, 2 do
      if string.sub(all[i + 1], 1, #id + 1) == id .. '\t' then redis.call('HDEL', presence, all[i]) end
    end
  end
  redis.call('DEL', chans)
  redis.call('ZREM', KEYS[1], id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - ttl, '+inf')) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('ZSCORE', KEYS[1], id)
  out[#out + 1] = redis.call('HGETALL', ARGV[2] .. ':node:' .. id)
end
return out
)lua";

// ---- the shared key-value store (docs/kv.md, docs/cluster.md) ----
// An entry is a field of <p>:kv:<bucket>: "version\texpiresAt\tkind\t" .. value; its key is in
// <p>:kvkeys:<bucket> (sorted, for kv.list) and, when it expires, in <p>:kvexp ("bucket\tkey" by
// expiry). Every change takes the bucket's next revision (<p>:kvrev:<bucket>) and is announced on
// <p>:kvev:<bucket>: "op\tkey\tversion\texpiresAt\tkind\twriter\n" .. value.
inline constexpr char KvCommon[] = R"lua(
local function kvParse(raw)
  if not raw then return nil end
  local version, expires, kind, value = string.match(raw, '^(%d+)\t(%d+)\t(%a)\t(.*)$')
  return {version = version, expires = tonumber(expires), kind = kind, value = value}
end
local function kvLive(entry, now)
  return entry and (entry.expires == 0 or entry.expires > now)
end
local function kvRemove(prefix, bucket, key, op, writer)
  local entries = prefix .. ':kv:' .. bucket
  redis.call('HDEL', entries, key)
  redis.call('ZREM', prefix .. ':kvkeys:' .. bucket, key)
  redis.call('ZREM', prefix .. ':kvexp', bucket .. '\t' .. key)
  local version = string.format('%d', redis.call('INCR', prefix .. ':kvrev:' .. bucket))
  redis.call('PUBLISH', prefix .. ':kvev:' .. bucket,
             op .. '\t' .. key .. '\t' .. version .. '\t0\t-\t' .. writer .. '\n')
  return version
end
)lua";

// KEYS: none   ARGV: prefix, bucket, maxKeys, writer, then per operation 6 values:
// op ('P' put, 'D' delete), key, expectedVersion ('' none, '0' absent), ttlMs ('0' none), kind,
// value -> {version, expiresAt, ...} per operation, or
// {'ERR', index, code, key, currentVersion ('' absent)}
inline constexpr char KvWrite[] = R"lua(
local prefix, bucket, maxKeys, writer = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now = nowMs()
local entries = prefix .. ':kv:' .. bucket
local count = redis.call('HLEN', entries)
local staged = {}
local ops = {}
for i = 5, #ARGV, 6 do ops[#ops + 1] = {ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]} end
-- Check every operation against what the ones before it leave; change nothing yet.
for index, op in ipairs(ops) do
  local key = op[2]
  local current = staged[key]
  if current == nil then
    local entry = kvParse(redis.call('HGET', entries, key))
    if kvLive(entry, now) then current = entry.version else current = false end
    if entry and not kvLive(entry, now) then count = count - 1 end
  end
  if op[1] == 'D' and not current then
    return {'ERR', index - 1, '404', key, ''}
  end
  if op[3] ~= '' then
    local matches
    if op[3] == '0' then matches = not current else matches = current and current == op[3] end
    if not matches then return {'ERR', index - 1, '409', key, current or ''} end
  end
  if op[1] == 'P' and not current and count >= maxKeys then
    return {'ERR', index - 1, '507', key, ''}
  end
  if op[1] == 'P' then
    if not current then count = count + 1 end
    staged[key] = 'pending'
  else
    count = count - 1
    staged[key] = false
  end
end
local versions = {}
for _, op in ipairs(ops) do
  local key = op[2]
  if op[1] == 'D' then
    versions[#versions + 1] = kvRemove(prefix, bucket, key, 'delete', writer)
    versions[#versions + 1] = '0'
  else
    local version = string.format('%d', redis.call('INCR', prefix .. ':kvrev:' .. bucket))
    local expires = '0'
    if tonumber(op[4]) > 0 then expires = string.format('%d', now + tonumber(op[4])) end
    redis.call('HSET', entries, key, version .. '\t' .. expires .. '\t' .. op[5] .. '\t' .. op[6])
    redis.call('ZADD', prefix .. ':kvkeys:' .. bucket, 0, key)
    if expires ~= '0' then
      redis.call('ZADD', prefix .. ':kvexp', expires, bucket .. '\t' .. key)
    else
      redis.call('ZREM', prefix .. ':kvexp', bucket .. '\t' .. key)
    end
    redis.call('PUBLISH', prefix .. ':kvev:' .. bucket,
               'put\t' .. key .. '\t' .. version .. '\t' .. expires .. '\t' .. op[5] .. '\t' .. writer .. '\n' .. op[6])
    versions[#versions + 1] = version
    versions[#versions + 1] = expires
  end
end
return versions
)lua";

// ARGV: prefix, bucket, key  -> {version, expiresAt, kind, value} or {} when absent
inline constexpr char KvGet[] = R"lua(
local entry = kvParse(redis.call('HGET', ARGV[1] .. ':kv:' .. ARGV[2], ARGV[3]))
if not kvLive(entry, nowMs()) then return {} end
return {entry.version, string.format('%d', entry.expires), entry.kind, entry.value}
)lua";

// ARGV: prefix, bucket, keyPrefix, after, limit
// -> {revision, next, key, version, expiresAt, ...}
inline constexpr char KvList[] = R"lua(
local prefix, bucket, keyPrefix, after, limit = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = nowMs()
local entries = prefix .. ':kv:' .. bucket
local from = '[' .. keyPrefix
if after ~= '' and after >= keyPrefix then from = '(' .. after end
local out = {}
local next = ''
local found = 0
while true do
  local keys = redis.call('ZRANGEBYLEX', prefix .. ':kvkeys:' .. bucket, from, '+', 'LIMIT', 0, 200)
  if #keys == 0 then break end
  local stop = false
  for _, key in ipairs(keys) do
    if string.sub(key, 1, #keyPrefix) ~= keyPrefix then stop = true break end
    local entry = kvParse(redis.call('HGET', entries, key))
    if kvLive(entry, now) then
      if found == limit then next = out[#out - 2] stop = true break end
      out[#out + 1] = key
      out[#out + 1] = entry.version
      out[#out + 1] = string.format('%d', entry.expires)
      found = found + 1
    end
    from = '(' .. key
  end
  if stop then break end
end
return {redis.call('GET', prefix .. ':kvrev:' .. bucket) or '0', next, unpack(out)}
)lua";

// KEYS: none   ARGV: prefix -> how many expired entries were removed (each an "expire" change)
inline constexpr char KvSweep[] = R"lua(
local prefix, now = ARGV[1], nowMs()
local due = redis.call('ZRANGEBYSCORE', prefix .. ':kvexp', '-inf', now, 'LIMIT', 0, 500)
for _, member in ipairs(due) do
  local bucket, key = string.match(member, '^([^\t]*)\t(.*)$')
  kvRemove(prefix, bucket, key, 'expire', 'server')
end
return #due
)lua";

} // namespace Mtw::StoreRedis::Scripts
