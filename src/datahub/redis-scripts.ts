import type { SharedView } from './shared'

/**
 * What the shared state is in Redis, and the Lua scripts that change it: each runs atomically in
 * Redis, so two masters committing the same cluster at once leave the newer envelope and an interval
 * measured between consecutive snapshots, whichever master took them.
 *
 * Keys (PREFIX `nmm:`, "node-metrics master"), each expiring RETENTION after the cluster was last
 * heard of, as a silent cluster leaves the DataHub:
 * - `nmm:cluster:<id>`  hash: `s` newest snapshot's receive time (ms), `e` the origin of the master
 *   that committed it, `h` last heartbeat (ms), `i` observed interval (ms, %.17g so it reads back exactly)
 * - `nmm:envelope:<id>` the newest envelope's bytes as its agent sent them (gzip or JSON text; which,
 *   the bytes say: JSON never starts with gzip's magic 1f 8b)
 * - `nmm:clusters`      sorted set: cluster id → last heard of (ms), to read every view at (re)connection
 * - channel `nmm:views` every change of a view, published by the script that made it
 * - `nmm:master:<origin>` a marker each master writes at its (re)connection and every few seconds
 *   (expiring a minute after): missing at a check, Redis lost its keys (redis-link.ts)
 *
 * Nodes' last-seen times are not here: they are each node's `received_ms` in the store's latest
 * table, which several masters share when they share the store.
 */
export const PREFIX = 'nmm:'
export const CHANNEL = `${PREFIX}views`
export const INDEX_KEY = `${PREFIX}clusters`
export const stateKey = (clusterId: string) => `${PREFIX}cluster:${clusterId}`
export const envelopeKey = (clusterId: string) => `${PREFIX}envelope:${clusterId}`
export const markerKey = (origin: string) => `${PREFIX}master:${origin}`

/**
 * Shared by both update scripts: keeps the cluster and its envelope RETENTION past `at`, indexes it,
 * and publishes and returns its view as a JSON message: ARGV[head] (`{"o":origin,"c":id,`) and the
 * fields as stored.
 */
const TAIL = `
local function finish(at, ttl, channel, head, clusterId)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  local score = tonumber(redis.call('ZSCORE', KEYS[3], clusterId))
  if score == nil or at > score then redis.call('ZADD', KEYS[3], at, clusterId) end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%.0f', at - tonumber(ttl)))
  redis.call('PEXPIRE', KEYS[3], ttl)
  local v = redis.call('HMGET', KEYS[1], 's', 'e', 'h', 'i')
  local from = 'null'
  if v[2] then from = '"' .. v[2] .. '"' end
  local message = head .. '"s":' .. (v[1] or 'null') .. ',"e":' .. from .. ',"h":' .. (v[3] or 'null') .. ',"i":' .. (v[4] or 'null') .. '}'
  redis.call('PUBLISH', channel, message)
  return message
end
`

/**
 * KEYS: state, envelope, index. ARGV: receivedMs, envelope, ttl (ms), channel, head, cluster id,
 * origin, mode (`m` measure the interval from the shared previous snapshot, as the DataHub does
 * locally; `r` restore: take ARGV[9] as the interval, or keep the stored one when it is empty).
 * The newer envelope is kept: by receive time, then (the same millisecond at two masters) by the
 * greater origin, as every DataHub orders them (SnapshotMark); an older one changes nothing but the
 * expiry. Origins are hex, so Lua's string order (strcoll) is the bytes' order, as in JavaScript.
 * The interval changes only with the envelope, so every view of one snapshot carries one interval.
 */
export const COMMIT_SCRIPT = `${TAIL}
local received = tonumber(ARGV[1])
local previous = tonumber(redis.call('HGET', KEYS[1], 's'))
local from = redis.call('HGET', KEYS[1], 'e') or ''
if previous == nil or received > previous or (received == previous and ARGV[7] >= from) then
  if ARGV[8] == 'r' then
    if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'i', ARGV[9]) end
  elseif previous ~= nil then
    local interval = tonumber(redis.call('HGET', KEYS[1], 'i'))
    local gap = received - previous
    if interval == nil then interval = gap else interval = 0.8 * interval + 0.2 * gap end
    redis.call('HSET', KEYS[1], 'i', string.format('%.17g', interval))
  end
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'e', ARGV[7])
  redis.call('SET', KEYS[2], ARGV[2])
end
return finish(received, ARGV[3], ARGV[4], ARGV[5], ARGV[6])
`

/** KEYS: state, envelope, index. ARGV: heartbeat time (ms), ttl (ms), channel, head, cluster id. The later heartbeat wins. */
export const HEARTBEAT_SCRIPT = `${TAIL}
local at = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'h'))
if last == nil or at > last then redis.call('HSET', KEYS[1], 'h', ARGV[1]) end
return finish(at, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
`

/**
 * KEYS: index. ARGV: cutoff (ms: clusters last heard of before it are dropped from the index), the
 * state keys' prefix. Returns id, s, e, h, i for every cluster ('' for a missing field).
 * It reads keys it was not given: fine on one Redis (or a replicated pair), not on Redis Cluster.
 */
export const SYNC_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local v = redis.call('HMGET', ARGV[2] .. id, 's', 'e', 'h', 'i')
  if v[1] or v[3] then
    out[#out + 1] = id
    for field = 1, 4 do out[#out + 1] = v[field] or '' end
  end
end
return out
`

/** The start of a view message, which the script completes: who published it, and the cluster. */
export const messageHead = (origin: string, clusterId: string) => `{"o":${JSON.stringify(origin)},"c":${JSON.stringify(clusterId)},`

/** A published view: its origin, cluster and view; undefined when it is not one of ours. */
export function parseMessage(message: string): { origin: string; clusterId: string; view: SharedView } | undefined {
  try {
    const parsed = JSON.parse(message) as { o: unknown; c: unknown; s: unknown; e: unknown; h: unknown; i: unknown }
    if (typeof parsed.o !== 'string' || typeof parsed.c !== 'string') return undefined
    return { origin: parsed.o, clusterId: parsed.c, view: toView(parsed.s, parsed.e, parsed.h, parsed.i) }
  } catch {
    return undefined
  }
}

/** The answer of SYNC_SCRIPT as views by cluster. */
export function parseSync(reply: unknown): Map<string, SharedView> {
  const views = new Map<string, SharedView>()
  if (!Array.isArray(reply)) return views
  for (let at = 0; at + 4 < reply.length; at += 5) {
    const [id, s, e, h, i] = reply.slice(at, at + 5).map(String)
    views.set(id!, toView(s, e, h, i))
  }
  return views
}

function toView(s: unknown, e: unknown, h: unknown, i: unknown): SharedView {
  const snapshotMs = number(s)
  return {
    snapshotMs,
    snapshotFrom: snapshotMs === undefined ? undefined : typeof e === 'string' ? e : '',
    heartbeatMs: number(h),
    observedIntervalMs: number(i),
  }
}

function number(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value !== 'string' || value === '') return undefined
  const parsed = Number(value)
  return Number.isFinite(parsed) ? parsed : undefined
}
