/* Produce ten records and read them back with libklog.
 *
 *   produce_consume              an embedded broker in a temporary directory
 *   produce_consume HOST:PORT    a Kafka-compatible broker (klog-server, Kafka, Redpanda)
 *
 * Build: make -C examples/c (see the Makefile). */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <klog.h>

/* Prints the failed call and klog's message, then exits. */
static void check(klog_status status, const char *what) {
    if (status == KLOG_OK) return;
    char message[512];
    klog_last_error_message(message, sizeof message);
    fprintf(stderr, "%s failed: %s: %s\n", what, klog_status_name(status), message);
    exit(1);
}

int main(int argc, char **argv) {
    const char *topic = "c-example";
    klog_embedded *broker = NULL;
    klog_config *config = NULL;
    klog_producer *producer = NULL;
    klog_consumer *consumer = NULL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/klog-c-example-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");

    check(klog_config_new(&config), "klog_config_new");
    check(klog_config_set(config, "linger.ms", "5"), "klog_config_set");
    if (argc > 1) {
        check(klog_config_set(config, "bootstrap.servers", argv[1]), "klog_config_set");
        check(klog_producer_new(config, &producer), "klog_producer_new");
        check(klog_consumer_new(config, &consumer), "klog_consumer_new");
    } else {
        if (!mkdtemp(dir)) return 1;
        check(klog_embedded_open(dir, &broker), "klog_embedded_open");
        check(klog_embedded_producer_new(broker, config, &producer), "klog_embedded_producer_new");
        check(klog_embedded_consumer_new(broker, config, &consumer), "klog_embedded_consumer_new");
    }
    klog_config_free(config);

    /* Send ten records to partition 0; keep a delivery handle for the first to learn its offset. */
    int64_t first_offset = -1;
    for (int i = 0; i < 10; i++) {
        char key[16], value[32];
        int key_len = snprintf(key, sizeof key, "key-%d", i);
        int value_len = snprintf(value, sizeof value, "hello from C #%d", i);
        klog_producer_record record = {
            .topic = topic,
            .partition = 0,
            .key = (const uint8_t *)key,
            .key_len = (size_t)key_len,
            .value = (const uint8_t *)value,
            .value_len = (size_t)value_len,
            .timestamp = KLOG_TIMESTAMP_NOW,
        };
        klog_delivery *delivery = NULL;
        check(klog_producer_send(producer, &record, i == 0 ? &delivery : NULL), "klog_producer_send");
        if (delivery) {
            klog_record_metadata stored;
            check(klog_delivery_wait(delivery, 10000, &stored), "klog_delivery_wait");
            first_offset = stored.offset;
            klog_delivery_free(delivery);
        }
    }
    check(klog_producer_flush(producer, 10000), "klog_producer_flush");
    printf("produced 10 records to %s-0 from offset %lld\n", topic, (long long)first_offset);

    /* Read them back from that offset. */
    klog_topic_partition partition = {.topic = topic, .partition = 0};
    check(klog_consumer_assign(consumer, &partition, 1), "klog_consumer_assign");
    check(klog_consumer_seek(consumer, topic, 0, first_offset), "klog_consumer_seek");
    int seen = 0;
    for (int attempt = 0; attempt < 100 && seen < 10; attempt++) {
        klog_records *records = NULL;
        check(klog_consumer_poll(consumer, 100, &records), "klog_consumer_poll");
        for (size_t i = 0; i < klog_records_len(records) && seen < 10; i++, seen++) {
            const klog_record *r = klog_records_get(records, i);
            size_t key_len = 0, value_len = 0;
            const uint8_t *key = klog_record_key(r, &key_len);
            const uint8_t *value = klog_record_value(r, &value_len);
            printf("%s-%d@%lld %.*s = %.*s\n", klog_record_topic(r), klog_record_partition(r),
                   (long long)klog_record_offset(r), (int)key_len, (const char *)key, (int)value_len,
                   (const char *)value);
        }
        klog_records_free(records);
    }

    check(klog_producer_close(producer), "klog_producer_close");
    klog_producer_free(producer);
    check(klog_consumer_close(consumer), "klog_consumer_close");
    klog_consumer_free(consumer);
    if (broker) {
        check(klog_embedded_close(broker), "klog_embedded_close");
        klog_embedded_free(broker);
    }
    klog_shutdown();
    if (seen != 10) {
        fprintf(stderr, "read %d of 10 records\n", seen);
        return 1;
    }
    return 0;
}
