// The scenario shared by the JavaScript clients of the compat suite (kafkajs, @platformatic/kafka,
// @confluentinc/kafka-javascript): the same phases as the Python scenarios (compat_common.py),
// run through a small per-client adapter.
//
//   node test_<client>.js PHASE --bootstrap 127.0.0.1:PORT --prefix TOPIC_PREFIX --state FILE
//
// Exit status 0 when the phase's checks pass, 1 when a check fails, 2 on an unexpected error.
'use strict'

const fs = require('fs')

const MAIN_RECORDS_COUNT = 1000
const MAIN_PARTITIONS_COUNT = 3
const CODEC_RECORDS_COUNT = 200
const IDEMPOTENT_RECORDS_COUNT = 300
const IDEMPOTENT_PARTITIONS_COUNT = 3
const PHASE_DEADLINE_MS = 60000 // one wait (delivery, reading to the end, metadata)
const BASE_TS_AGE_MS = 3600000 // timestamps start an hour in the past: inside any retention
const REPLAY_TIME_INDEX = 500

// --- checks, deadlines, records ------------------------------------------------------------

class CheckFailed extends Error {}

function check(cond, msg) {
  if (!cond) throw new CheckFailed(typeof msg === 'function' ? msg() : msg)
}

function withDeadline(promise, what, progress = () => '') {
  let timer
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const p = progress()
      reject(new CheckFailed(`${what} did not finish within ${PHASE_DEADLINE_MS / 1000}s${p ? ': ' + p : ''}`))
    }, PHASE_DEADLINE_MS)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

const pad4 = i => String(i).padStart(4, '0')

function makeRecord(CLIENT, i, baseTs, compressible = false) {
  const binary = Buffer.alloc(i % 97)
  for (let j = 0; j < binary.length; j++) binary[j] = (i * 7 + j * 13) % 256
  const parts = [Buffer.from(`${CLIENT} value ${pad4(i)} `), binary, Buffer.from(' ' + 'payload '.repeat(i % 7))]
  if (compressible) parts.push(Buffer.from('compressible text for the codec round '.repeat(16)))
  return {
    key: Buffer.from(`${CLIENT}-key-${pad4(i)}`),
    value: Buffer.concat(parts),
    headers: {
      'h-index': Buffer.from(String(i)),
      'h-client': Buffer.from(CLIENT),
      'h-bin': Buffer.from([i % 256, 0, 255, (i * 31) % 256]),
    },
    timestamp: baseTs + i,
  }
}

function show(r) {
  const v = r.value.length > 40 ? r.value.subarray(0, 40).toString('latin1') + '...' : r.value.toString('latin1')
  const h = Object.entries(r.headers).map(([k, b]) => `${k}=${Buffer.isBuffer(b) ? b.toString('hex') : JSON.stringify(b)}`)
  return `{key=${r.key && r.key.toString()}, value=${JSON.stringify(v)}, headers=[${h.join(',')}], ts=${r.timestamp}}`
}

function sameRecord(a, b) {
  const bufEq = (x, y) => (x === null || y === null ? x === y : Buffer.isBuffer(x) && Buffer.isBuffer(y) && x.equals(y))
  if (!bufEq(a.key, b.key) || !bufEq(a.value, b.value) || a.timestamp !== b.timestamp) return false
  const ka = Object.keys(a.headers)
  const kb = Object.keys(b.headers)
  if (ka.length !== kb.length) return false
  return ka.every((k, n) => kb[n] === k && bufEq(a.headers[k], b.headers[k]))
}

function compare(what, expected, got) {
  const problems = []
  if (expected.length !== got.length) problems.push(`expected ${expected.length} records, read ${got.length}`)
  for (let n = 0; n < Math.min(expected.length, got.length) && problems.length < 6; n++) {
    const [eo, er] = expected[n]
    const [go, gr] = got[n]
    if (eo !== go || !sameRecord(er, gr)) problems.push(`offset ${eo}: expected ${show(er)}, read offset ${go} ${show(gr)}`)
  }
  check(problems.length === 0, () => `${what}: ${problems.join('; ')}`)
}

function checkDelivered(delivered, count, partitions) {
  check(delivered.length === count, `${delivered.length} of ${count} records acknowledged`)
  const seen = new Set()
  for (const [i, p, off] of delivered) {
    check(p >= 0 && p < partitions, `record ${i} delivered to partition ${p}`)
    check(!seen.has(`${p}/${off}`), `two records acknowledged at ${p}/${off}`)
    seen.add(`${p}/${off}`)
  }
}

// {partition: [[offset, record]]} sorted by offset; a fresh topic's offsets must be 0..n-1.
function expectedByPartition(records, delivered, partitions) {
  const byP = {}
  for (let p = 0; p < partitions; p++) byP[p] = []
  for (const [i, p, off] of delivered) byP[p].push([off, records[i]])
  for (const [p, list] of Object.entries(byP)) {
    list.sort((x, y) => x[0] - y[0])
    list.forEach(([off], n) => check(off === n, () => `partition ${p}: delivered offsets are not 0..${list.length - 1} (offset ${off} at position ${n})`))
  }
  return byP
}

// --- the phases ----------------------------------------------------------------------------

const mainTopic = args => `${args.prefix}-main`

async function readAndCompare(a, topic, exp, start) {
  const ends = await a.endOffsets(topic)
  for (const p of Object.keys(exp)) {
    check(ends[p] === exp[p].length, `${topic}/${p}: high watermark ${ends[p]}, expected ${exp[p].length}`)
  }
  const got = await a.read(topic, start, ends)
  for (const p of Object.keys(exp)) compare(`${topic}/${p} from offset ${start[p]}`, exp[p].slice(start[p]), got[p] || [])
}

function loadMain(CLIENT, args) {
  check(fs.existsSync(args.state), `no state from the produce phase (${args.state}); did produce fail?`)
  const state = JSON.parse(fs.readFileSync(args.state, 'utf8'))
  const records = Array.from({ length: MAIN_RECORDS_COUNT }, (_, i) => makeRecord(CLIENT, i, state.base_ts))
  return { baseTs: state.base_ts, exp: expectedByPartition(records, state.delivered, MAIN_PARTITIONS_COUNT) }
}

const fromZero = exp => Object.fromEntries(Object.keys(exp).map(p => [p, 0]))

// The phases for one client: `codecs` names the codecs it has (gzip, snappy, lz4, zstd).
function phases(CLIENT, codecs) {
  const PHASES = {
    async create(a, args) {
      await a.createTopic(mainTopic(args), MAIN_PARTITIONS_COUNT)
    },

    async produce(a, args) {
      const baseTs = Math.floor((Date.now() - BASE_TS_AGE_MS) / 1000) * 1000
      const records = Array.from({ length: MAIN_RECORDS_COUNT }, (_, i) => makeRecord(CLIENT, i, baseTs))
      const delivered = await a.produce(mainTopic(args), records.map((r, i) => [i, r]), null, false)
      checkDelivered(delivered, MAIN_RECORDS_COUNT, MAIN_PARTITIONS_COUNT)
      expectedByPartition(records, delivered, MAIN_PARTITIONS_COUNT)
      fs.writeFileSync(args.state, JSON.stringify({ base_ts: baseTs, delivered }))
    },

    async consume(a, args) {
      const { exp } = loadMain(CLIENT, args)
      await readAndCompare(a, mainTopic(args), exp, fromZero(exp))
    },

    async 'replay-offset'(a, args) {
      const { exp } = loadMain(CLIENT, args)
      const start = Object.fromEntries(Object.entries(exp).map(([p, l]) => [p, Math.floor(l.length / 2)]))
      await readAndCompare(a, mainTopic(args), exp, start)
    },

    async 'replay-time'(a, args) {
      const { baseTs, exp } = loadMain(CLIENT, args)
      const topic = mainTopic(args)
      const firstAtOrAfter = (p, ts) => {
        const hit = exp[p].find(([, r]) => r.timestamp >= ts)
        return hit ? hit[0] : exp[p].length
      }
      for (const [label, ts] of [
        ['middle', baseTs + REPLAY_TIME_INDEX],
        ['before the first record', baseTs - 1000],
        ['after the last record', baseTs + MAIN_RECORDS_COUNT + 3600000],
      ]) {
        const got = await a.offsetsForTimes(topic, ts)
        const want = Object.fromEntries(Object.keys(exp).map(p => [p, firstAtOrAfter(p, ts)]))
        check(JSON.stringify(got) === JSON.stringify(want), `offsets for timestamp ${ts} (${label}): got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`)
      }
      await readAndCompare(a, topic, exp, await a.offsetsForTimes(topic, baseTs + REPLAY_TIME_INDEX))
    },

    async idempotent(a, args) {
      const topic = `${args.prefix}-idempotent`
      await a.createTopic(topic, IDEMPOTENT_PARTITIONS_COUNT)
      const baseTs = Date.now() - 60000
      const records = Array.from({ length: IDEMPOTENT_RECORDS_COUNT }, (_, i) => makeRecord(CLIENT, i, baseTs))
      const delivered = await a.produce(topic, records.map((r, i) => [i, r]), null, true)
      checkDelivered(delivered, IDEMPOTENT_RECORDS_COUNT, IDEMPOTENT_PARTITIONS_COUNT)
      const exp = expectedByPartition(records, delivered, IDEMPOTENT_PARTITIONS_COUNT)
      for (const [p, list] of Object.entries(exp)) {
        const idx = list.map(([, r]) => Number(r.headers['h-index'].toString()))
        check(idx.every((v, n) => n === 0 || idx[n - 1] < v), `partition ${p}: idempotent producer reordered records`)
      }
      await readAndCompare(a, topic, exp, fromZero(exp))
    },
  }

  for (const codec of codecs) {
    PHASES[`codec-${codec}`] = async (a, args) => {
      const topic = `${args.prefix}-${codec}`
      await a.createTopic(topic, 1)
      const baseTs = Date.now() - 60000
      const records = Array.from({ length: CODEC_RECORDS_COUNT }, (_, i) => makeRecord(CLIENT, i, baseTs, true))
      const delivered = await a.produce(topic, records.map((r, i) => [i, r]), codec, false)
      checkDelivered(delivered, CODEC_RECORDS_COUNT, 1)
      const exp = expectedByPartition(records, delivered, 1)
      await readAndCompare(a, topic, exp, fromZero(exp))
    }
  }
  return PHASES
}

// --- command line --------------------------------------------------------------------------

function parseArgs(CLIENT, PHASES, argv) {
  const usage = `usage: test_${CLIENT}.js {${Object.keys(PHASES).join(',')}} --bootstrap HOST:PORT --prefix PREFIX --state FILE`
  const args = { phase: argv[0] }
  for (let n = 1; n < argv.length; n += 2) {
    const name = argv[n].replace(/^--/, '')
    if (!['bootstrap', 'prefix', 'state'].includes(name) || argv[n + 1] === undefined) throw new Error(usage)
    args[name] = argv[n + 1]
  }
  if (!PHASES[args.phase] || !args.bootstrap || !args.prefix || !args.state) throw new Error(usage)
  return args
}

// What a read of [start, end) per partition still waits for: `got` collects [offset, record]
// pairs per partition, `want` the counts asked for (partitions with nothing to read left out).
function readTracker(start, end) {
  const want = {}
  const got = {}
  for (const p of Object.keys(start)) {
    got[p] = []
    if (end[p] > start[p]) want[p] = end[p] - start[p]
  }
  const progress = () => `read ${JSON.stringify(Object.fromEntries(Object.entries(got).map(([p, l]) => [p, l.length])))} of ${JSON.stringify(want)}`
  const isDone = () => Object.entries(want).every(([p, n]) => got[p].length >= n)
  return { want, got, progress, isDone }
}

// Prints the causes an aggregate error carries (and a Kafka response, where it has one).
function describeNested(e, depth) {
  if (!e || depth > 4) return
  const json = x => JSON.stringify(x, (k, v) => (typeof v === 'bigint' ? v.toString() : v))
  for (const inner of e.errors || (e.cause ? [e.cause] : [])) {
    const resp = inner && inner.response ? ' response ' + json(inner.response).slice(0, 2000) : ''
    console.error(`${'  '.repeat(depth)}caused by: ${inner && inner.message}${resp}`)
    describeNested(inner, depth + 1)
  }
}

// Runs the phase named on the command line with `makeAdapter(bootstrap)` (an object with
// createTopic, produce, endOffsets, offsetsForTimes, read and close), after `init()`.
async function main(CLIENT, PHASES, makeAdapter, init = async () => {}) {
  let args
  try {
    args = parseArgs(CLIENT, PHASES, process.argv.slice(2))
  } catch (e) {
    console.error(e.message)
    process.exit(2)
  }
  const started = Date.now()
  let code = 0
  let adapter = null
  try {
    await init()
    adapter = makeAdapter(args.bootstrap)
    await PHASES[args.phase](adapter, args)
  } catch (e) {
    if (e instanceof CheckFailed) {
      console.error(`FAIL ${CLIENT} ${args.phase}: ${e.message}`)
      code = 1
    } else {
      console.error(e && e.stack ? e.stack : e)
      describeNested(e, 1)
      console.error(`ERROR ${CLIENT} ${args.phase}: unexpected exception`)
      code = 2
    }
  }
  if (adapter) {
    try {
      await withDeadline(adapter.close(), 'closing the admin client')
    } catch (e) {
      console.error(e && e.stack ? e.stack : e)
    }
  }
  if (code === 0) console.log(`ok ${CLIENT} ${args.phase} (${((Date.now() - started) / 1000).toFixed(1)}s)`)
  process.exit(code)
}

module.exports = {
  CheckFailed,
  check,
  withDeadline,
  makeRecord,
  readTracker,
  phases,
  main,
  PHASE_DEADLINE_MS,
}
