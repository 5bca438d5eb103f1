#!/usr/bin/env node
// Builds the native addon with cargo and copies it to native/klog.node.
// Needs only node and cargo, so `npm install` works even where npm installs
// no dependencies first (a linked folder outside the installing project).
// `--debug` builds without optimizations. The generated native/index.d.ts is
// committed; `npm run build:napi` (the napi CLI) regenerates it.
'use strict';
const { spawnSync } = require('node:child_process');
const { copyFileSync, mkdirSync, renameSync } = require('node:fs');
const { join } = require('node:path');

const pkg = join(__dirname, '..');
const release = !process.argv.includes('--debug');
const args = ['build', '--lib', '--manifest-path', join(pkg, 'Cargo.toml'), '--message-format=json-render-diagnostics'];
if (release) args.push('--release');

const cargo = spawnSync(process.env.CARGO || 'cargo', args, {
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
if (cargo.error) throw new Error(`klog: cannot run cargo (a Rust toolchain is needed): ${cargo.error.message}`);
if (cargo.status !== 0) process.exit(cargo.status ?? 1);

const library = cargo.stdout
  .split('\n')
  .filter((line) => line.startsWith('{'))
  .map((line) => JSON.parse(line))
  .filter((m) => m.reason === 'compiler-artifact' && m.target.name === 'klog_node')
  .flatMap((m) => m.filenames)
  .find((f) => /\.(so|dylib|dll)$/.test(f));
if (!library) throw new Error('klog: cargo built no klog_node library');

mkdirSync(join(pkg, 'native'), { recursive: true });
// Copy then rename: a process that has the old addon loaded keeps its mapping.
const target = join(pkg, 'native', 'klog.node');
copyFileSync(library, `${target}.tmp`);
renameSync(`${target}.tmp`, target);
console.error(`klog: built ${target} (${release ? 'release' : 'debug'})`);
