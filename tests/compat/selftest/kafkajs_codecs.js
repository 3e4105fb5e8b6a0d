#!/usr/bin/env node
// Self-check of test_kafkajs.js's codec registrations, run by selftest.sh: each codec round-trips
// a buffer and writes its compressed bytes to DIR/<codec>.bin, which selftest.sh then decodes
// with the Python reference codecs (gzip, cramjam snappy, lz4.frame, zstandard).
'use strict'
const fs = require('fs')
const path = require('path')
require('../test_kafkajs.js') // registers the codecs; runs nothing when required
const { CompressionCodecs, CompressionTypes } = require('kafkajs')
const Encoder = require('kafkajs/src/protocol/encoder')

const dir = process.argv[2]
;(async () => {
  await require('@bokuweb/zstd-wasm').init()
  const data = Buffer.from('weir compat codec self-check '.repeat(300))
  for (const t of ['GZIP', 'Snappy', 'LZ4', 'ZSTD']) {
    const codec = CompressionCodecs[CompressionTypes[t]]()
    const enc = new Encoder()
    enc.writeBuffer(data)
    const compressed = await codec.compress(enc)
    const back = Buffer.from(await codec.decompress(compressed))
    if (!back.equals(data)) throw new Error(`${t}: round trip changed the data`)
    if (compressed.length >= data.length) throw new Error(`${t}: did not compress`)
    fs.writeFileSync(path.join(dir, `${t.toLowerCase()}.bin`), compressed)
  }
})().catch(e => {
  console.error(e)
  process.exit(1)
})
