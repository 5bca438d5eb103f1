'use strict';
// The lifecycle every klog object shares: `close()` (alias `disconnect()`),
// `closed`, and `await using` through `Symbol.asyncDispose` where it exists.

const { KlogError, invalid } = require('./errors');

/** The unwrapped native object of a handle (what native functions take as arguments). */
const raw = Symbol('klog.raw');

/**
 * `native` with napi's argument-conversion errors (thrown before any I/O, with
 * napi's own codes such as 'StringExpected') turned into KLOG_INVALID errors.
 */
function guarded(native) {
  return new Proxy(native, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      return (...args) => {
        try {
          return value.apply(target, args);
        } catch (e) {
          if (e instanceof KlogError) throw e;
          throw Object.assign(invalid(e.message), { cause: e });
        }
      };
    },
  });
}

class Handle {
  /** @param {object} native the native object this one wraps */
  constructor(native) {
    /** @internal */
    this.native = guarded(native);
    /** @internal */
    this[raw] = native;
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

module.exports = { Handle, raw };
