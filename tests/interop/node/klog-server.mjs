// Start and stop a klog-server child process for the kafkajs tests
// (the Node counterpart of tests/interop/conftest.py).
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const READY = /^klog-server listening on (\S+):(\d+)\s*$/;
const live = new Set();

function killAll() {
  for (const s of live) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(130); });
}

export function serverBin() {
  const bin = process.env.KLOG_SERVER_BIN || join(ROOT, 'target', 'release', 'klog-server');
  if (!existsSync(bin)) {
    throw new Error(`klog-server binary not found at ${bin}; run cargo build --release -p klog-server or set KLOG_SERVER_BIN`);
  }
  return bin;
}

export class KlogServer {
  constructor(extraArgs = []) {
    this.dir = mkdtempSync(join(tmpdir(), 'klog-node-'));
    this.dataDir = join(this.dir, 'data');
    this.extraArgs = extraArgs;
    this.starts = 0;
    this.proc = null;
    this.port = null;
    this.stderrPaths = [];
  }

  get bootstrap() {
    if (!this.proc) throw new Error('server is not running');
    return `${this.host}:${this.port}`;
  }

  async start(timeoutMs = 30000) {
    if (this.proc) throw new Error('server already running');
    this.starts += 1;
    const stderrPath = join(this.dir, `stderr-${this.starts}.log`);
    this.stderrPaths.push(stderrPath);
    const fd = openSync(stderrPath, 'w');
    const proc = spawn(serverBin(), [
      '--data-dir', this.dataDir,
      '--listeners', 'PLAINTEXT://127.0.0.1:0',
      '--group-initial-rebalance-delay-ms', '0',
      ...this.extraArgs,
    ], { stdio: ['ignore', 'pipe', fd], env: { NO_COLOR: '1', RUST_BACKTRACE: '1', ...process.env } });
    closeSync(fd);
    this.proc = proc;
    live.add(this);
    const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
    this.exited = exited;

    const lines = createInterface({ input: proc.stdout });
    const ready = new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`klog-server not ready within ${timeoutMs} ms\n${this.stderrTail()}`)), timeoutMs);
      lines.on('line', (line) => {
        const m = READY.exec(line);
        if (m) { clearTimeout(timer); res([m[1], Number(m[2])]); }
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        rej(new Error(`klog-server exited (${code ?? signal}) before becoming ready\n${this.stderrTail()}`));
      });
    });
    try {
      [this.host, this.port] = await ready;
    } catch (e) {
      proc.kill('SIGKILL');
      await exited;
      this.proc = null;
      live.delete(this);
      throw e;
    }
    return this;
  }

  async stop(timeoutMs = 20000) {
    if (!this.proc) return null;
    const proc = this.proc;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    this.proc = null;
    live.delete(this);
    return code ?? signal;
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  stderrTail(maxBytes = 20000) {
    return this.stderrPaths.map((p) => {
      let s = '';
      try { s = readFileSync(p, 'utf8'); } catch { /* not written */ }
      if (s.length > maxBytes) s = '...(truncated)...\n' + s.slice(-maxBytes);
      return `--- klog-server ${p} ---\n${s}`;
    }).join('\n');
  }

  async cleanup() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startServer(extraArgs = []) {
  return new KlogServer(extraArgs).start();
}
