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

} // namespace Mtw::StoreRedis::Scripts
