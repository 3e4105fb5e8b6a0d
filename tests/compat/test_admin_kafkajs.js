// kafkajs's admin client against weir (issue #13): the phases of test_admin.py, with the same
// names, counts and checks, written against kafkajs 2.2.4's `admin()`.
//
//   node test_admin_kafkajs.js PHASE --bootstrap 127.0.0.1:PORT --prefix P --state FILE
//
// kafkajs specifics: `describeConfigs` speaks DescribeConfigs v2 and `alterConfigs` AlterConfigs
// v1 (the whole set of overrides, not incremental); `deleteTopicRecords` goes to the leader;
// `fetchOffsets` is OffsetFetch for one group.
'use strict'

const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs')
const { check, main } = require('./compat_common.js')

const CLIENT = 'kafkajs-admin'
const RECORDS = 10
const DELETE_BEFORE = 4
const KAFKA4_TOPIC_CONFIGS = 33
// Kafka's ConfigSource ids.
const DYNAMIC_BROKER = 2
const STATIC_BROKER = 4
// A log.retention.ms that changes nothing another step could notice (7 days + 1 ms).
const RETENTION = '604800001'

async function waitFor(what, fn, ms = 30000) {
  const until = Date.now() + ms
  let last
  for (;;) {
    last = await fn()
    if (last === true) return
    check(Date.now() < until, `${what}: last ${JSON.stringify(last)}`)
    await new Promise(r => setTimeout(r, 200))
  }
}

class Adapter {
  constructor(bootstrap) {
    this.kafka = new Kafka({ clientId: CLIENT, brokers: [bootstrap], logLevel: logLevel.NOTHING })
    this.admin = this.kafka.admin()
    this.connected = this.admin.connect()
  }

  async partitions(name) {
    const md = await this.admin.fetchTopicMetadata({ topics: [name] }).catch(e => ({ error: String(e) }))
    if (md.error) return md.error
    return md.topics[0].partitions.length
  }

  async topicConfigs(name) {
    const r = await this.admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name }],
      includeSynonyms: false,
    })
    const out = {}
    for (const e of r.resources[0].configEntries) out[e.configName] = e.configValue
    return out
  }

  async brokerConfigs() {
    const r = await this.admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.BROKER, name: '0' }],
      includeSynonyms: false,
    })
    const out = {}
    for (const e of r.resources[0].configEntries) out[e.configName] = e
    return out
  }

  async alterBroker(configEntries) {
    await this.admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: '0', configEntries }],
    })
  }

  async produce(name, n) {
    const p = this.kafka.producer()
    await p.connect()
    const messages = []
    for (let i = 0; i < n; i++) messages.push({ value: `v${i}`, partition: 0 })
    await p.send({ topic: name, acks: -1, messages })
    await p.disconnect()
  }

  async close() {
    await this.admin.disconnect()
  }
}

const PHASES = {
  async 'admin-topics'(a, args) {
    await a.connected
    const name = `${args.prefix}-admin-topic`
    const created = await a.admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic: name,
        numPartitions: 2,
        replicationFactor: 1,
        configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'compression.type', value: 'zstd' }],
      }],
    })
    check(created === true, `createTopics answered ${created}`)
    await waitFor('2 partitions', async () => (await a.partitions(name)) === 2 || a.partitions(name))
    let cfg = await a.topicConfigs(name)
    check(cfg['retention.ms'] === '3600000', `retention.ms: ${cfg['retention.ms']}`)
    check(cfg['compression.type'] === 'zstd', `compression.type: ${cfg['compression.type']}`)
    check(Object.keys(cfg).length === KAFKA4_TOPIC_CONFIGS,
      `${Object.keys(cfg).length} topic configs, Kafka 4 lists ${KAFKA4_TOPIC_CONFIGS}`)
    await a.admin.alterConfigs({
      validateOnly: false,
      resources: [{
        type: ConfigResourceTypes.TOPIC,
        name,
        configEntries: [{ name: 'retention.ms', value: '7200000' }, { name: 'compression.type', value: 'zstd' }],
      }],
    })
    cfg = await a.topicConfigs(name)
    check(cfg['retention.ms'] === '7200000', `after alter: ${cfg['retention.ms']}`)
    check(cfg['compression.type'] === 'zstd', 'alter kept compression.type')
    await a.admin.createPartitions({ topicPartitions: [{ topic: name, count: 3 }] })
    await waitFor('3 partitions', async () => (await a.partitions(name)) === 3 || a.partitions(name))
    await a.produce(name, RECORDS)
    await a.admin.deleteTopicRecords({ topic: name, partitions: [{ partition: 0, offset: String(DELETE_BEFORE) }] })
    const offsets = await a.admin.fetchTopicOffsets(name)
    const p0 = offsets.find(o => o.partition === 0)
    check(p0.low === String(DELETE_BEFORE), `log start ${p0.low} after deleting before ${DELETE_BEFORE}`)
    check(p0.high === String(RECORDS), `high watermark ${p0.high}`)
    await a.admin.deleteTopics({ topics: [name] })
    await waitFor('topic deleted', async () => !(await a.admin.listTopics()).includes(name) || 'still listed')
    console.log(`ok: create (configs), describe (${KAFKA4_TOPIC_CONFIGS} configs), alter, grow, delete records, delete`)
  },

  async 'admin-groups'(a, args) {
    await a.connected
    const name = `${args.prefix}-admin-gtopic`
    const group = `${args.prefix}-admin-group`
    await a.admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: 1, replicationFactor: 1 }] })
    await a.produce(name, RECORDS)
    await a.admin.setOffsets({ groupId: group, topic: name, partitions: [{ partition: 0, offset: '7' }] })
    await waitFor('group listed', async () => {
      const { groups } = await a.admin.listGroups()
      return groups.some(g => g.groupId === group) || groups.map(g => g.groupId)
    })
    const { groups } = await a.admin.describeGroups([group])
    check(groups[0].state === 'Empty' && groups[0].members.length === 0,
      `group ${group}: ${groups[0].state} with ${groups[0].members.length} members`)
    const fetched = await a.admin.fetchOffsets({ groupId: group, topics: [name] })
    const at = fetched[0].partitions.find(p => p.partition === 0).offset
    check(at === '7', `committed offset ${at}`)
    await a.admin.deleteGroups([group])
    await waitFor('group deleted', async () => {
      const { groups } = await a.admin.listGroups()
      return !groups.some(g => g.groupId === group) || 'still listed'
    })
    console.log('ok: list, describe, offsets, delete')
  },

  async 'admin-broker-configs'(a, args) {
    await a.connected
    let cfg = await a.brokerConfigs()
    for (const [key, readOnly] of [['log.retention.ms', false], ['num.partitions', true],
      ['log.segment.bytes', false], ['listeners', true]]) {
      check(key in cfg, `broker config ${key} not listed`)
      check(cfg[key].readOnly === readOnly, `${key} readOnly ${cfg[key].readOnly}`)
    }
    check(cfg['log.dirs'].configSource === STATIC_BROKER, `log.dirs source ${cfg['log.dirs'].configSource}`)
    check(cfg['ssl.key.password'].isSensitive && cfg['ssl.key.password'].configValue === null,
      `ssl.key.password: ${JSON.stringify(cfg['ssl.key.password'])}`)
    // AlterConfigs (kafkajs has no incremental one): this broker's level becomes the set given.
    await a.alterBroker([{ name: 'log.retention.ms', value: RETENTION }])
    cfg = await a.brokerConfigs()
    check(cfg['log.retention.ms'].configValue === RETENTION &&
      cfg['log.retention.ms'].configSource === DYNAMIC_BROKER,
    `after the change: ${JSON.stringify(cfg['log.retention.ms'])}`)
    const name = `${args.prefix}-admin-bctopic`
    await a.admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: 1, replicationFactor: 1 }] })
    const tcfg = await a.topicConfigs(name)
    check(tcfg['retention.ms'] === RETENTION, `topic retention.ms ${tcfg['retention.ms']}`)
    const refused = await a.alterBroker([{ name: 'num.partitions', value: '3' }]).then(() => null, e => e)
    check(refused !== null, 'num.partitions changed at run time')
    await a.alterBroker([])
    cfg = await a.brokerConfigs()
    check(cfg['log.retention.ms'].configSource !== DYNAMIC_BROKER, `still dynamic: ${JSON.stringify(cfg['log.retention.ms'])}`)
    await a.admin.deleteTopics({ topics: [name] })
    console.log(`ok: describe (${Object.keys(cfg).length} broker configs), alter this broker's level, read-only refused, undone`)
  },
}

main(CLIENT, PHASES, bootstrap => new Adapter(bootstrap))
