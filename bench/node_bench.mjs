// Produce and consume N × 100-byte records from Node with klog and with
// kafkajs (and @confluentinc/kafka-javascript when it is installed) against
// one release klog-server started here on a free port; prints a Markdown table.
//
//   bindings/node/scripts/setup.sh            # release addon + kafkajs (devDependency)
//   cargo build --release -p klog-server
//   node bench/node_bench.mjs [--records 1000000] [--size 100] [--only klog]
//
// $KLOG_SERVER_BIN overrides target/release/klog-server. One run, no warm-up.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { startServer } from '../bindings/node/test/helpers.mjs';

const require = createRequire(new URL('../bindings/node/package.json', import.meta.url));
const klog = require('./lib/index.js');
const kafkajs = require('kafkajs');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const N = arg('records', 1_000_000);
const SIZE = arg('size', 100);
const CHUNK = 10_000;
const IN_FLIGHT = 8;
const PARTITIONS = 4;
/** Fetch size per partition for every client (Kafka's default 1 MiB starves a fast consumer). */
const FETCH_BYTES = 8 << 20;
const payload = randomBytes(SIZE);

/** Runs `send(from, to)` over [0, N) in CHUNK-sized pieces, IN_FLIGHT at a time. */
async function chunked(send) {
  let next = 0;
  const lane = async () => {
    while (next < N) {
      const from = next;
      next = Math.min(N, next + CHUNK);
      await send(from, next);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

async function timed(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const clients = {
  async klog(bootstrap, topic) {
    const producer = await klog.Producer.connect({ bootstrapServers: bootstrap, batchSize: 1 << 20, lingerMs: 5 });
    const produce = await timed(() =>
      chunked((from, to) => {
        const records = new Array(to - from);
        for (let i = 0; i < records.length; i++) records[i] = { topic, value: payload };
        return producer.sendBatch(records);
      }),
    );
    await producer.close();
    const consumer = await klog.Consumer.connect({
      bootstrapServers: bootstrap,
      groupId: `bench-${topic}`,
      autoOffsetReset: 'earliest',
      maxPollRecords: 10_000,
      maxPartitionFetchBytes: FETCH_BYTES,
    });
    await consumer.subscribe(topic);
    let bytes = 0;
    let count = 0;
    const consume = await timed(async () => {
      for await (const batch of consumer.batches()) {
        for (const r of batch) bytes += r.value.length;
        count += batch.length;
        if (count >= N) break;
      }
    });
    await consumer.close();
    return { produce, consume, count, bytes };
  },

  async kafkajs(bootstrap, topic) {
    const kafka = new kafkajs.Kafka({ brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    const produce = await timed(() =>
      chunked((from, to) => {
        const messages = new Array(to - from);
        for (let i = 0; i < messages.length; i++) messages[i] = { value: payload };
        return producer.send({ topic, acks: -1, messages });
      }),
    );
    await producer.disconnect();
    const consumer = kafka.consumer({
      groupId: `bench-${topic}`,
      maxBytesPerPartition: FETCH_BYTES,
      maxBytes: 8 * FETCH_BYTES,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let bytes = 0;
    let count = 0;
    const consume = await timed(
      () =>
        new Promise((resolve, reject) => {
          consumer
            .run({
              eachBatchAutoResolve: true,
              eachBatch: async ({ batch }) => {
                for (const m of batch.messages) bytes += m.value.length;
                count += batch.messages.length;
                if (count >= N) resolve();
              },
            })
            .catch(reject);
        }),
    );
    await consumer.disconnect();
    return { produce, consume, count, bytes };
  },
};

function optional(name) {
  try {
    return require(name);
  } catch {
    return null;
  }
}

const confluent = optional('@confluentinc/kafka-javascript');
if (confluent) {
  const { Kafka } = confluent.KafkaJS;
  clients['@confluentinc/kafka-javascript'] = async (bootstrap, topic) => {
    const kafka = new Kafka({ kafkaJS: { brokers: [bootstrap], logLevel: 0 } });
    const producer = kafka.producer({ 'linger.ms': 5, 'batch.size': 1 << 20 });
    await producer.connect();
    const produce = await timed(() =>
      chunked((from, to) => {
        const messages = new Array(to - from);
        for (let i = 0; i < messages.length; i++) messages[i] = { value: payload };
        return producer.send({ topic, messages });
      }),
    );
    await producer.disconnect();
    const consumer = kafka.consumer({
      kafkaJS: { groupId: `bench-${topic}`, fromBeginning: true },
      'max.partition.fetch.bytes': FETCH_BYTES,
    });
    await consumer.connect();
    await consumer.subscribe({ topic });
    let bytes = 0;
    let count = 0;
    const consume = await timed(
      () =>
        new Promise((resolve, reject) => {
          consumer
            .run({
              eachBatch: async ({ batch }) => {
                for (const m of batch.messages) bytes += m.value.length;
                count += batch.messages.length;
                if (count >= N) resolve();
              },
            })
            .catch(reject);
        }),
    );
    await consumer.disconnect();
    return { produce, consume, count, bytes };
  };
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
for (const name of Object.keys(clients)) if (only && name !== only && name !== 'kafkajs') delete clients[name];

const server = await startServer();
const results = {};
try {
  const admin = await klog.Admin.connect({ bootstrapServers: server.bootstrap });
  for (const [name, run] of Object.entries(clients)) {
    const topic = `bench-${name.replace(/\W/g, '')}-${Date.now()}`;
    await admin.createTopic(topic, PARTITIONS);
    const r = await run(server.bootstrap, topic);
    if (r.count < N || r.bytes < N * SIZE) throw new Error(`${name} consumed ${r.count} records, ${r.bytes} bytes`);
    results[name] = r;
    console.error(`${name}: produce ${r.produce.toFixed(2)} s, consume ${r.consume.toFixed(2)} s`);
  }
  await admin.close();
} finally {
  await server.stop();
}

const rate = (s) => N / s;
const mb = (s) => (N * SIZE) / s / 1e6;
const fmt = (x) => Math.round(x).toLocaleString('en-US');
const base = results.kafkajs;
console.log(`${N.toLocaleString('en-US')} records × ${SIZE} B, ${PARTITIONS} partitions, one klog-server (release), node ${process.version}\n`);
console.log('| client | produce rec/s | produce MB/s | consume rec/s | consume MB/s | produce × kafkajs | consume × kafkajs |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, r] of Object.entries(results)) {
  const px = (base.produce / r.produce).toFixed(2);
  const cx = (base.consume / r.consume).toFixed(2);
  console.log(`| ${name} | ${fmt(rate(r.produce))} | ${mb(r.produce).toFixed(1)} | ${fmt(rate(r.consume))} | ${mb(r.consume).toFixed(1)} | ${px} | ${cx} |`);
}
if (!confluent) console.log('\n@confluentinc/kafka-javascript: not installed (see bindings/node/README.md).');
