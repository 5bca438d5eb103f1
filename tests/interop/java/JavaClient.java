import java.time.Duration;
import java.util.*;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.*;

/**
 * Drives klog-server with the Apache Kafka Java client: admin create topic,
 * idempotent produce (the client's default) with compression and duplicate
 * header keys, then a consumer group that reads everything and commits.
 * Prints one line per check; exits non-zero on any mismatch.
 * Usage: java JavaClient.java BOOTSTRAP TOPIC COMPRESSION COUNT
 */
public class JavaClient {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], compression = args[2];
        int count = Integer.parseInt(args[3]);
        Properties common = new Properties();
        common.put("bootstrap.servers", bootstrap);

        try (Admin admin = Admin.create(common)) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
            System.out.println("created " + admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size() + " partitions");
        }

        Properties p = new Properties();
        p.putAll(common);
        p.put("compression.type", compression);
        p.put("linger.ms", "5");
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (Producer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < count; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, "k" + i, "v" + i);
                r.headers().add("h", "1".getBytes()).add("h", "2".getBytes());
                sent.add(producer.send(r));
            }
            producer.flush();
        }
        Map<Integer, Long> next = new HashMap<>();
        for (Future<RecordMetadata> f : sent) {
            RecordMetadata m = f.get();
            long expected = next.getOrDefault(m.partition(), 0L);
            if (m.offset() != expected) throw new AssertionError("partition " + m.partition() + " offset " + m.offset() + " expected " + expected);
            next.put(m.partition(), expected + 1);
        }
        System.out.println("produced " + sent.size());

        Properties c = new Properties();
        c.putAll(common);
        c.put("group.id", "java-" + topic);
        c.put("auto.offset.reset", "earliest");
        c.put("enable.auto.commit", "false");
        Set<String> seen = new HashSet<>();
        try (Consumer<String, String> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60_000;
            while (seen.size() < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    List<String> values = new ArrayList<>();
                    for (Header h : r.headers().headers("h")) values.add(new String(h.value()));
                    if (!values.equals(List.of("1", "2"))) throw new AssertionError("headers " + values);
                    if (!r.value().equals("v" + r.key().substring(1))) throw new AssertionError("value " + r.value());
                    seen.add(r.key());
                }
            }
            consumer.commitSync();
            Map<org.apache.kafka.common.TopicPartition, OffsetAndMetadata> committed =
                consumer.committed(consumer.assignment());
            long total = committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
            System.out.println("consumed " + seen.size() + " committed " + total);
        }
        if (seen.size() != count) throw new AssertionError("consumed " + seen.size() + " of " + count);
    }
}
