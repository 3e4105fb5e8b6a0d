#!/usr/bin/env node
// Compat scenario for kafkajs: the phases of compat_common.js (the Python scenarios' phases).
//
//   node test_kafkajs.js PHASE --bootstrap 127.0.0.1:PORT --prefix TOPIC_PREFIX --state FILE
//
// Exit status 0 when the phase's checks pass, 1 when a check fails, 2 on an unexpected error.
//
// kafkajs has no manual partition assignment: it reads through a consumer group (a fresh group
// id per read, then `seek`), so reading needs the broker's group APIs too.
//
// Codecs: gzip is built in; snappy comes from kafkajs-snappy (pure JS). The usual lz4 and zstd
// plugins (kafkajs-lz4, @kafkajs/zstd) compile native code with node-gyp, which fetches Node's
// headers from outside the npm registry, so small adapters over lz4js (pure JS) and
// @bokuweb/zstd-wasm (wasm shipped inside the npm package) are registered instead.
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const {
  Kafka,
  CompressionTypes,
  CompressionCodecs,
  Partitioners,
  logLevel,
} = require('kafkajs')
const lz4 = require('lz4js')
const zstd = require('@bokuweb/zstd-wasm')

const { check, withDeadline, phases, main, readTracker, makeRecord } = require('./compat_common.js')

const CLIENT = 'kafkajs'
const SEND_CHUNK_COUNT = 100 // records per producer.send: one batch per partition per send
const CODECS = { gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }

// --- codecs --------------------------------------------------------------------------------

const LZ4_FLG_BLOCK_CHECKSUM = 0x10
const lz4Codec = {
  async compress(encoder) {
    return Buffer.from(lz4.compress(encoder.buffer))
  },
  async decompress(buffer) {
    // lz4js misreads frames whose blocks carry checksums: refuse them instead of misreading.
    if (buffer.length > 4 && (buffer[4] & LZ4_FLG_BLOCK_CHECKSUM) !== 0) {
      throw new Error('lz4 frame with block checksums: unsupported by the lz4js adapter')
    }
    return Buffer.from(lz4.decompress(buffer))
  },
}
const ZSTD_LEVEL = 3
const zstdCodec = {
  async compress(encoder) {
    return Buffer.from(zstd.compress(encoder.buffer, ZSTD_LEVEL))
  },
  async decompress(buffer) {
    return Buffer.from(zstd.decompress(buffer))
  },
}
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
CompressionCodecs[CompressionTypes.LZ4] = () => lz4Codec
CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec

// --- the client ----------------------------------------------------------------------------

class Adapter {
  constructor(bootstrap) {
    this.kafka = new Kafka({
      clientId: 'weir-compat-kafkajs',
      brokers: [bootstrap],
      logLevel: logLevel.ERROR,
      connectionTimeout: 5000,
      requestTimeout: 30000,
      retry: { retries: 5 },
    })
    this.admin = null
  }

  async getAdmin() {
    if (!this.admin) {
      this.admin = this.kafka.admin()
      await this.admin.connect()
    }
    return this.admin
  }

  async close() {
    if (this.admin) await this.admin.disconnect()
  }

  async createTopic(topic, partitions) {
    const admin = await this.getAdmin()
    const created = await withDeadline(
      admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 30000 }),
      `creating ${topic}`,
    )
    check(created === true, `CreateTopics reported ${topic} as already existing`)
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    const ps = md.topics[0].partitions
    check(ps.length === partitions && ps.every(p => p.leader >= 0), () => `metadata of new topic ${topic}: ${JSON.stringify(ps)}`)
  }

  async produce(topic, records, compression, idempotent) {
    const admin = await this.getAdmin()
    const partitionMetadata = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions
    // Partitions are chosen by kafkajs's own default partitioner, called here so that each
    // record's offset follows from the per-partition base offsets of the send's response.
    const partitioner = Partitioners.DefaultPartitioner()
    const producer = this.kafka.producer({
      idempotent,
      maxInFlightRequests: idempotent ? 1 : undefined,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
    await producer.connect()
    const delivered = []
    try {
      for (let at = 0; at < records.length; at += SEND_CHUNK_COUNT) {
        const chunk = records.slice(at, at + SEND_CHUNK_COUNT)
        const messages = chunk.map(([, r]) => {
          const m = { key: r.key, value: r.value, headers: r.headers, timestamp: String(r.timestamp) }
          m.partition = partitioner({ topic, partitionMetadata, message: m })
          return m
        })
        const res = await withDeadline(
          producer.send({ topic, acks: -1, timeout: 30000, compression: compression === null ? CompressionTypes.None : CODECS[compression], messages }),
          `producing to ${topic}`,
        )
        const base = {}
        for (const r of res) {
          check(r.errorCode === 0, `produce to ${topic}/${r.partition}: error code ${r.errorCode}`)
          base[r.partition] = Number(r.baseOffset)
        }
        const next = {}
        chunk.forEach(([i], n) => {
          const p = messages[n].partition
          check(base[p] !== undefined, `no produce response for ${topic}/${p}`)
          next[p] = (next[p] || 0) + 1
          delivered.push([i, p, base[p] + next[p] - 1])
        })
      }
    } finally {
      await producer.disconnect()
    }
    return delivered
  }

  async endOffsets(topic) {
    const admin = await this.getAdmin()
    const res = await withDeadline(admin.fetchTopicOffsets(topic), `end offsets of ${topic}`)
    return Object.fromEntries(res.map(r => [r.partition, Number(r.high)]))
  }

  // kafkajs reports "no record at or after the timestamp" as the high watermark.
  async offsetsForTimes(topic, ts) {
    const admin = await this.getAdmin()
    const res = await withDeadline(admin.fetchTopicOffsetsByTimestamp(topic, ts), `offsets for times of ${topic}`)
    return Object.fromEntries(res.map(r => [r.partition, Number(r.offset)]))
  }

  async read(topic, start, end) {
    const { want, got, progress, isDone } = readTracker(start, end)
    if (Object.keys(want).length === 0) return got
    const consumer = this.kafka.consumer({
      groupId: `weir-compat-kafkajs-reader-${process.pid}-${Date.now()}`,
      maxWaitTimeInMs: 500,
      retry: { retries: 5 },
    })
    await consumer.connect()
    try {
      let finish, crash
      const done = new Promise((resolve, reject) => { finish = resolve; crash = reject })
      // A consumer that gives up (e.g. cannot join its group) fails the read at once.
      consumer.on(consumer.events.CRASH, ({ payload }) => crash(payload.error))
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const off = Number(message.offset)
          // Records fetched from offset 0 before the seek below took effect are not ours.
          if (off < start[partition]) return
          got[partition].push([off, { key: message.key, value: message.value, headers: message.headers || {}, timestamp: Number(message.timestamp) }])
          if (isDone()) finish()
        },
      })
      for (const p of Object.keys(want)) consumer.seek({ topic, partition: Number(p), offset: String(start[p]) })
      await withDeadline(done, `reading ${topic}`, progress)
    } finally {
      await consumer.disconnect()
    }
    return got
  }
}

const PHASES = phases(CLIENT, Object.keys(CODECS))

if (require.main === module) {
  main(CLIENT, PHASES, bootstrap => new Adapter(bootstrap), () => zstd.init())
} else {
  // Required by selftest/kafkajs_codecs.js (or a debugging harness): nothing runs.
  module.exports = {
    Adapter,
    PHASES,
    lz4Codec,
    zstdCodec,
    makeRecord: (i, baseTs, compressible) => makeRecord(CLIENT, i, baseTs, compressible),
  }
}
