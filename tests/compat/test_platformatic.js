#!/usr/bin/env node
// Compat scenario for @platformatic/kafka (pure JavaScript): the phases of compat_common.js.
//
//   node test_platformatic.js PHASE --bootstrap 127.0.0.1:PORT --prefix TOPIC_PREFIX --state FILE
//
// Version 1.35.0, the newest that runs on Node 20 (2.x wants Node 22.22). Codecs: gzip (node's
// zlib), snappy and lz4 (wasm inside @platformatic/wasm-utils); no zstd, which it takes from
// node's zlib and Node 20's zlib does not have. Reading goes through a consumer group (a fresh
// group id per read, mode 'manual' with the start offsets), as the client has no bare fetcher.
'use strict'

const { Admin, Consumer, Producer } = require('@platformatic/kafka')

const { check, withDeadline, phases, main, readTracker } = require('./compat_common.js')

const CLIENT = 'platformatic'
const SEND_CHUNK_COUNT = 100 // records per producer.send
const CODECS = ['gzip', 'snappy', 'lz4']
const CLIENT_TIMEOUT_MS = 30000

function headersObject(headers) {
  const out = {}
  for (const [k, v] of headers || []) out[Buffer.isBuffer(k) ? k.toString() : String(k)] = v
  return out
}

// Without serializers the client takes header names as Buffers too.
function headersMap(headers) {
  return new Map(Object.entries(headers).map(([k, v]) => [Buffer.from(k), v]))
}

class Adapter {
  constructor(bootstrap) {
    this.base = { clientId: 'weir-compat-platformatic', bootstrapBrokers: [bootstrap], timeout: CLIENT_TIMEOUT_MS, retries: 5 }
    this.admin = new Admin(this.base)
    this.consumers = []
  }

  // A consumer for ListOffsets (the client lists offsets from a consumer).
  offsetsConsumer() {
    if (!this.offsets) {
      this.offsets = new Consumer({ ...this.base, groupId: `weir-compat-platformatic-offsets-${process.pid}` })
      this.consumers.push(this.offsets)
    }
    return this.offsets
  }

  async close() {
    for (const c of this.consumers) await c.close(true)
    await this.admin.close()
  }

  async createTopic(topic, partitions) {
    await withDeadline(this.admin.createTopics({ topics: [topic], partitions, replicas: 1 }), `creating ${topic}`)
    const md = await withDeadline(this.admin.metadata({ topics: [topic] }), `metadata of ${topic}`)
    const t = md.topics.get(topic)
    check(t && t.partitionsCount === partitions && t.partitions.every(p => p.leader >= 0),
      () => `metadata of new topic ${topic}: ${t ? JSON.stringify(t.partitions) : 'missing'}`)
  }

  async produce(topic, records, compression, idempotent) {
    const md = await withDeadline(this.admin.metadata({ topics: [topic] }), `metadata of ${topic}`)
    const partitions = md.topics.get(topic).partitionsCount
    const producer = new Producer({ ...this.base, idempotent, acks: -1, autocreateTopics: false, compression: compression || 'none' })
    const delivered = []
    try {
      for (let at = 0; at < records.length; at += SEND_CHUNK_COUNT) {
        const chunk = records.slice(at, at + SEND_CHUNK_COUNT)
        const messages = chunk.map(([i, r]) => ({ topic, partition: i % partitions, key: r.key, value: r.value, headers: headersMap(r.headers), timestamp: BigInt(r.timestamp) }))
        const res = await withDeadline(producer.send({ messages }), `producing to ${topic}`)
        const base = {}
        for (const o of res.offsets || []) base[o.partition] = Number(o.offset)
        const next = {}
        chunk.forEach(([i], n) => {
          const p = messages[n].partition
          check(base[p] !== undefined, () => `no produce result for ${topic}/${p}: ${JSON.stringify(res.offsets, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}`)
          next[p] = (next[p] || 0) + 1
          delivered.push([i, p, base[p] + next[p] - 1])
        })
      }
    } finally {
      await producer.close()
    }
    return delivered
  }

  async listOffsets(topic, timestamp) {
    const res = await withDeadline(this.offsetsConsumer().listOffsets({ topics: [topic], timestamp }), `offsets of ${topic}`)
    return res.get(topic).map(Number)
  }

  async endOffsets(topic) {
    return Object.fromEntries((await this.listOffsets(topic, -1n)).map((o, p) => [p, o]))
  }

  // Kafka answers -1 when no record is at or after the timestamp; the scenario expects the end.
  async offsetsForTimes(topic, ts) {
    const ends = await this.endOffsets(topic)
    return Object.fromEntries((await this.listOffsets(topic, BigInt(ts))).map((o, p) => [p, o < 0 ? ends[p] : o]))
  }

  async read(topic, start, end) {
    const { want, got, progress, isDone } = readTracker(start, end)
    if (Object.keys(want).length === 0) return got
    const consumer = new Consumer({ ...this.base, groupId: `weir-compat-platformatic-reader-${process.pid}-${Date.now()}`, maxWaitTime: 500 })
    this.consumers.push(consumer)
    const offsets = Object.keys(start).map(p => ({ topic, partition: Number(p), offset: BigInt(start[p]) }))
    const stream = await withDeadline(consumer.consume({ topics: [topic], mode: 'manual', offsets, autocommit: false }), `joining to read ${topic}`)
    const done = (async () => {
      for await (const m of stream) {
        const off = Number(m.offset)
        if (off < start[m.partition] || got[m.partition] === undefined) continue
        got[m.partition].push([off, { key: m.key, value: m.value, headers: headersObject(m.headers), timestamp: Number(m.timestamp) }])
        if (isDone()) break
      }
    })()
    await withDeadline(done, `reading ${topic}`, progress)
    return got
  }
}

const PHASES = phases(CLIENT, CODECS)

if (require.main === module) {
  main(CLIENT, PHASES, bootstrap => new Adapter(bootstrap))
} else {
  module.exports = { Adapter, PHASES }
}
