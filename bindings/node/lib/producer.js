'use strict';
const native = require('./native');
const { Handle } = require('./handle');
const { toNative } = require('./options');
const { encodeRecords, decodeMetadata } = require('./codec');

/** A producer: `send()` per record, or `sendBatch()` for many records in one call. */
class Producer extends Handle {
  /**
   * Connects to `bootstrapServers` or an `embedded` broker; other options are
   * Kafka producer options (`lingerMs`, `acks`, `compressionType`, or 'linger.ms', ...).
   */
  static async connect(options) {
    const { embedded, pairs } = toNative(options);
    return new Producer(await native.connectProducer(embedded, pairs));
  }

  /** Sends one record; resolves to `{ topic, partition, offset, timestamp }` once stored. */
  async send(record) {
    const reports = await this.sendBatch([record]);
    return reports[0];
  }

  /**
   * Sends many records in one call (in order); resolves to their delivery
   * reports once every one is stored, or rejects with the first failure.
   */
  async sendBatch(records) {
    const encoded = encodeRecords(records);
    return decodeMetadata(await this.native.send(encoded), records);
  }

  /** Waits until every record sent so far is stored or failed. */
  async flush() {
    await this.native.flush();
  }
}

module.exports = { Producer };
