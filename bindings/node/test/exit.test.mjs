// A process that closed its clients exits on its own: klog keeps no handle on
// the event loop beyond pending Promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.mjs';

const LIB = fileURLToPath(new URL('../lib/index.js', import.meta.url));

const SCRIPT = `
const klog = require(${JSON.stringify(LIB)});
(async () => {
  const broker = await klog.open(process.argv[1], { listen: '127.0.0.1:0' });
  const producer = await broker.producer();
  await producer.send({ topic: 'exit', value: 'x' });
  const consumer = await klog.Consumer.connect({ bootstrapServers: broker.address, groupId: 'g', autoOffsetReset: 'earliest' });
  await consumer.subscribe('exit');
  for await (const record of consumer) { if (record.valueString() === 'x') break; }
  const admin = await broker.admin();
  await admin.listTopics();
  await Promise.all([consumer.close(), producer.close(), admin.close()]);
  await broker.close();
  console.log('closed');
})().catch((e) => { console.error(e); process.exit(2); });
`;

test('the process exits on its own once every client is closed', { timeout: 120000 }, async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, ['-e', SCRIPT, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  // Wait for the work to finish (however long a loaded machine needs), then
  // the exit must follow on its own within a few seconds.
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const closed = new Promise((res) => child.stdout.on('data', () => out.includes('closed') && res()));
  await Promise.race([closed, exited]);
  let timer;
  const killed = new Promise((res) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      res('killed');
    }, 10000);
  });
  const result = await Promise.race([exited, killed]);
  clearTimeout(timer);
  assert.equal(out.trim(), 'closed');
  assert.deepEqual(result, { code: 0, signal: null });
});
