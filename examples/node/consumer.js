// Consumes a topic in a group, committing after each batch; Ctrl-C stops it.
//   node examples/node/consumer.js [bootstrap] [topic] [group]
// The bootstrap defaults to $KLOG_BOOTSTRAP or localhost:9092.
const klog = require('../../bindings/node');

async function main() {
  const [bootstrap = process.env.KLOG_BOOTSTRAP ?? 'localhost:9092', topic = 'events', group = 'examples'] =
    process.argv.slice(2);
  const consumer = await klog.Consumer.connect({
    bootstrapServers: bootstrap,
    groupId: group,
    autoOffsetReset: 'earliest',
    enableAutoCommit: false,
  });
  process.once('SIGINT', () => consumer.close());
  await consumer.subscribe(topic);
  // The loop ends when the consumer is closed.
  for await (const batch of consumer.batches()) {
    for (const record of batch) {
      console.log(`${record.partition}@${record.offset} ${record.keyString()} ${record.valueString()}`);
    }
    await consumer.commit();
  }
}

main().catch((e) => {
  console.error(`${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
