'use strict';
// klog errors: plain `Error` objects with a stable `code` ('KLOG_<KIND>'),
// `retriable`, and `kafkaCode` when a broker answered with a Kafka error code.
// The native addon builds them (src/error.rs); this module names the codes.

/** Every `code` a klog error can carry. */
const codes = Object.freeze({
  INVALID: 'KLOG_INVALID',
  NOT_FOUND: 'KLOG_NOT_FOUND',
  ALREADY_EXISTS: 'KLOG_ALREADY_EXISTS',
  UNAVAILABLE: 'KLOG_UNAVAILABLE',
  NOT_LEADER: 'KLOG_NOT_LEADER',
  TIMEOUT: 'KLOG_TIMEOUT',
  FENCED: 'KLOG_FENCED',
  CLOSED: 'KLOG_CLOSED',
  CORRUPT: 'KLOG_CORRUPT',
  IO: 'KLOG_IO',
  INTERNAL: 'KLOG_INTERNAL',
});

const known = new Set(Object.values(codes));

/** `err instanceof KlogError` is true for every error klog throws. */
class KlogError extends Error {
  static [Symbol.hasInstance](value) {
    return value instanceof Error && known.has(value.code);
  }
}

/** A KLOG_INVALID error raised by the JavaScript layer (bad arguments). */
function invalid(message) {
  const err = new TypeError(`invalid: ${message}`);
  err.code = codes.INVALID;
  err.retriable = false;
  return err;
}

module.exports = { codes, KlogError, invalid };
