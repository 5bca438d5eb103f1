// Produces records to a Kafka-compatible server (klog-server, Kafka, Redpanda).
//   node examples/node/producer.js [bootstrap] [topic] [count]
// The bootstrap defaults to $KLOG_BOOTSTRAP or localhost:9092.
const klog = require('../../bindings/node');

async function main() {
  const [bootstrap = process.env.KLOG_BOOTSTRAP ?? 'localhost:9092', topic = 'events', count = '10'] =
    process.argv.slice(2);
  const producer = await klog.Producer.connect({ bootstrapServers: bootstrap, lingerMs: 5 });
  try {
    // One Promise per record...
    const first = await producer.send({ topic, key: 'first', value: JSON.stringify({ n: 0 }) });
    console.log(`first record at partition ${first.partition}, offset ${first.offset}`);
    // ...or many records per call.
    const records = Array.from({ length: Number(count) }, (_, i) => ({
      topic,
      key: `key-${i % 3}`,
      value: JSON.stringify({ n: i + 1 }),
      headers: [['source', 'examples/node/producer.js']],
    }));
    const reports = await producer.sendBatch(records);
    console.log(`sent ${reports.length} more; last at offset ${reports.at(-1)?.offset}`);
  } finally {
    await producer.close();
  }
}

main().catch((e) => {
  console.error(`${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
