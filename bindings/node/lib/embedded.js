'use strict';
const native = require('./native');
const { Handle } = require('./handle');
const { Producer } = require('./producer');
const { Consumer } = require('./consumer');
const { Admin } = require('./admin');

/** A broker inside this process, stored in a directory (like SQLite). */
class Embedded extends Handle {
  constructor(nativeEmbedded, dir) {
    super(nativeEmbedded);
    /** The broker directory. */
    this.dir = dir;
    /** "host:port" the broker listens on, or null (see `listen()`). */
    this.address = null;
  }

  /** Serves the broker on TCP (`addr` "host:port", port 0 picks one); resolves to the bound "host:port". */
  async listen(addr = '127.0.0.1:0') {
    this.address = await this.native.listen(addr);
    return this.address;
  }

  /** A producer reaching this broker in process (`options` as for `Producer.connect`). */
  producer(options = {}) {
    return Producer.connect({ ...options, embedded: this });
  }

  /** A consumer reaching this broker in process (`options` as for `Consumer.connect`). */
  consumer(options = {}) {
    return Consumer.connect({ ...options, embedded: this });
  }

  /** An admin client reaching this broker in process. */
  admin(options = {}) {
    return Admin.connect({ ...options, embedded: this });
  }
}

/**
 * Opens (or creates) a broker in `dir`. With `{ listen: 'host:port' }` it also
 * serves Kafka clients on TCP; `embedded.address` is then the bound address.
 */
async function open(dir, { listen } = {}) {
  const embedded = new Embedded(await native.openEmbedded(String(dir)), String(dir));
  if (listen !== undefined) {
    try {
      await embedded.listen(listen);
    } catch (e) {
      await embedded.close();
      throw e;
    }
  }
  return embedded;
}

module.exports = { Embedded, open };
