// kafkajs against weir's secured listeners, driven by test_security.py:
//   node test_security_kafkajs.js '{"mode":"roundtrip"|"refused","addr":..,"protocol":..,
//     "mechanism":..|null,"cert":bool,"ca":..,"certFile":..,"keyFile":..,"user":..,
//     "password":..,"topic":..,"records":N}'
// Exit 0 when the mode's expectation holds.
'use strict';
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const a = JSON.parse(process.argv[2]);
  const conf = { clientId: 'weir-security', brokers: [a.addr], logLevel: logLevel.NOTHING,
    connectionTimeout: 10000, retry: { retries: a.mode === 'refused' ? 0 : 5 } };
  if (a.protocol.includes('SSL')) {
    conf.ssl = { ca: [fs.readFileSync(a.ca, 'utf8')] };
    if (a.cert) {
      conf.ssl.cert = fs.readFileSync(a.certFile, 'utf8');
      conf.ssl.key = fs.readFileSync(a.keyFile, 'utf8');
    }
  }
  if (a.mechanism) {
    conf.sasl = { mechanism: a.mechanism.toLowerCase(), username: a.user, password: a.password };
  }
  const kafka = new Kafka(conf);
  if (a.mode === 'refused') {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
    } catch (e) {
      if (/SASL|[Aa]uthentication/.test(String(e))) return;
      throw new Error('refused for another reason: ' + e);
    }
    throw new Error('listed topics without valid credentials');
  }
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < a.records; i++) messages.push({ key: 'k' + i, value: 'v' + i });
  await producer.send({ topic: a.topic, messages });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: a.topic + '-g' });
  await consumer.connect();
  await consumer.subscribe({ topic: a.topic, fromBeginning: true });
  let got = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('consumed ' + got)), 60000);
    consumer.run({ autoCommit: false, eachMessage: async ({ topic, partition, message }) => {
      got++;
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      if (got === a.records) { clearTimeout(timer); resolve(); }
    } }).catch(reject);
  });
  await consumer.disconnect();
}

main().then(() => process.exit(0), (e) => { console.error(String(e && e.stack || e)); process.exit(1); });
