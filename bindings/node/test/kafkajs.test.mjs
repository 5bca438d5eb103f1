// klog and kafkajs against the same klog-server: each reads what the other wrote.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import klog from '../lib/index.js';
import { startServer, consume, waitFor, uid } from './helpers.mjs';

const { Kafka, logLevel, Partitioners } = kafkajs;

let server;
let kafka;
before(async () => {
  server = await startServer();
  kafka = new Kafka({
    clientId: 'klog-node-test',
    brokers: [server.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
});
after(() => server?.stop());

async function createTopic(topic, numPartitions) {
  const admin = await klog.Admin.connect({ bootstrapServers: server.bootstrap });
  await admin.createTopic(topic, numPartitions);
  await admin.close();
}

test('kafkajs produces, klog consumes', { timeout: 120000 }, async () => {
  const topic = `kjs-to-klog-${uid()}`;
  await createTopic(topic, 2);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = Array.from({ length: 50 }, (_, i) => ({
    key: `k${i % 5}`,
    value: `from kafkajs ${i}`,
    headers: { origin: 'kafkajs', n: String(i) },
  }));
  await producer.send({ topic, messages });
  await producer.disconnect();

  const consumer = await klog.Consumer.connect({
    bootstrapServers: server.bootstrap,
    groupId: `g-${uid()}`,
    autoOffsetReset: 'earliest',
  });
  await consumer.subscribe(topic);
  const got = await consume(consumer, 50);
  await consumer.close();
  const byValue = new Map(got.map((r) => [r.valueString(), r]));
  assert.equal(byValue.size, 50);
  for (const [i, m] of messages.entries()) {
    const r = byValue.get(m.value);
    assert.ok(r, `record ${i} arrived`);
    assert.equal(r.keyString(), m.key);
    assert.deepEqual(r.headers.map(([k, v]) => [k, v.toString()]), [['origin', 'kafkajs'], ['n', String(i)]]);
  }
  // Both clients hash keys with Kafka's murmur2: one key, one partition.
  const partitions = new Map();
  for (const r of got) {
    assert.equal(partitions.get(r.keyString()) ?? r.partition, r.partition);
    partitions.set(r.keyString(), r.partition);
  }
});

test('klog produces, kafkajs consumes in a group', { timeout: 120000 }, async () => {
  const topic = `klog-to-kjs-${uid()}`;
  await createTopic(topic, 2);
  const producer = await klog.Producer.connect({ bootstrapServers: server.bootstrap });
  const records = Array.from({ length: 50 }, (_, i) => ({
    topic,
    key: `k${i % 5}`,
    value: Buffer.from(`from klog ${i}`),
    headers: [['origin', 'klog'], ['dup', 'a'], ['dup', 'b']],
  }));
  const reports = await producer.sendBatch(records);
  await producer.close();

  const consumer = kafka.consumer({ groupId: `g-${uid()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  await consumer.run({ eachMessage: async ({ partition, message }) => got.push({ partition, message }) });
  await waitFor(() => got.length >= 50, { what: 'kafkajs to read 50 records' });
  await consumer.disconnect();
  assert.equal(got.length, 50);
  const byValue = new Map(got.map((g) => [g.message.value.toString(), g]));
  for (const [i, r] of records.entries()) {
    const g = byValue.get(r.value.toString());
    assert.ok(g, `record ${i} arrived`);
    assert.equal(g.message.key.toString(), r.key);
    assert.equal(g.partition, reports[i].partition);
    assert.equal(g.message.offset, String(reports[i].offset));
    assert.equal(g.message.headers.origin.toString(), 'klog');
    // kafkajs collects a repeated header key into an array.
    assert.deepEqual(g.message.headers.dup.map(String), ['a', 'b']);
  }
});
