// Produces one record per key with kafkajs's DefaultPartitioner (Java-compatible
// murmur2), then prints `{"key": partition}` as JSON. Used by test_klog_cli.py.
// Usage: node produce-keys.cjs BOOTSTRAP TOPIC KEY...
'use strict';
const { Kafka, logLevel, Partitioners } = require('kafkajs');

async function main() {
  const [bootstrap, topic, ...keys] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'klog-cli-interop', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const result = {};
  for (const key of keys) {
    const [meta] = await producer.send({ topic, messages: [{ key, value: `v-${key}` }] });
    result[key] = meta.partition;
  }
  await producer.disconnect();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
