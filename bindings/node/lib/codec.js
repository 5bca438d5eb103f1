'use strict';
// The JavaScript side of the batch layouts in src/codec.rs: records cross the
// native boundary as one Buffer per batch (little-endian; offsets and
// timestamps as f64).

const { invalid } = require('./errors');

/** A consumed record. `key`, `value` and header values are Buffers (or null). */
class Record {
  constructor(topic, partition, offset, timestamp, key, value, headers) {
    /** @type {string} */ this.topic = topic;
    /** @type {number} */ this.partition = partition;
    /** @type {number} */ this.offset = offset;
    /** @type {number} ms since the epoch */ this.timestamp = timestamp;
    /** @type {Buffer | null} */ this.key = key;
    /** @type {Buffer | null} */ this.value = value;
    /** @type {[string, Buffer | null][]} in record order, duplicates kept (frozen when empty) */
    this.headers = headers;
  }

  /** The key as a string (null for a null key). */
  keyString(encoding = 'utf8') {
    return this.key === null ? null : this.key.toString(encoding);
  }

  /** The value as a string (null for a null value). */
  valueString(encoding = 'utf8') {
    return this.value === null ? null : this.value.toString(encoding);
  }

  /** The value of the first header named `name` (undefined if none). */
  header(name) {
    const found = this.headers.find(([k]) => k === name);
    return found === undefined ? undefined : found[1];
  }
}

/** Key, value or header value as bytes: Buffer, Uint8Array, string or null. */
function bytes(what, v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw invalid(`${what} must be a Buffer, Uint8Array, string or null`);
}

function size(v) {
  return v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/** Headers as `[key, value]` pairs from an array of pairs or an object (array values repeat a key). */
function headerPairs(headers) {
  if (headers === undefined || headers === null) return [];
  const pairs = Array.isArray(headers)
    ? headers
    : Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]));
  return pairs.map((pair) => {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string') throw invalid('a header must be a [string, value] pair');
    return [pair[0], bytes('a header value', pair[1])];
  });
}

/** Encodes records to produce: `{ topic, value, key?, partition?, timestamp?, headers? }`. */
function encodeRecords(records) {
  if (!Array.isArray(records)) throw invalid('records must be an array');
  const topics = new Map();
  const rows = new Array(records.length);
  let total = 6;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r === null || typeof r !== 'object') throw invalid('a record must be an object');
    if (typeof r.topic !== 'string' || r.topic === '') throw invalid('a record needs a topic');
    let t = topics.get(r.topic);
    if (t === undefined) {
      t = topics.size;
      topics.set(r.topic, t);
      total += 2 + Buffer.byteLength(r.topic);
    }
    const key = bytes('key', r.key);
    const value = bytes('value', r.value);
    const headers = headerPairs(r.headers);
    total += 30 + size(key) + size(value);
    for (const [k, v] of headers) total += 8 + Buffer.byteLength(k) + size(v);
    rows[i] = { t, key, value, headers, partition: r.partition ?? -1, timestamp: timestampOf(r.timestamp) };
  }
  const buf = Buffer.allocUnsafe(total);
  let o = buf.writeUInt16LE(topics.size, 0);
  for (const name of topics.keys()) {
    const n = buf.write(name, o + 2);
    buf.writeUInt16LE(n, o);
    o += 2 + n;
  }
  o = buf.writeUInt32LE(rows.length, o);
  for (const row of rows) {
    o = buf.writeUInt16LE(row.t, o);
    o = buf.writeInt32LE(row.partition, o);
    o = buf.writeDoubleLE(row.timestamp, o);
    o = putNullable(buf, o, row.key);
    o = putNullable(buf, o, row.value);
    o = buf.writeUInt32LE(row.headers.length, o);
    for (const [k, v] of row.headers) {
      const n = buf.write(k, o + 4);
      buf.writeUInt32LE(n, o);
      o = putNullable(buf, o + 4 + n, v);
    }
  }
  return o === total ? buf : buf.subarray(0, o);
}

function timestampOf(ts) {
  if (ts === undefined || ts === null) return -1;
  if (ts instanceof Date) return ts.getTime();
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) throw invalid('timestamp must be ms since the epoch');
  return ts;
}

function putNullable(buf, o, v) {
  if (v === null) return buf.writeInt32LE(-1, o);
  if (typeof v === 'string') {
    const n = buf.write(v, o + 4);
    buf.writeInt32LE(n, o);
    return o + 4 + n;
  }
  buf.writeInt32LE(v.length, o);
  buf.set(v, o + 4);
  return o + 4 + v.length;
}

/** Delivery reports for `records` from the encoded metadata. */
function decodeMetadata(buf, records) {
  const out = new Array(records.length);
  for (let i = 0, o = 0; i < records.length; i++, o += 20) {
    out[i] = {
      topic: records[i].topic,
      partition: buf.readInt32LE(o),
      offset: buf.readDoubleLE(o + 4),
      timestamp: buf.readDoubleLE(o + 12),
    };
  }
  return out;
}

/** The headers of every record without headers (frozen: one shared array). */
const NO_HEADERS = Object.freeze([]);

/** Consumed records from an encoded batch; keys and values are views into `buf`. */
function decodeRecords(buf) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  const topics = new Array(view.getUint16(o, true));
  o += 2;
  for (let i = 0; i < topics.length; i++) {
    const n = view.getUint16(o, true);
    topics[i] = buf.toString('utf8', o + 2, o + 2 + n);
    o += 2 + n;
  }
  const count = view.getUint32(o, true);
  o += 4;
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const topic = topics[view.getUint16(o, true)];
    const partition = view.getInt32(o + 2, true);
    const offset = view.getFloat64(o + 6, true);
    const timestamp = view.getFloat64(o + 14, true);
    o += 22;
    let n = view.getInt32(o, true);
    const key = n < 0 ? null : buf.subarray(o + 4, o + 4 + n);
    o += 4 + (n < 0 ? 0 : n);
    n = view.getInt32(o, true);
    const value = n < 0 ? null : buf.subarray(o + 4, o + 4 + n);
    o += 4 + (n < 0 ? 0 : n);
    const headerCount = view.getUint32(o, true);
    o += 4;
    const headers = headerCount === 0 ? NO_HEADERS : new Array(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const kn = view.getUint32(o, true);
      const k = buf.toString('utf8', o + 4, o + 4 + kn);
      o += 4 + kn;
      const vn = view.getInt32(o, true);
      headers[h] = [k, vn < 0 ? null : buf.subarray(o + 4, o + 4 + vn)];
      o += 4 + (vn < 0 ? 0 : vn);
    }
    out[i] = new Record(topic, partition, offset, timestamp, key, value, headers);
  }
  return out;
}

module.exports = { Record, encodeRecords, decodeMetadata, decodeRecords };
