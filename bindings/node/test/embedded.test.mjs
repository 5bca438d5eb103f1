// Round trips through a broker embedded in the test process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import klog from '../lib/index.js';
import { tempDir, consume, uid } from './helpers.mjs';

const { open, KlogError } = klog;

/** An embedded broker closed (then its directory removed) after the test. */
async function broker(t, options) {
  let b = null;
  const dir = tempDir(t, () => b?.close());
  b = await open(dir, options);
  return b;
}

test('send, sendBatch and poll keep keys, values, headers and offsets', { timeout: 60000 }, async (t) => {
  const b = await broker(t);
  const topic = `rt-${uid()}`;
  await (await b.admin()).createTopic(topic, 1);
  const producer = await b.producer();
  const first = await producer.send({
    topic,
    key: 'k1',
    value: Buffer.from([0, 1, 2, 255]),
    headers: [['h', 'a'], ['h', Buffer.from('b')], ['n', null]],
    timestamp: 1700000000000,
  });
  assert.deepEqual(first, { topic, partition: 0, offset: 0, timestamp: 1700000000000 });
  const batch = Array.from({ length: 1000 }, (_, i) => ({ topic, value: `v${i}`, key: i % 2 ? null : `k${i}` }));
  const reports = await producer.sendBatch(batch);
  assert.deepEqual(reports.map((r) => r.offset), batch.map((_, i) => i + 1));
  assert.ok(reports.every((r) => r.topic === topic && r.partition === 0));
  await producer.send({ topic, value: null, key: 'tombstone' });
  await producer.close();

  const consumer = await b.consumer({ groupId: `g-${uid()}`, autoOffsetReset: 'earliest' });
  t.after(() => consumer.close());
  await consumer.subscribe(topic);
  const records = await consume(consumer, 1002);
  assert.equal(records.length, 1002);
  assert.deepEqual(records.map((r) => r.offset), records.map((_, i) => i));
  const [r0] = records;
  assert.ok(r0 instanceof klog.Record);
  assert.equal(r0.keyString(), 'k1');
  assert.deepEqual([...r0.value], [0, 1, 2, 255]);
  assert.equal(r0.timestamp, 1700000000000);
  assert.deepEqual(r0.headers.map(([k, v]) => [k, v?.toString() ?? null]), [['h', 'a'], ['h', 'b'], ['n', null]]);
  assert.equal(r0.header('h').toString(), 'a');
  assert.equal(records[1].valueString(), 'v0');
  assert.equal(records[2].key, null);
  assert.equal(records[2].keyString(), null);
  assert.equal(records[1001].value, null);
  assert.equal(records[1001].valueString(), null);
});

test('for await reads records and ends when the consumer closes', { timeout: 60000 }, async (t) => {
  const b = await broker(t);
  const topic = `iter-${uid()}`;
  const producer = await b.producer();
  await producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic, value: String(i) })));
  await producer.close();
  const consumer = await b.consumer({ groupId: `g-${uid()}`, autoOffsetReset: 'earliest' });
  await consumer.subscribe([topic]);
  const seen = [];
  for await (const record of consumer) {
    seen.push(record.valueString());
    if (seen.length === 10) consumer.close();
  }
  assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => String(i)));
  assert.equal(consumer.closed, true);
});

test('breaking out of for await leaves the consumer usable', { timeout: 60000 }, async (t) => {
  const b = await broker(t);
  const topic = `brk-${uid()}`;
  const producer = await b.producer();
  await producer.sendBatch(Array.from({ length: 4 }, (_, i) => ({ topic, value: String(i), partition: 0 })));
  await producer.close();
  const consumer = await b.consumer({ autoOffsetReset: 'earliest', maxPollRecords: 1 });
  t.after(() => consumer.close());
  await consumer.assign([{ topic, partition: 0 }]);
  for await (const record of consumer) {
    assert.equal(record.valueString(), '0');
    break;
  }
  assert.equal(consumer.closed, false);
  const rest = await consume(consumer, 3);
  assert.deepEqual(rest.map((r) => r.valueString()), ['1', '2', '3']);
});

test('the embedded broker listens on TCP for bootstrap clients', { timeout: 60000 }, async (t) => {
  const b = await broker(t, { listen: '127.0.0.1:0' });
  assert.match(b.address, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(b.address, '127.0.0.1:0');
  const topic = `tcp-${uid()}`;
  const producer = await klog.Producer.connect({ bootstrapServers: b.address, lingerMs: 1 });
  const md = await producer.send({ topic, value: 'over tcp' });
  await producer.close();
  const consumer = await b.consumer({ autoOffsetReset: 'earliest' });
  t.after(() => consumer.close());
  await consumer.assign([{ topic, partition: md.partition }]);
  const [record] = await consume(consumer, 1);
  assert.equal(record.valueString(), 'over tcp');
});

test('admin: topics, partitions and offsets', { timeout: 60000 }, async (t) => {
  const b = await broker(t);
  const admin = await b.admin();
  t.after(() => admin.close());
  const topic = `adm-${uid()}`;
  await admin.createTopics([{ topic, numPartitions: 2, configs: { 'retention.ms': '60000' } }]);
  assert.ok((await admin.listTopics()).some((x) => x.name === topic));
  await admin.createPartitions(topic, 3);
  const info = await admin.describeTopic(topic);
  assert.deepEqual(info.partitions.map((p) => p.partition), [0, 1, 2]);
  const producer = await b.producer();
  await producer.sendBatch([0, 0, 1].map((partition) => ({ topic, partition, value: 'x' })));
  await producer.close();
  const ends = await admin.listOffsets([0, 1, 2].map((partition) => ({ topic, partition })), 'latest');
  assert.deepEqual(ends.map((o) => o.offset), [2, 1, 0]);
  await admin.alterConfigs(topic, { 'retention.ms': '120000' });
  const retention = (await admin.describeConfigs(topic)).find((c) => c.name === 'retention.ms');
  assert.equal(retention.value, '120000');
  assert.equal(retention.isDefault, false);
  assert.equal(await admin.deleteRecords({ topic, partition: 0 }, 1), 1);
  const starts = await admin.listOffsets([{ topic, partition: 0 }], 'earliest');
  assert.deepEqual(starts, [{ topic, partition: 0, offset: 1 }]);

  const group = `g-${uid()}`;
  await admin.setGroupOffsets(group, [{ topic, partition: 1, offset: 1 }]);
  assert.ok((await admin.listGroups()).includes(group));
  assert.deepEqual(await admin.groupOffsets(group), [{ topic, partition: 1, committed: 1, end: 1, lag: 0 }]);
  const consumer = await b.consumer({ groupId: group });
  assert.deepEqual(await consumer.committed([{ topic, partition: 1 }]), [{ topic, partition: 1, offset: 1 }]);
  await consumer.close();
  await admin.deleteGroup(group);
  assert.equal((await admin.describeCluster()).brokers.length, 1);
  await admin.deleteTopics([topic]);
  await assert.rejects(admin.describeTopic(topic), { code: 'KLOG_NOT_FOUND' });
});

test('errors carry a stable code, kafkaCode and retriable', { timeout: 60000 }, async (t) => {
  const b = await broker(t);
  const admin = await b.admin();
  const topic = `err-${uid()}`;
  await admin.createTopic(topic);
  const dup = await admin.createTopic(topic).then(() => null, (e) => e);
  assert.ok(dup instanceof Error);
  assert.ok(dup instanceof KlogError);
  assert.equal(dup.code, 'KLOG_ALREADY_EXISTS');
  assert.equal(dup.kafkaCode, 36);
  assert.equal(dup.retriable, false);
  assert.match(dup.message, /already exists/);

  await assert.rejects(klog.Producer.connect({}), { code: 'KLOG_INVALID' });
  await assert.rejects(b.producer({ lingerMs: 'soon' }), { code: 'KLOG_INVALID' });
  await assert.rejects(b.producer({ noSuchOption: 1 }), { code: 'KLOG_INVALID' });
  const producer = await b.producer();
  await assert.rejects(producer.send({ value: 'no topic' }), { code: 'KLOG_INVALID' });
  await assert.rejects(producer.send({ topic, value: 42 }), { code: 'KLOG_INVALID' });

  const misuse = await b.consumer();
  for (const call of [
    () => misuse.assign([{ topic: 1, partition: 0 }]),
    () => misuse.seek({ topic, partition: 0 }, 'start'),
    () => klog.Consumer.connect({ embedded: {} }),
  ]) {
    await assert.rejects(call(), (e) => e instanceof KlogError && e.code === 'KLOG_INVALID');
  }
  assert.throws(() => misuse.pause([{}]), { code: 'KLOG_INVALID' });
  await misuse.close();

  await admin.close();
  await producer.close();
  const consumer = await b.consumer();
  await consumer.close();
  await consumer.close();
  for (const call of [
    () => admin.listTopics(),
    () => producer.send({ topic, value: 'late' }),
    () => producer.flush(),
    () => consumer.poll(10),
    () => consumer.subscribe(topic),
  ]) {
    await assert.rejects(call(), (e) => e instanceof KlogError && e.code === 'KLOG_CLOSED');
  }
  assert.throws(() => consumer.assignment(), { code: 'KLOG_CLOSED' });
  assert.equal(producer.closed, true);
});

test('await using closes clients and the broker', { timeout: 60000, skip: typeof Symbol.asyncDispose !== 'symbol' }, async (t) => {
  const dir = tempDir(t);
  const b = await open(dir);
  const producer = await b.producer();
  await producer[Symbol.asyncDispose]();
  assert.equal(producer.closed, true);
  await b[Symbol.asyncDispose]();
  assert.equal(b.closed, true);
  // The directory is released: it opens again.
  const again = await open(dir);
  await again.close();
});

test('clients of a closed broker reject with KLOG_CLOSED', { timeout: 60000 }, async (t) => {
  const dir = tempDir(t);
  const b = await open(dir);
  const topic = `closed-${uid()}`;
  const admin = await b.admin();
  await admin.createTopic(topic, 1);
  const producer = await b.producer();
  await producer.send({ topic, value: 'before' });
  await b.close();
  await b.close(); // closing twice is fine
  const closed = (e) => e instanceof KlogError && e.code === 'KLOG_CLOSED';
  await assert.rejects(admin.listTopics(), closed);
  await assert.rejects(producer.send({ topic, value: 'after' }), closed);
  // The directory is free again while those clients still exist.
  const reopened = await open(dir);
  const again = await reopened.admin();
  assert.ok((await again.listTopics()).some((info) => info.name === topic));
  await again.close();
  await Promise.all([admin.close(), producer.close()]);
  await reopened.close();
});
