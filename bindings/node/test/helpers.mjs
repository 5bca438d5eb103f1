// Shared test helpers: temporary directories, waiting for conditions, and a
// klog-server child process (target/release/klog-server or $KLOG_SERVER_BIN).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A unique suffix for topic and group names. */
export const uid = () => randomBytes(4).toString('hex');

/** A fresh temporary directory, removed after the test (after `cleanup`, if given, ran). */
export function tempDir(t, cleanup = async () => {}) {
  const dir = mkdtempSync(join(tmpdir(), 'klog-node-test-'));
  t.after(async () => {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Polls `pred` until it returns a truthy value (returned) or `timeoutMs` passes. */
export async function waitFor(pred, { timeoutMs = 60000, what = 'condition', everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Reads records from `consumer` until `count` arrived (or fails after `timeoutMs`). */
export async function consume(consumer, count, { timeoutMs = 60000 } = {}) {
  const got = [];
  await waitFor(async () => {
    got.push(...(await consumer.poll(200)));
    return got.length >= count;
  }, { timeoutMs, what: `${count} records (got ${got.length})`, everyMs: 0 });
  return got;
}

export function serverBin() {
  const bin = process.env.KLOG_SERVER_BIN || join(ROOT, 'target', 'release', 'klog-server');
  if (!existsSync(bin)) throw new Error(`klog-server not found at ${bin}: build it or set KLOG_SERVER_BIN`);
  return bin;
}

const READY = /^klog-server listening on (\S+):(\d+)\s*$/;

/** Starts klog-server on a free port; resolves to `{ bootstrap, stop() }` once it is listening. */
export async function startServer({ timeoutMs = 60000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'klog-node-server-'));
  const proc = spawn(serverBin(), [
    '--data-dir', join(dir, 'data'),
    '--listeners', 'PLAINTEXT://127.0.0.1:0',
    '--group-initial-rebalance-delay-ms', '0',
  ], { stdio: ['ignore', 'pipe', 'inherit'], env: { KLOG_LOG: 'warn', ...process.env } });
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res(code ?? signal)));
  const lines = createInterface({ input: proc.stdout });
  const address = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`klog-server not ready within ${timeoutMs} ms`)), timeoutMs);
    lines.on('line', (line) => {
      const m = READY.exec(line);
      if (m) {
        clearTimeout(timer);
        res(`${m[1]}:${m[2]}`);
      }
    });
    exited.then((how) => {
      clearTimeout(timer);
      rej(new Error(`klog-server exited (${how}) before it was ready`));
    });
  }).catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  return {
    bootstrap: address,
    async stop() {
      process.off('exit', kill);
      proc.kill('SIGTERM');
      const timer = setTimeout(kill, 20000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
