// Round trips, consumer groups and commits against a klog-server process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import klog from '../lib/index.js';
import { startServer, consume, waitFor, uid } from './helpers.mjs';

const { Producer, Consumer, Admin } = klog;

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

const connect = (Client, options = {}) => Client.connect({ bootstrapServers: server.bootstrap, ...options });

async function createTopic(topic, numPartitions) {
  const admin = await connect(Admin);
  try {
    await admin.createTopic(topic, numPartitions);
  } finally {
    await admin.close();
  }
}

test('produce and consume over TCP, keyed records stay in their partition', { timeout: 120000 }, async () => {
  const topic = `srv-${uid()}`;
  await createTopic(topic, 3);
  const producer = await connect(Producer, { lingerMs: 2, compressionType: 'lz4' });
  const records = Array.from({ length: 300 }, (_, i) => ({ topic, key: `key-${i % 7}`, value: `value-${i}` }));
  const reports = await producer.sendBatch(records);
  const single = await producer.send({ topic, key: 'key-0', value: 'last', headers: { trace: ['a', 'b'] } });
  await producer.close();
  const byKey = new Map();
  for (const [i, r] of reports.entries()) {
    const seen = byKey.get(records[i].key) ?? r.partition;
    assert.equal(r.partition, seen, 'one key, one partition');
    byKey.set(records[i].key, r.partition);
  }
  assert.equal(single.partition, byKey.get('key-0'));

  const consumer = await connect(Consumer, { groupId: `g-${uid()}`, autoOffsetReset: 'earliest' });
  await consumer.subscribe([topic]);
  const got = await consume(consumer, 301);
  await consumer.close();
  assert.equal(got.length, 301);
  for (const r of got) assert.equal(r.partition, byKey.get(r.keyString()));
  const last = got.find((r) => r.valueString() === 'last');
  assert.deepEqual(last.headers.map(([k, v]) => [k, v.toString()]), [['trace', 'a'], ['trace', 'b']]);
  const values = new Set(got.map((r) => r.valueString()));
  assert.equal(values.size, 301);
});

test('a group of two members splits the partitions and rebalances when one leaves', { timeout: 180000 }, async () => {
  const topic = `grp-${uid()}`;
  const group = `g-${uid()}`;
  await createTopic(topic, 4);
  const options = { groupId: group, autoOffsetReset: 'earliest', heartbeatIntervalMs: 200, sessionTimeoutMs: 30000 };
  const a = await connect(Consumer, options);
  await a.subscribe(topic);
  await waitFor(async () => (await a.poll(100), a.assignment().length === 4), { what: 'a owns all 4 partitions' });

  const b = await connect(Consumer, options);
  await b.subscribe(topic);
  const owned = () => [...a.assignment(), ...b.assignment()].map((tp) => tp.partition).sort();
  await waitFor(async () => {
    await Promise.all([a.poll(100), b.poll(100)]);
    return a.assignment().length === 2 && b.assignment().length === 2 && owned().join() === '0,1,2,3';
  }, { what: 'a and b own 2 partitions each' });
  assert.notEqual(a.memberId, b.memberId);
  assert.equal(a.generation, b.generation);

  const producer = await connect(Producer);
  await producer.sendBatch(Array.from({ length: 40 }, (_, i) => ({ topic, partition: i % 4, value: String(i) })));
  await producer.close();
  const seenA = [];
  const seenB = [];
  await waitFor(async () => {
    const [ra, rb] = await Promise.all([a.poll(100), b.poll(100)]);
    seenA.push(...ra);
    seenB.push(...rb);
    return seenA.length + seenB.length >= 40;
  }, { what: '40 records across both members' });
  const mineA = new Set(a.assignment().map((tp) => tp.partition));
  assert.ok(seenA.every((r) => mineA.has(r.partition)), 'a reads only its partitions');
  assert.ok(seenB.every((r) => !mineA.has(r.partition)), 'b reads only its partitions');
  assert.equal(new Set([...seenA, ...seenB].map((r) => r.valueString())).size, 40);

  await b.close();
  await waitFor(async () => (await a.poll(100), a.assignment().length === 4), { what: 'a owns all 4 again' });
  await a.close();
});

test('committed offsets are where the group resumes', { timeout: 120000 }, async () => {
  const topic = `cmt-${uid()}`;
  const group = `g-${uid()}`;
  await createTopic(topic, 1);
  const producer = await connect(Producer);
  await producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic, value: String(i) })));
  await producer.close();
  const tp = { topic, partition: 0 };
  const options = { groupId: group, autoOffsetReset: 'earliest', enableAutoCommit: false, maxPollRecords: 4 };

  const first = await connect(Consumer, options);
  await first.subscribe(topic);
  const firstBatch = await first.poll(60000);
  const n = firstBatch.length;
  assert.ok(n >= 1 && n <= 4, `maxPollRecords bounds a poll (got ${n})`);
  assert.deepEqual(firstBatch.map((r) => r.offset), [...Array(n).keys()]);
  await first.commit();
  assert.deepEqual(await first.committed([tp]), [{ ...tp, offset: n }]);
  await first.close();

  const second = await connect(Consumer, options);
  await second.subscribe(topic);
  const [resumed] = await consume(second, 1);
  assert.equal(resumed.offset, n);
  await second.commit([{ ...tp, offset: 8 }]);
  await second.close();

  const admin = await connect(Admin);
  const offsets = await admin.groupOffsets(group);
  await admin.close();
  assert.deepEqual(offsets, [{ ...tp, committed: 8, end: 10, lag: 2 }]);

  const third = await connect(Consumer, options);
  await third.subscribe(topic);
  const rest = await consume(third, 2);
  await third.close();
  assert.deepEqual(rest.map((r) => r.valueString()), ['8', '9']);
});

test('seek and position on an assigned partition', { timeout: 120000 }, async () => {
  const topic = `seek-${uid()}`;
  await createTopic(topic, 1);
  const producer = await connect(Producer);
  await producer.sendBatch(Array.from({ length: 5 }, (_, i) => ({ topic, value: String(i) })));
  await producer.close();
  const tp = { topic, partition: 0 };
  const consumer = await connect(Consumer, { autoOffsetReset: 'earliest' });
  await consumer.assign([tp]);
  await consumer.seek(tp, 3);
  assert.equal(await consumer.position(tp), 3);
  const got = await consume(consumer, 2);
  assert.deepEqual(got.map((r) => r.valueString()), ['3', '4']);
  await consumer.seekToBeginning();
  assert.equal((await consume(consumer, 1))[0].offset, 0);
  await consumer.close();
});
