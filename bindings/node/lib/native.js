'use strict';
// Loads the native addon built by `npm install` (napi build → native/klog.node).
const { join } = require('node:path');

const path = join(__dirname, '..', 'native', 'klog.node');
try {
  module.exports = require(path);
} catch (e) {
  e.message = `klog: cannot load the native addon ${path} (run \`npm run build\` in bindings/node): ${e.message}`;
  throw e;
}
