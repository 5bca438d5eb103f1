// kafkajs 2.2 against klog-server (node's built-in test runner).
// kafkajs uses non-flexible request versions (Produce v7, Fetch v11,
// Metadata v6, JoinGroup v5, OffsetCommit v5).
// KLOG_TEST_KAFKAJS_LOG=debug prints client logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { startServer } from './klog-server.mjs';

const { Kafka, logLevel, CompressionTypes, Partitioners } = kafkajs;

const LOG_LEVELS = { debug: logLevel.DEBUG, info: logLevel.INFO, warn: logLevel.WARN, error: logLevel.ERROR };
const LOG_LEVEL = LOG_LEVELS[process.env.KLOG_TEST_KAFKAJS_LOG] ?? logLevel.NOTHING;

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  if (server) await server.cleanup();
});

const uid = () => randomBytes(4).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function client(clientId = 'klog-interop') {
  return new Kafka({
    clientId,
    brokers: [server.bootstrap],
    logLevel: LOG_LEVEL,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 5, initialRetryTime: 100 },
  });
}

function groupConsumer(kafka, groupId, extra = {}) {
  return kafka.consumer({
    groupId,
    sessionTimeout: 30000,
    rebalanceTimeout: 30000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
    retry: { retries: 5, initialRetryTime: 100 },
    ...extra,
  });
}

async function waitFor(pred, { timeoutMs = 20000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// Run a test body; on failure attach the broker's stderr to the error.
function klogTest(name, fn, timeout = 90000) {
  test(name, { timeout }, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      e.message += `\n${server?.stderrTail(8000) ?? ''}`;
      throw e;
    }
  });
}

async function createTopic(kafka, topic, numPartitions = 1) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true, timeout: 10000 });
    assert.equal(created, true);
  } finally {
    await admin.disconnect();
  }
}

function headerStrings(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    out[k] = Array.isArray(v) ? v.map((b) => b.toString()) : v.toString();
  }
  return out;
}

// Consume with a group until `n` messages arrived, then `settleMs` more to catch duplicates.
async function consumeGroup(kafka, groupId, topic, n, { settleMs = 1000, consumerOpts = {} } = {}) {
  const consumer = groupConsumer(kafka, groupId, consumerOpts);
  const got = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({
          partition,
          offset: Number(message.offset),
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          headers: headerStrings(message.headers),
          timestamp: Number(message.timestamp),
        });
      },
    });
    await waitFor(() => got.length >= n, { timeoutMs: 30000, what: `${n} messages (have ${got.length})` });
    await sleep(settleMs);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

klogTest('produce with keys and headers, consume each message exactly once', async () => {
  const kafka = client();
  const topic = `kjs-rt-${uid()}`;
  await createTopic(kafka, topic, 3);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const n = 300;
  const ts = Date.now() - 10000;
  const messages = Array.from({ length: n }, (_, i) => ({
    partition: i % 3,
    key: `key-${i}`,
    value: `value-${i}`,
    headers: i % 2 ? { trace: `t${i}`, dup: ['one', 'two'] } : { trace: `t${i}` },
    timestamp: String(ts + i),
  }));
  try {
    const meta = await producer.send({ topic, acks: -1, messages });
    const byPartition = Object.fromEntries(meta.map((m) => [m.partition, m]));
    for (const p of [0, 1, 2]) {
      assert.equal(byPartition[p].errorCode, 0);
      assert.equal(byPartition[p].baseOffset, '0');
    }
    // Second send: base offsets continue after the first batch.
    const meta2 = await producer.send({ topic, messages: [{ partition: 0, value: 'tail' }] });
    assert.equal(meta2[0].baseOffset, String(n / 3));
  } finally {
    await producer.disconnect();
  }

  const got = await consumeGroup(kafka, `g-${uid()}`, topic, n + 1);
  assert.equal(got.length, n + 1, 'duplicates or losses');
  const seen = new Set(got.map((m) => `${m.partition}:${m.offset}`));
  assert.equal(seen.size, n + 1);
  for (const p of [0, 1, 2]) {
    const offs = got.filter((m) => m.partition === p).map((m) => m.offset);
    assert.deepEqual(offs, Array.from({ length: offs.length }, (_, i) => i), `partition ${p} out of order`);
  }
  const byValue = new Map(got.map((m) => [m.value, m]));
  for (let i = 0; i < n; i++) {
    const m = byValue.get(`value-${i}`);
    assert.ok(m, `value-${i} missing`);
    assert.equal(m.partition, i % 3);
    assert.equal(m.offset, Math.floor(i / 3));
    assert.equal(m.key, `key-${i}`);
    assert.deepEqual(m.headers, messages[i].headers);
    assert.equal(m.timestamp, ts + i);
  }
});

klogTest('GZIP compression round trip', async () => {
  const kafka = client();
  const topic = `kjs-gzip-${uid()}`;
  await createTopic(kafka, topic, 1);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const values = Array.from({ length: 200 }, (_, i) => `gz-${i}-${'y'.repeat(i)}`);
  try {
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: values.map((value, i) => ({ key: i % 5 ? `k${i}` : null, value })),
    });
    await producer.send({ topic, compression: CompressionTypes.GZIP, messages: [{ value: 'second batch' }] });
  } finally {
    await producer.disconnect();
  }
  const got = await consumeGroup(kafka, `g-${uid()}`, topic, values.length + 1);
  assert.deepEqual(got.map((m) => m.offset), Array.from({ length: values.length + 1 }, (_, i) => i));
  assert.deepEqual(got.map((m) => m.value), [...values, 'second batch']);
  assert.deepEqual(got.slice(0, 10).map((m) => m.key), values.slice(0, 10).map((_, i) => (i % 5 ? `k${i}` : null)));
});

klogTest('admin: createTopics, fetchTopicMetadata, fetchTopicOffsets, deleteTopics', async () => {
  const kafka = client();
  const topic = `kjs-admin-${uid()}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }), true);
    // Creating it again reports "already exists".
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }), false);
    assert.ok((await admin.listTopics()).includes(topic));

    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(topics.length, 1);
    assert.equal(topics[0].name, topic);
    const parts = [...topics[0].partitions].sort((a, b) => a.partitionId - b.partitionId);
    assert.deepEqual(parts.map((p) => p.partitionId), [0, 1, 2]);
    for (const p of parts) {
      assert.equal(p.partitionErrorCode, 0);
      assert.equal(p.leader, 1);
      assert.deepEqual(p.replicas, [1]);
      assert.deepEqual(p.isr, [1]);
    }

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ partition: 0, value: `a${i}` })) });
    await producer.send({ topic, messages: [{ partition: 1, value: 'b0' }, { partition: 1, value: 'b1' }] });
    await producer.disconnect();

    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    assert.deepEqual(offsets, [
      { partition: 0, offset: '5', high: '5', low: '0' },
      { partition: 1, offset: '2', high: '2', low: '0' },
      { partition: 2, offset: '0', high: '0', low: '0' },
    ]);

    const cluster = await admin.describeCluster();
    assert.equal(cluster.controller, 1);
    assert.deepEqual(cluster.brokers.map((b) => [b.nodeId, b.host, b.port]), [[1, '127.0.0.1', server.port]]);

    await admin.deleteTopics({ topics: [topic], timeout: 10000 });
    await waitFor(async () => !(await admin.listTopics()).includes(topic), { what: 'topic deleted' });
  } finally {
    await admin.disconnect();
  }
});

klogTest('two members split partitions; a leaving member triggers a prompt rebalance', async () => {
  const kafka = client();
  const topic = `kjs-split-${uid()}`;
  const groupId = `g-split-${uid()}`;
  await createTopic(kafka, topic, 4);

  const assignments = { a: null, b: null };
  const received = { a: [], b: [] };
  const start = async (name) => {
    const c = groupConsumer(kafka, groupId);
    c.on(c.events.GROUP_JOIN, (e) => { assignments[name] = e.payload.memberAssignment[topic] ?? []; });
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        received[name].push(`${partition}:${message.offset}`);
      },
    });
    return c;
  };

  const a = await start('a');
  let b;
  try {
    await waitFor(() => assignments.a?.length === 4, { what: 'first member owns all 4 partitions' });
    b = await start('b');
    const split = () => assignments.a?.length && assignments.b?.length
      && assignments.a.length + assignments.b.length === 4;
    await waitFor(split, { timeoutMs: 30000, what: `split (have ${JSON.stringify(assignments)})` });
    assert.deepEqual([...assignments.a, ...assignments.b].sort(), [0, 1, 2, 3]);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: `v${i}` })) });
    await producer.disconnect();
    await waitFor(() => received.a.length + received.b.length >= 40, { what: '40 messages across both members' });
    assert.ok(received.a.length > 0 && received.b.length > 0, 'both members consumed');
    const all = [...received.a, ...received.b];
    assert.equal(new Set(all).size, 40, 'a record was consumed twice');
    for (const r of received.a) assert.ok(assignments.a.includes(Number(r.split(':')[0])));
    for (const r of received.b) assert.ok(assignments.b.includes(Number(r.split(':')[0])));

    // b leaves (LeaveGroup): a must own everything again well before the 30 s session timeout.
    const left = Date.now();
    await b.disconnect();
    b = null;
    await waitFor(() => assignments.a?.length === 4, { timeoutMs: 15000, what: 'remaining member takes all partitions' });
    const took = Date.now() - left;
    assert.ok(took < 10000, `rebalance after LeaveGroup took ${took} ms`);
  } finally {
    if (b) await b.disconnect();
    await a.disconnect();
  }
});

klogTest('committed offsets: a new member of the group resumes where the last one stopped', async () => {
  const kafka = client();
  const topic = `kjs-resume-${uid()}`;
  const groupId = `g-resume-${uid()}`;
  await createTopic(kafka, topic, 1);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `first-${i}` })) });
    const first = await consumeGroup(kafka, groupId, topic, 10, { settleMs: 300 });
    assert.deepEqual(first.map((m) => m.offset), [...Array(10).keys()]);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      assert.deepEqual(
        committed.map((t) => ({ topic: t.topic, partitions: t.partitions.map(({ partition, offset }) => ({ partition, offset })) })),
        [{ topic, partitions: [{ partition: 0, offset: '10' }] }],
      );
    } finally {
      await admin.disconnect();
    }

    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `second-${i}` })) });
    const second = await consumeGroup(kafka, groupId, topic, 10);
    assert.deepEqual(second.map((m) => m.offset), Array.from({ length: 10 }, (_, i) => 10 + i));
    assert.deepEqual(second.map((m) => m.value), Array.from({ length: 10 }, (_, i) => `second-${i}`));
  } finally {
    await producer.disconnect();
  }
});
