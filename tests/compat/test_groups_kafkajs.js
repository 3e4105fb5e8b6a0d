#!/usr/bin/env node
// Consumer-group scenario (issue #5) for kafkajs; the same steps as test_groups_confluent.py:
//
//   node test_groups_kafkajs.js PHASE --bootstrap HOST:PORT --prefix PREFIX --state FILE
//
// groups-create  a 4-partition topic (records are produced once two members share it).
// groups-split   two consumers in one group split the partitions; 2,000 records are produced;
//                no record is processed by both, none is missed; a third joins and gets
//                partitions; it leaves and they move; offset 250 of each partition is committed.
// groups-resume  (after a broker restart or kill -9) a new member reads exactly 250..499 of
//                every partition.
// groups-pubsub  a second group independently receives all 2,000 records.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const CLIENT = 'kafkajs-groups'
const PARTITIONS = 4
const PER_PARTITION = 500
const RECORDS = PARTITIONS * PER_PARTITION
const COMMIT_AT = 250
const DEADLINE_MS = 60000

class CheckFailed extends Error {}
const check = (cond, msg) => { if (!cond) throw new CheckFailed(msg) }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function until(what, cond, progress = () => '') {
  const end = Date.now() + DEADLINE_MS
  while (!cond()) {
    check(Date.now() < end, `${what}: not within ${DEADLINE_MS} ms; ${progress()}`)
    await sleep(20)
  }
}

const topicOf = args => `${args.prefix}-groups`

class Member {
  constructor(kafka, groupId, name) {
    this.name = name
    this.seen = new Set()
    this.dups = []
    this.assigned = []
    this.consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 300, maxWaitTimeInMs: 200 })
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assigned = Object.values(payload.memberAssignment).flat()
    })
  }

  async start(topic) {
    await this.consumer.connect()
    await this.consumer.subscribe({ topics: [topic], fromBeginning: true })
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        // Recorded, not thrown: kafkajs would retry the batch. (With autoCommit off, kafkajs
        // itself re-reads uncommitted partitions it keeps across a rebalance.)
        const key = `${partition}:${message.offset}`
        if (this.seen.has(key)) this.dups.push(key)
        this.seen.add(key)
      },
    })
  }
}

function splitOk(members) {
  const all = members.map(m => m.assigned)
  const union = new Set(all.flat())
  return all.every(a => a.length > 0) && union.size === PARTITIONS && all.flat().length === PARTITIONS
}

const PHASES = {
  async 'groups-create'(kafka, args) {
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: topicOf(args), numPartitions: PARTITIONS }], waitForLeaders: true })
    await admin.disconnect()
  },

  async 'groups-split'(kafka, args) {
    const topic = topicOf(args)
    const g = `${args.prefix}-g1`
    const c1 = new Member(kafka, g, 'c1')
    const c2 = new Member(kafka, g, 'c2')
    const started = Date.now()
    await Promise.all([c1.start(topic), c2.start(topic)])
    await until('two members to split the partitions', () => splitOk([c1, c2]), () => JSON.stringify([c1.assigned, c2.assigned]))
    console.log(`figure: two-member join: ${Date.now() - started} ms`)
    const producer = kafka.producer()
    await producer.connect()
    const messages = []
    for (let i = 0; i < RECORDS; i++) messages.push({ key: `k${i}`, value: `v${i}`, partition: i % PARTITIONS })
    for (let i = 0; i < RECORDS; i += 500) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) })
    await producer.disconnect()
    await until('both members to consume everything', () => c1.seen.size + c2.seen.size >= RECORDS, () => `${c1.seen.size} + ${c2.seen.size}`)
    check(c1.dups.length === 0 && c2.dups.length === 0, `read twice: ${c1.dups.slice(0, 5)} ${c2.dups.slice(0, 5)}`)
    const both = [...c1.seen].filter(k => c2.seen.has(k))
    check(both.length === 0, `processed by both: ${both.slice(0, 5)}`)
    check(new Set([...c1.seen, ...c2.seen]).size === RECORDS, 'missed records')
    const c3 = new Member(kafka, g, 'c3')
    await c3.start(topic)
    await until('a third member to get partitions', () => splitOk([c1, c2, c3]), () => JSON.stringify([c1.assigned, c2.assigned, c3.assigned]))
    const moved = c3.assigned
    await c3.consumer.disconnect()
    await until("the leaver's partitions to move", () => splitOk([c1, c2]), () => JSON.stringify([c1.assigned, c2.assigned]))
    check(moved.every(p => c1.assigned.includes(p) || c2.assigned.includes(p)), `partitions ${moved} did not move`)
    for (const m of [c1, c2]) {
      await m.consumer.commitOffsets(m.assigned.map(p => ({ topic, partition: p, offset: String(COMMIT_AT) })))
    }
    const admin = kafka.admin()
    await admin.connect()
    const fetched = await admin.fetchOffsets({ groupId: g, topics: [topic] })
    await admin.disconnect()
    const offsets = fetched[0].partitions.map(p => [p.partition, Number(p.offset)]).sort()
    check(JSON.stringify(offsets) === JSON.stringify([0, 1, 2, 3].map(p => [p, COMMIT_AT])), `committed ${JSON.stringify(offsets)}`)
    await Promise.all([c1.consumer.disconnect(), c2.consumer.disconnect()])
  },

  async 'groups-resume'(kafka, args) {
    const topic = topicOf(args)
    const m = new Member(kafka, `${args.prefix}-g1`, 'resumer')
    const want = new Set()
    for (let p = 0; p < PARTITIONS; p++) for (let o = COMMIT_AT; o < PER_PARTITION; o++) want.add(`${p}:${o}`)
    await m.start(topic)
    await until('resuming at the committed offsets', () => m.seen.size >= want.size, () => `${m.seen.size} of ${want.size}`)
    await sleep(1000)
    const extra = [...m.seen].filter(k => !want.has(k))
    check(m.dups.length === 0, `read twice: ${m.dups.slice(0, 5)}`)
    check(extra.length === 0 && m.seen.size === want.size, `resumed records differ: extra ${extra.slice(0, 5)}`)
    await m.consumer.disconnect()
  },

  async 'groups-pubsub'(kafka, args) {
    const m = new Member(kafka, `${args.prefix}-g2`, 'other-group')
    await m.start(topicOf(args))
    await until('a second group to read everything', () => m.seen.size >= RECORDS, () => `${m.seen.size}`)
    await m.consumer.disconnect()
  },
}

async function main() {
  const argv = process.argv.slice(2)
  const args = { phase: argv[0] }
  for (let n = 1; n < argv.length; n += 2) args[argv[n].replace(/^--/, '')] = argv[n + 1]
  if (!PHASES[args.phase] || !args.bootstrap || !args.prefix) {
    console.error(`usage: test_groups_kafkajs.js {${Object.keys(PHASES).join(',')}} --bootstrap HOST:PORT --prefix PREFIX --state FILE`)
    process.exit(2)
  }
  const kafka = new Kafka({ clientId: CLIENT, brokers: [args.bootstrap], logLevel: logLevel.ERROR, retry: { retries: 5 } })
  const started = Date.now()
  let code = 0
  try {
    await PHASES[args.phase](kafka, args)
  } catch (e) {
    if (e instanceof CheckFailed) {
      console.error(`FAIL ${CLIENT} ${args.phase}: ${e.message}`)
      code = 1
    } else {
      console.error(e && e.stack ? e.stack : e)
      console.error(`ERROR ${CLIENT} ${args.phase}: unexpected exception`)
      code = 2
    }
  }
  if (code === 0) console.log(`ok ${CLIENT} ${args.phase} (${((Date.now() - started) / 1000).toFixed(1)}s)`)
  process.exit(code)
}

main()
