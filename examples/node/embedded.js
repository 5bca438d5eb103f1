// Quick start: a broker inside this process, a producer and a consumer.
//   node examples/node/embedded.js [data-dir]
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const klog = require('../../bindings/node');

async function main() {
  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'klog-quickstart-'));
  const broker = await klog.open(dir);

  const producer = await broker.producer();
  const report = await producer.send({ topic: 'greetings', key: 'node', value: 'hello from Node' });
  console.log(`stored at ${report.topic}-${report.partition}@${report.offset}`);
  await producer.sendBatch(['one', 'two', 'three'].map((value) => ({ topic: 'greetings', value })));
  await producer.close();

  const consumer = await broker.consumer({ groupId: 'quickstart', autoOffsetReset: 'earliest' });
  await consumer.subscribe('greetings');
  let seen = 0;
  for await (const record of consumer) {
    console.log(`${record.offset}: ${record.valueString()}`);
    if (++seen === 4) break;
  }
  await consumer.close();
  await broker.close();
  console.log(`data is in ${dir}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
