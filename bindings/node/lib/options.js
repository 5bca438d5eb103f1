'use strict';
// Client options: camelCase names map to Kafka's dotted names
// (`lingerMs` → `linger.ms`, `groupId` → `group.id`); names with a dot pass as
// they are. Values become strings (arrays are joined with commas).

const { invalid } = require('./errors');
const { raw } = require('./handle');

function kafkaName(key) {
  return key.includes('.') ? key : key.replace(/[A-Z]/g, (c) => `.${c.toLowerCase()}`);
}

function text(key, value) {
  if (Array.isArray(value)) return value.map(String).join(',');
  if (['string', 'number', 'boolean', 'bigint'].includes(typeof value)) return String(value);
  throw invalid(`option ${key} must be a string, number, boolean or array`);
}

/**
 * Splits `options` into the embedded broker (if any) and `[kafkaName, value]` pairs.
 * @returns {{ embedded: object | null, pairs: [string, string][] }}
 */
function toNative(options = {}) {
  if (options === null || typeof options !== 'object') throw invalid('options must be an object');
  const pairs = [];
  let embedded = null;
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (key === 'embedded') {
      if (value === null || typeof value !== 'object' || !value[raw]) throw invalid('embedded must be a broker from open()');
      embedded = value[raw];
      continue;
    }
    pairs.push([kafkaName(key), text(key, value)]);
  }
  return { embedded, pairs };
}

module.exports = { toNative, kafkaName };
