'use strict';
// The lifecycle every klog object shares: `close()` (alias `disconnect()`),
// `closed`, and `await using` through `Symbol.asyncDispose` where it exists.

class Handle {
  /** @param {object} native the native object this one wraps */
  constructor(native) {
    /** @internal */
    this.native = native;
  }

  /** Whether `close()` was called; later calls reject with KLOG_CLOSED. */
  get closed() {
    return this.native.closed;
  }

  /** Releases the object; idempotent. */
  async close() {
    await this.native.close();
  }

  /** Alias of `close()` (the kafkajs name). */
  disconnect() {
    return this.close();
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  Handle.prototype[Symbol.asyncDispose] = function dispose() {
    return this.close();
  };
}

module.exports = { Handle };
