'use strict';
const native = require('./native');
const { Handle } = require('./handle');
const { toNative } = require('./options');
const { decodeRecords } = require('./codec');
const { codes, invalid } = require('./errors');

const DEFAULT_POLL_MS = 1000;

function topicList(topics) {
  const list = typeof topics === 'string' ? [topics] : topics;
  if (!Array.isArray(list) || list.length === 0) throw invalid('subscribe needs a topic or an array of topics');
  return list;
}

/** A consumer: `poll()` for a batch, or `for await (const record of consumer)`. */
class Consumer extends Handle {
  /**
   * Connects to `bootstrapServers` or an `embedded` broker; other options are
   * Kafka consumer options (`groupId`, `autoOffsetReset`, `enableAutoCommit`, ...).
   */
  static async connect(options) {
    const { embedded, pairs } = toNative(options);
    return new Consumer(await native.connectConsumer(embedded, pairs));
  }

  /** Joins the group (`groupId`) and consumes `topics`. */
  async subscribe(topics) {
    await this.native.subscribe(topicList(topics));
  }

  /** Consumes exactly these `{ topic, partition }`s, without a group. */
  async assign(partitions) {
    await this.native.assign(partitions);
  }

  /** The `{ topic, partition }`s assigned now. */
  assignment() {
    return this.native.assignment();
  }

  /** The group member id (null before joining or without a group). */
  get memberId() {
    return this.native.memberId;
  }

  /** The group generation (-1 outside a group). */
  get generation() {
    return this.native.generation;
  }

  /** Up to `maxPollRecords` records, waiting at most `timeoutMs` for the first ([] if none came). */
  async poll(timeoutMs = DEFAULT_POLL_MS) {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw invalid('timeoutMs must be a non-negative integer');
    return decodeRecords(await this.native.poll(Math.min(timeoutMs, 0xffffffff)));
  }

  /**
   * Batches of records until the consumer is closed (an empty poll yields nothing).
   * Leaving the loop early does not close the consumer.
   */
  async *batches({ timeoutMs = DEFAULT_POLL_MS } = {}) {
    while (!this.closed) {
      let batch;
      try {
        batch = await this.poll(timeoutMs);
      } catch (e) {
        if (e.code === codes.CLOSED && this.closed) return;
        throw e;
      }
      if (batch.length > 0) yield batch;
    }
  }

  /** `for await (const record of consumer)`: every record until the consumer is closed. */
  async *[Symbol.asyncIterator]() {
    for await (const batch of this.batches()) yield* batch;
  }

  /** Commits `[{ topic, partition, offset }]` (offset = next to read), or every position. */
  async commit(offsets) {
    await this.native.commit(offsets ?? null);
  }

  /** Committed offsets of `{ topic, partition }`s (offset null where none). */
  committed(partitions) {
    return this.native.committed(partitions);
  }

  /** The offset of the next record to read from `{ topic, partition }`. */
  position(partition) {
    return this.native.position(partition);
  }

  /** Reads `{ topic, partition }` from `offset` next. */
  async seek(partition, offset) {
    await this.native.seek(partition, offset);
  }

  /** Reads the partitions (default: the assignment) from their first offset next. */
  async seekToBeginning(partitions = this.assignment()) {
    await this.native.seekToBeginning(partitions);
  }

  /** Reads the partitions (default: the assignment) from their end next. */
  async seekToEnd(partitions = this.assignment()) {
    await this.native.seekToEnd(partitions);
  }

  /** Stops fetching these partitions until `resume()`. */
  pause(partitions) {
    this.native.pause(partitions);
  }

  /** Fetches these partitions again. */
  resume(partitions) {
    this.native.resume(partitions);
  }

  /** The paused partitions. */
  paused() {
    return this.native.paused();
  }

  /** `[{ topic, partition, offset }]`: records between each position and the partition end. */
  lag() {
    return this.native.lag();
  }
}

module.exports = { Consumer };
