#!/usr/bin/env node
// Transaction scenario (issue #14) for kafkajs: the phases of txn_common.py, with the same
// names, counts and checks, written here against kafkajs directly (it is the only JavaScript
// client with transactions in the suite).
//
//   node test_txn_kafkajs.js PHASE --bootstrap HOST:PORT --prefix PREFIX --state FILE
//
// txn-commit   a transaction of COMMIT_RECORDS records over two partitions is committed; a
//              read_committed and a read_uncommitted reader both read exactly them, in order.
// txn-abort    an aborted transaction of ABORT_RECORDS records, then a committed sentinel:
//              read_committed reads the sentinel only, read_uncommitted both.
// txn-open     an open transaction followed by a non-transactional record: read_committed gets
//              nothing for QUIET_MS (held at the open transaction's first offset), everything
//              once it commits; read_uncommitted everything at once.
// txn-restart  (after a broker restart) the commit and abort topics read the same.
// txn-ctp      consume-transform-produce through a group member, in transactions of CTP_BATCH
//              inputs with the group's offsets (`sendOffsets`); one is written, aborted and redone.
//              The group's committed offset is the input's end; read_committed reads every copy
//              exactly once, read_uncommitted the aborted round too.
// txn-fence    a second producer with the same transactional id fences the first: its next
//              commit fails as fenced, and its open transaction is aborted.
// txn-timeout  a transaction left open past its timeout (TIMEOUT_MS) is aborted by the broker:
//              read_committed moves past it; its producer's commit fails as fenced or aborted.
//
// kafkajs specifics: a transaction is `producer.transaction()`, and the transactional
// InitProducerId is sent on the first one (the adapter opens it at once, so that creating a
// producer fences an older one as the other clients' `init_transactions` does); `send` awaits
// its Produce, so records are buffered here and sent as one batch per flush (as the other
// clients' linger does). There is no manual assignment: a reader is a fresh group
// (`readUncommitted` sets the isolation level), and the ctp member is `eachBatch` of a
// subscribed consumer. kafkajs 2.2.4 speaks InitProducerId, AddPartitionsToTxn,
// AddOffsetsToTxn, EndTxn and TxnOffsetCommit v0-1 only.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const { CheckFailed, check, main, PHASE_DEADLINE_MS } = require('./compat_common.js')

const CLIENT = 'kafkajs-txn'
const COMMIT_RECORDS = 50
const ABORT_RECORDS = 30
const INPUT_RECORDS = 60
const CTP_BATCH = 20
const TIMEOUT_MS = 3000
const QUIET_MS = 2000 // how long a read_committed reader is watched for records it must not get
const TXN_RETRIES = 5 // kafkajs retries an idempotent producer's requests forever by default

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// `promise`, or a CheckFailed after `ms`.
function within(ms, promise, what, progress = () => '') {
  let timer
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const p = progress()
      reject(new CheckFailed(`${what} did not finish within ${ms / 1000}s${p ? ': ' + p : ''}`))
    }, ms)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

const topicOf = (args, name) => `${args.prefix}-txn-${name}`
const values = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`)

// Exact comparison of two lists of values; reports where they first differ.
function same(what, expected, got) {
  if (expected.length === got.length && expected.every((e, n) => e === got[n])) return
  let at = expected.findIndex((e, n) => n >= got.length || e !== got[n])
  if (at < 0) at = expected.length
  throw new CheckFailed(`${what}: expected ${expected.length} values, read ${got.length}; first difference at ${at}: ` +
    `expected ${JSON.stringify(expected.slice(at, at + 3))}, read ${JSON.stringify(got.slice(at, at + 3))}`)
}

// The error and the errors it wraps (kafkajs wraps a broker's error in retry errors).
function* chain(e) {
  for (let depth = 0; e && depth < 8; depth++, e = e.cause || e.originalError) yield e
}
const errorTypes = e => [...chain(e)].map(x => x.type || x.name)

// --- the client ----------------------------------------------------------------------------

class TxnProducer {
  constructor(kafka, txnId, timeoutMs) {
    this.txnId = txnId
    this.producer = kafka.producer({
      transactionalId: txnId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: timeoutMs === undefined ? 60000 : timeoutMs,
      retry: { retries: TXN_RETRIES },
    })
    this.txn = null
    this.pending = []
  }

  async init() {
    await within(PHASE_DEADLINE_MS, this.producer.connect(), `connecting producer ${this.txnId}`)
    // The first transaction() sends InitProducerId for the transactional id; its transaction is
    // only begun on the client, and is the one begin() hands out first.
    this.txn = await within(PHASE_DEADLINE_MS, this.producer.transaction(), `InitProducerId of ${this.txnId}`)
    return this
  }

  async begin() {
    if (this.txn === null) this.txn = await within(PHASE_DEADLINE_MS, this.producer.transaction(), 'beginning a transaction')
  }

  send(topic, partition, value) {
    check(this.txn !== null, 'send outside a transaction')
    this.pending.push({ topic, partition, value })
  }

  async flush() {
    const pending = this.pending
    this.pending = []
    if (pending.length === 0) return
    const byTopic = new Map()
    for (const { topic, partition, value } of pending) {
      if (!byTopic.has(topic)) byTopic.set(topic, [])
      byTopic.get(topic).push({ partition, value })
    }
    const res = await within(PHASE_DEADLINE_MS,
      this.txn.sendBatch({ acks: -1, timeout: 30000, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }),
      'sending the transaction\'s records')
    for (const r of res) check(r.errorCode === 0, `transactional produce to ${r.topicName}/${r.partition}: error code ${r.errorCode}`)
  }

  async sendOffsets(groupId, offsets) {
    await this.flush()
    const topics = [...new Set(offsets.map(o => o.topic))].map(topic => ({
      topic,
      partitions: offsets.filter(o => o.topic === topic).map(o => ({ partition: o.partition, offset: String(o.offset) })),
    }))
    await within(PHASE_DEADLINE_MS, this.txn.sendOffsets({ consumerGroupId: groupId, topics }), 'sendOffsets')
  }

  async end(commit) {
    try {
      await this.flush()
      await within(PHASE_DEADLINE_MS, commit ? this.txn.commit() : this.txn.abort(), commit ? 'commit' : 'abort')
    } finally {
      this.txn = null
      this.pending = []
    }
  }

  commit() { return this.end(true) }
  abort() { return this.end(false) }

  async close() {
    await within(PHASE_DEADLINE_MS, this.producer.disconnect(), 'disconnecting a producer')
  }
}

class Adapter {
  constructor(bootstrap) {
    this.kafka = new Kafka({
      clientId: 'weir-compat-kafkajs-txn',
      brokers: [bootstrap],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 5000,
      requestTimeout: 30000,
      retry: { retries: 5 },
    })
    this.admin = null
    this.plain = null
    this.readers = 0
  }

  async getAdmin() {
    if (!this.admin) {
      this.admin = this.kafka.admin()
      await this.admin.connect()
    }
    return this.admin
  }

  async close() {
    if (this.plain) await this.plain.disconnect()
    if (this.admin) await this.admin.disconnect()
  }

  async createTopic(topic, partitions) {
    const admin = await this.getAdmin()
    const created = await within(PHASE_DEADLINE_MS,
      admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 30000 }),
      `creating ${topic}`)
    check(created === true, `CreateTopics reported ${topic} as already existing`)
  }

  txnProducer(txnId, timeoutMs) {
    return new TxnProducer(this.kafka, txnId, timeoutMs).init()
  }

  // One non-transactional record, acknowledged (acks=all) before this returns.
  async plainSend(topic, partition, value) {
    if (!this.plain) {
      this.plain = this.kafka.producer({ allowAutoTopicCreation: false })
      await this.plain.connect()
    }
    const res = await within(PHASE_DEADLINE_MS, this.plain.send({ topic, acks: -1, messages: [{ partition, value }] }), `plain produce to ${topic}`)
    check(res.length === 1 && res[0].errorCode === 0, `plain produce to ${topic}: ${JSON.stringify(res)}`)
  }

  async committed(groupId, topic, partition) {
    const admin = await this.getAdmin()
    const res = await within(PHASE_DEADLINE_MS, admin.fetchOffsets({ groupId, topics: [topic] }), `committed offsets of ${groupId}`)
    const p = res[0].partitions.find(x => x.partition === partition)
    return p ? Number(p.offset) : null
  }

  // Values of topic/partition read from offset 0 by a fresh group with the isolation level:
  // until `until` is read (within `ms`), or, with `until` null, whatever comes in the `ms`
  // after the reader's first fetch.
  async read(topic, partition, isolation, until, ms) {
    check(isolation === 'read_committed' || isolation === 'read_uncommitted', `isolation ${isolation}`)
    const consumer = this.kafka.consumer({
      groupId: `weir-compat-kafkajs-txn-reader-${process.pid}-${++this.readers}`,
      readUncommitted: isolation === 'read_uncommitted',
      maxWaitTimeInMs: 300,
      retry: { retries: 5 },
    })
    const got = []
    let finish, crash, fetched
    const done = new Promise((resolve, reject) => { finish = resolve; crash = reject })
    const firstFetch = new Promise(resolve => { fetched = resolve })
    consumer.on(consumer.events.CRASH, ({ payload }) => crash(payload.error))
    consumer.on(consumer.events.FETCH, () => fetched())
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition: p, message }) => {
          if (p !== partition) return
          const v = message.value === null ? null : message.value.toString()
          got.push(v)
          if (until !== null && v === until) finish()
        },
      })
      const what = `${isolation} ${topic}/${partition}`
      const progress = () => `got ${got.length} records, last ${JSON.stringify(got.slice(-3))}`
      if (until !== null) {
        await within(ms, done, `${what}: reading up to ${JSON.stringify(until)}`, progress)
      } else {
        await within(PHASE_DEADLINE_MS, Promise.race([firstFetch, done]), `${what}: a first fetch`, progress)
        await Promise.race([sleep(ms), done])
      }
    } finally {
      await consumer.disconnect()
    }
    return got
  }

  readUntil(topic, partition, isolation, until, ms = PHASE_DEADLINE_MS) {
    return this.read(topic, partition, isolation, until, ms)
  }

  readFor(topic, partition, isolation, ms) {
    return this.read(topic, partition, isolation, null, ms)
  }

  // kafkajs 2.2.4 has no PRODUCER_FENCED (90): a fenced producer sees INVALID_PRODUCER_EPOCH.
  isFenced(e) {
    return errorTypes(e).some(t => t === 'INVALID_PRODUCER_EPOCH')
  }

  isAborted(e) {
    return errorTypes(e).some(t => t === 'INVALID_TXN_STATE' || t === 'INVALID_PRODUCER_ID_MAPPING')
  }
}

// --- the phases ----------------------------------------------------------------------------

async function readBoth(a, t, partition, until) {
  const rc = await a.readUntil(t, partition, 'read_committed', until)
  const ru = await a.readUntil(t, partition, 'read_uncommitted', until)
  return [rc, ru]
}

// Runs `fn`, which must fail; returns its error (a CheckFailed with `what` if it succeeds).
async function mustFail(fn, what) {
  try {
    await fn()
  } catch (e) {
    if (e instanceof CheckFailed) throw e
    return e
  }
  throw new CheckFailed(what)
}

const describe = e => `${e && e.name}: ${e && e.message} [${errorTypes(e).join(' <- ')}]`

const PHASES = {
  async 'txn-commit'(a, args) {
    const t = topicOf(args, 'commit')
    await a.createTopic(t, 2)
    const p = await a.txnProducer(`${args.prefix}-commit`)
    const vals = values('c', COMMIT_RECORDS)
    await p.begin()
    vals.forEach((v, i) => p.send(t, i % 2, v))
    await p.commit()
    await p.close()
    for (const part of [0, 1]) {
      const want = vals.filter((_, i) => i % 2 === part)
      const [rc, ru] = await readBoth(a, t, part, want[want.length - 1])
      same(`read_committed of partition ${part}`, want, rc)
      same(`read_uncommitted of partition ${part}`, want, ru)
    }
  },

  async 'txn-abort'(a, args) {
    const t = topicOf(args, 'abort')
    await a.createTopic(t, 1)
    const p = await a.txnProducer(`${args.prefix}-abort`)
    const aborted = values('a', ABORT_RECORDS)
    await p.begin()
    for (const v of aborted) p.send(t, 0, v)
    await p.flush()
    await p.abort()
    await p.begin()
    p.send(t, 0, 'sentinel')
    await p.commit()
    await p.close()
    const [rc, ru] = await readBoth(a, t, 0, 'sentinel')
    same('read_committed after an abort', ['sentinel'], rc)
    same('read_uncommitted after an abort', [...aborted, 'sentinel'], ru)
  },

  async 'txn-open'(a, args) {
    const t = topicOf(args, 'open')
    await a.createTopic(t, 1)
    const p = await a.txnProducer(`${args.prefix}-open`)
    const mine = values('o', 10)
    await p.begin()
    for (const v of mine) p.send(t, 0, v)
    await p.flush()
    await a.plainSend(t, 0, 'after')
    const ru = await a.readUntil(t, 0, 'read_uncommitted', 'after')
    same('read_uncommitted with an open transaction', [...mine, 'after'], ru)
    const held = await a.readFor(t, 0, 'read_committed', QUIET_MS)
    same('read_committed with an open transaction (held at its first offset)', [], held)
    await p.commit()
    await p.close()
    const rc = await a.readUntil(t, 0, 'read_committed', 'after')
    same('read_committed once it commits', [...mine, 'after'], rc)
  },

  async 'txn-restart'(a, args) {
    const c = values('c', COMMIT_RECORDS)
    for (const part of [0, 1]) {
      const want = c.filter((_, i) => i % 2 === part)
      const rc = await a.readUntil(topicOf(args, 'commit'), part, 'read_committed', want[want.length - 1])
      same(`read_committed after a restart, partition ${part}`, want, rc)
    }
    const [rc, ru] = await readBoth(a, topicOf(args, 'abort'), 0, 'sentinel')
    same('read_committed of the aborted topic after a restart', ['sentinel'], rc)
    same('read_uncommitted of the aborted topic after a restart', [...values('a', ABORT_RECORDS), 'sentinel'], ru)
  },

  async 'txn-ctp'(a, args) {
    const src = topicOf(args, 'in')
    const dst = topicOf(args, 'out')
    await a.createTopic(src, 1)
    await a.createTopic(dst, 1)
    const inputs = values('in', INPUT_RECORDS)
    for (const v of inputs) await a.plainSend(src, 0, v)
    const group = `${args.prefix}-ctp`
    const p = await a.txnProducer(`${args.prefix}-ctp`)
    const member = a.kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 300, retry: { retries: 5 } })
    let done = 0 // inputs copied in committed transactions; the next input's offset
    let abortedAt = null
    let aborted = []
    let finish, crash
    const finished = new Promise((resolve, reject) => { finish = resolve; crash = reject })
    member.on(member.events.CRASH, ({ payload }) => crash(payload.error))
    await member.connect()
    try {
      await member.subscribe({ topics: [src], fromBeginning: true })
      await member.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, isStale }) => {
          try {
            // Records before `done` were fetched before a seek took effect.
            const fresh = batch.messages.filter(m => Number(m.offset) >= done)
            for (let at = 0; at < fresh.length && done < INPUT_RECORDS; at += CTP_BATCH) {
              if (isStale()) return
              const chunk = fresh.slice(at, at + CTP_BATCH)
              check(Number(chunk[0].offset) === done, `input offset ${chunk[0].offset} read where ${done} was next`)
              await p.begin()
              for (const m of chunk) p.send(dst, 0, 'copy-' + m.value.toString())
              const last = Number(chunk[chunk.length - 1].offset)
              await p.sendOffsets(group, [{ topic: src, partition: 0, offset: last + 1 }])
              if (abortedAt === null && done > 0) {
                // Abort this one: its output must never be seen, and its input is read again.
                await p.flush()
                await p.abort()
                abortedAt = done
                aborted = chunk.map(m => 'copy-' + m.value.toString())
                member.seek({ topic: src, partition: 0, offset: String(done) })
                return
              }
              await p.commit()
              done += chunk.length
            }
            if (done >= INPUT_RECORDS) finish()
          } catch (e) {
            crash(e)
          }
        },
      })
      await within(PHASE_DEADLINE_MS, finished, 'consume-transform-produce', () => `${done} of ${INPUT_RECORDS} copied`)
    } finally {
      await member.disconnect()
    }
    await p.close()
    check(abortedAt !== null, 'no transaction was aborted (inputs came in one batch?)')
    const committed = await a.committed(group, src, 0)
    check(committed === INPUT_RECORDS, `group's committed offset ${committed}, expected ${INPUT_RECORDS}`)
    const want = inputs.map(v => 'copy-' + v)
    const ru = await a.readUntil(dst, 0, 'read_uncommitted', want[want.length - 1])
    same('the copy for a read_uncommitted reader (the aborted round included)',
      [...want.slice(0, abortedAt), ...aborted, ...want.slice(abortedAt)], ru)
    const rc = await a.readUntil(dst, 0, 'read_committed', want[want.length - 1])
    same('the copy for a read_committed reader', want, rc)
  },

  async 'txn-fence'(a, args) {
    const t = topicOf(args, 'fence')
    await a.createTopic(t, 1)
    const txnId = `${args.prefix}-fence`
    const old = await a.txnProducer(txnId)
    await old.begin()
    old.send(t, 0, 'zombie')
    await old.flush()
    const fresh = await a.txnProducer(txnId) // InitProducerId: aborts the zombie's transaction
    await fresh.begin()
    fresh.send(t, 0, 'fresh')
    await fresh.commit()
    await fresh.close()
    const e = await mustFail(async () => {
      old.send(t, 0, 'zombie-2')
      await old.commit()
    }, "the fenced producer's commit succeeded")
    check(a.isFenced(e), `the old producer failed with ${describe(e)}, not as fenced`)
    await old.close()
    const rc = await a.readUntil(t, 0, 'read_committed', 'fresh')
    same('read_committed after fencing', ['fresh'], rc)
  },

  async 'txn-timeout'(a, args) {
    const t = topicOf(args, 'timeout')
    await a.createTopic(t, 1)
    const p = await a.txnProducer(`${args.prefix}-timeout`, TIMEOUT_MS)
    await p.begin()
    p.send(t, 0, 'forgotten')
    await p.flush()
    await a.plainSend(t, 0, 'later')
    // The broker aborts the transaction after its timeout; read_committed readers then see
    // what follows it.
    const rc = await a.readUntil(t, 0, 'read_committed', 'later', TIMEOUT_MS + 30000)
    same('read_committed after the timeout abort', ['later'], rc)
    const e = await mustFail(() => p.commit(), 'a commit after the timeout abort succeeded')
    check(a.isFenced(e) || a.isAborted(e), `commit after the timeout failed with ${describe(e)}, not as fenced/aborted`)
    await p.close()
  },
}

if (require.main === module) {
  main(CLIENT, PHASES, bootstrap => new Adapter(bootstrap))
} else {
  // For a debugging harness: nothing runs.
  module.exports = { Adapter, PHASES, same }
}
