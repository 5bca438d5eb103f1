// The typed API: an embedded broker listening on TCP, a producer reaching it
// over TCP, a consumer in process, and error codes.
//   bindings/node/node_modules/.bin/tsc -p examples/node && node examples/node/typed.js
// (`tsc --noEmit -p examples/node` is how the test suite checks the types.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, Producer, KlogError, codes, type Record, type RecordMetadata } from '../../bindings/node';

async function main(): Promise<void> {
  const broker = await open(mkdtempSync(join(tmpdir(), 'klog-typed-')), { listen: '127.0.0.1:0' });
  const bootstrap: string = broker.address ?? '';

  const producer = await Producer.connect({ bootstrapServers: bootstrap, lingerMs: 1, acks: 'all' });
  const reports: RecordMetadata[] = await producer.sendBatch([
    { topic: 'typed', key: 'a', value: 'first', headers: [['kind', 'text']] },
    { topic: 'typed', key: 'b', value: Buffer.from([1, 2, 3]), timestamp: new Date() },
  ]);
  console.log('offsets', reports.map((r) => r.offset));
  await producer.close();

  const consumer = await broker.consumer({ groupId: 'typed', autoOffsetReset: 'earliest' });
  await consumer.subscribe(['typed']);
  const records: Record[] = [];
  while (records.length < reports.length) records.push(...(await consumer.poll(1000)));
  for (const r of records) console.log(r.keyString(), r.value?.length, r.headers.length);
  await consumer.close();

  try {
    await consumer.poll(10);
  } catch (e) {
    if (e instanceof KlogError && e.code === codes.CLOSED) console.log('closed, as expected');
    else throw e;
  }
  await broker.close();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
