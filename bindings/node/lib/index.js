'use strict';
// klog for Node.js: a Kafka client (Producer, Consumer, Admin) and a broker
// that runs inside the process (open). See README.md.
const { Producer } = require('./producer');
const { Consumer } = require('./consumer');
const { Admin } = require('./admin');
const { Embedded, open } = require('./embedded');
const { Record } = require('./codec');
const { KlogError, codes } = require('./errors');

module.exports = { Producer, Consumer, Admin, Embedded, open, Record, KlogError, codes };
