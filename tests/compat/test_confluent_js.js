#!/usr/bin/env node
// Compat scenario for @confluentinc/kafka-javascript (librdkafka for Node, its KafkaJS-style
// API): the phases of compat_common.js.
//
//   node test_confluent_js.js PHASE --bootstrap 127.0.0.1:PORT --prefix TOPIC_PREFIX --state FILE
//
// Exit status 0 when the phase's checks pass, 1 when a check fails, 2 on an unexpected error.
//
// Built from the package's own sources against Debian's zlib, OpenSSL, zstd, lz4 and curl
// (install.sh: `CKJS_LINKING=dynamic npm rebuild --build-from-source --nodedir=/usr`): its
// prebuilt binary is downloaded from outside the npm registry, and its static build downloads
// its dependencies' sources. The codecs are librdkafka's own.
//
// Its specifics: compression is a producer setting, not a send's; there is no manual
// partition assignment, so a read is a fresh group from the beginning, and records below the
// read's start are skipped; partitions are chosen here (round robin by record index), so that
// each record's offset follows from the base offsets of the send's answer.
'use strict'

const { Kafka, CompressionTypes, logLevel } = require('@confluentinc/kafka-javascript').KafkaJS

const { check, withDeadline, phases, main, readTracker } = require('./compat_common.js')

const CLIENT = 'confluent-js'
const SEND_CHUNK_COUNT = 100 // records per producer.send
const CODECS = { gzip: CompressionTypes.GZIP, snappy: CompressionTypes.SNAPPY, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }

class Adapter {
  constructor(bootstrap) {
    this.kafka = new Kafka({
      kafkaJS: {
        clientId: 'weir-compat-confluent-js',
        brokers: [bootstrap],
        logLevel: logLevel.ERROR,
        connectionTimeout: 5000,
        requestTimeout: 30000,
      },
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

  async partitions(topic) {
    const admin = await this.getAdmin()
    // An array of topics here (kafkajs: `{ topics: [...] }`).
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    return md[0].partitions
  }

  async createTopic(topic, partitions) {
    const admin = await this.getAdmin()
    const created = await withDeadline(
      admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], timeout: 30000 }),
      `creating ${topic}`,
    )
    check(created === true, `CreateTopics reported ${topic} as already existing`)
    const ps = await this.partitions(topic)
    check(ps.length === partitions && ps.every(p => p.leader >= 0), () => `metadata of new topic ${topic}: ${JSON.stringify(ps)}`)
  }

  async produce(topic, records, compression, idempotent) {
    const count = (await this.partitions(topic)).length
    const producer = this.kafka.producer({
      kafkaJS: {
        idempotent,
        acks: -1,
        allowAutoTopicCreation: false,
        compression: compression === null ? CompressionTypes.None : CODECS[compression],
      },
    })
    await producer.connect()
    const delivered = []
    try {
      for (let at = 0; at < records.length; at += SEND_CHUNK_COUNT) {
        const chunk = records.slice(at, at + SEND_CHUNK_COUNT)
        const messages = chunk.map(([i, r]) => ({
          key: r.key,
          value: r.value,
          headers: r.headers,
          timestamp: String(r.timestamp),
          partition: i % count,
        }))
        const res = await withDeadline(producer.send({ topic, messages }), `producing to ${topic}`)
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

  async offsetsForTimes(topic, ts) {
    const admin = await this.getAdmin()
    const res = await withDeadline(admin.fetchTopicOffsetsByTimestamp(topic, ts), `offsets for times of ${topic}`)
    return Object.fromEntries(res.map(r => [r.partition, Number(r.offset)]))
  }

  async read(topic, start, end) {
    const { want, got, progress, isDone } = readTracker(start, end)
    if (Object.keys(want).length === 0) return got
    const consumer = this.kafka.consumer({
      kafkaJS: {
        groupId: `weir-compat-confluent-js-reader-${process.pid}-${Date.now()}`,
        fromBeginning: true,
        autoCommit: false,
        maxWaitTimeInMs: 500,
      },
    })
    await consumer.connect()
    try {
      let finish
      const done = new Promise(resolve => { finish = resolve })
      await consumer.subscribe({ topics: [topic] })
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const off = Number(message.offset)
          if (off < start[partition] || off >= end[partition]) return
          const headers = {}
          for (const [k, v] of Object.entries(message.headers || {})) headers[k] = Array.isArray(v) ? v[0] : v
          got[partition].push([off, { key: message.key, value: message.value, headers, timestamp: Number(message.timestamp) }])
          if (isDone()) finish()
        },
      })
      await withDeadline(done, `reading ${topic}`, progress)
    } finally {
      await consumer.disconnect()
    }
    return got
  }
}

const PHASES = phases(CLIENT, Object.keys(CODECS))

main(CLIENT, PHASES, bootstrap => new Adapter(bootstrap))
