/* libklog against librdkafka's C API on the same klog-server, in one run:
 * produce COUNT records of SIZE bytes to a one-partition topic per client, then
 * consume them back, with the same settings where both clients have them
 * (acks, linger.ms, batch.size, buffer memory, no compression); both consume
 * in batches (librdkafka's rd_kafka_consume_batch_queue). Prints a Markdown table.
 *
 *   c_bench HOST:PORT [COUNT [SIZE]]     (bench/c_bench.sh builds and runs it)
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <klog.h>
#include <librdkafka/rdkafka.h>

#define ACKS "1"
#define LINGER_MS "5"
#define BATCH_BYTES "1048576"
#define BUFFER_KBYTES 32768

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "c_bench: %s: %s\n", what, detail);
    exit(1);
}

static void klog_check(klog_status status, const char *what) {
    if (status == KLOG_OK) return;
    char message[512];
    klog_last_error_message(message, sizeof message);
    die(what, message);
}

/* Seconds to produce and to consume COUNT records. */
struct result {
    double produce;
    double consume;
};

static struct result bench_klog(const char *bootstrap, const char *topic, long count, size_t size, const char *value) {
    struct result result;
    char buffer_memory[32];
    snprintf(buffer_memory, sizeof buffer_memory, "%d", BUFFER_KBYTES * 1024);
    klog_config *config = NULL;
    klog_check(klog_config_new(&config), "klog_config_new");
    const char *settings[][2] = {
        {"bootstrap.servers", bootstrap}, {"acks", ACKS}, {"linger.ms", LINGER_MS}, {"batch.size", BATCH_BYTES},
        {"buffer.memory", buffer_memory}, {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        klog_check(klog_config_set(config, settings[i][0], settings[i][1]), settings[i][0]);
    }
    klog_admin *admin = NULL;
    klog_check(klog_admin_new(config, &admin), "klog_admin_new");
    klog_check(klog_admin_create_topic(admin, topic, 1, -1), "klog_admin_create_topic");
    klog_admin_free(admin);

    klog_producer *producer = NULL;
    klog_check(klog_producer_new(config, &producer), "klog_producer_new");
    klog_producer_record record = {
        .topic = topic, .partition = 0, .value = (const uint8_t *)value, .value_len = size,
        .timestamp = KLOG_TIMESTAMP_NOW};
    double start = now();
    for (long i = 0; i < count; i++) {
        klog_check(klog_producer_send(producer, &record, NULL), "klog_producer_send");
    }
    klog_check(klog_producer_flush(producer, -1), "klog_producer_flush");
    result.produce = now() - start;
    klog_check(klog_producer_close(producer), "klog_producer_close");
    klog_producer_free(producer);

    klog_consumer *consumer = NULL;
    klog_check(klog_consumer_new(config, &consumer), "klog_consumer_new");
    klog_config_free(config);
    klog_topic_partition tp = {.topic = topic, .partition = 0};
    start = now();
    klog_check(klog_consumer_assign(consumer, &tp, 1), "klog_consumer_assign");
    long seen = 0;
    size_t bytes = 0;
    while (seen < count) {
        klog_records *records = NULL;
        klog_check(klog_consumer_poll(consumer, 1000, &records), "klog_consumer_poll");
        size_t n = klog_records_len(records);
        for (size_t i = 0; i < n; i++) {
            size_t len = 0;
            klog_record_value(klog_records_get(records, i), &len);
            bytes += len;
        }
        seen += (long)n;
        klog_records_free(records);
    }
    result.consume = now() - start;
    if (bytes != (size_t)count * size) die("libklog consume", "wrong byte count");
    klog_consumer_free(consumer);
    return result;
}

static long rd_failed;

static void rd_delivered(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk;
    (void)opaque;
    if (message->err) rd_failed++;
}

static rd_kafka_conf_t *rd_conf(const char *bootstrap, const char *const settings[][2], size_t n) {
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, error, sizeof error) != RD_KAFKA_CONF_OK) {
        die("bootstrap.servers", error);
    }
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], error, sizeof error) != RD_KAFKA_CONF_OK) {
            die(settings[i][0], error);
        }
    }
    return conf;
}

static struct result bench_rdkafka(const char *bootstrap, const char *topic, long count, size_t size,
                                   const char *value) {
    struct result result;
    char error[512], buffer_kbytes[32];
    snprintf(buffer_kbytes, sizeof buffer_kbytes, "%d", BUFFER_KBYTES);
    const char *producer_settings[][2] = {
        {"acks", ACKS}, {"linger.ms", LINGER_MS}, {"batch.size", BATCH_BYTES},
        {"batch.num.messages", "1000000"}, {"queue.buffering.max.kbytes", buffer_kbytes},
        {"queue.buffering.max.messages", "10000000"}, {"compression.codec", "none"},
    };
    rd_kafka_conf_t *conf = rd_conf(bootstrap, producer_settings, sizeof producer_settings / sizeof producer_settings[0]);
    rd_kafka_conf_set_dr_msg_cb(conf, rd_delivered);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer) die("rd_kafka_new", error);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, topic, NULL);
    /* The topic is auto-created by the first record; not timed. */
    if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)value, size, NULL, 0, NULL) != 0) {
        die("rd_kafka_produce", rd_kafka_err2str(rd_kafka_last_error()));
    }
    rd_kafka_flush(producer, 30000);
    double start = now();
    for (long i = 1; i < count; i++) {
        while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)value, size, NULL, 0, NULL) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                die("rd_kafka_produce", rd_kafka_err2str(rd_kafka_last_error()));
            }
            rd_kafka_poll(producer, 1);
        }
        rd_kafka_poll(producer, 0);
    }
    if (rd_kafka_flush(producer, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("rd_kafka_flush", "timed out");
    result.produce = (now() - start) * (double)count / (double)(count - 1);
    if (rd_failed) die("librdkafka produce", "some records failed");
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(producer);

    /* Its batch API, as libklog's poll returns batches; a deep prefetch queue. */
    const char *consumer_settings[][2] = {
        {"group.id", "c-bench"}, {"enable.auto.commit", "false"}, {"auto.offset.reset", "earliest"},
        {"queued.min.messages", "1000000"}, {"fetch.wait.max.ms", "100"},
    };
    conf = rd_conf(bootstrap, consumer_settings, sizeof consumer_settings / sizeof consumer_settings[0]);
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer) die("rd_kafka_new", error);
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    enum { BATCH = 10000 };
    rd_kafka_message_t **messages = malloc(BATCH * sizeof *messages);
    start = now();
    if (rd_kafka_assign(consumer, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) die("rd_kafka_assign", "failed");
    rd_kafka_topic_partition_list_destroy(parts);
    long seen = 0;
    size_t bytes = 0;
    while (seen < count) {
        ssize_t n = rd_kafka_consume_batch_queue(queue, 1000, messages, BATCH);
        if (n < 0) die("rd_kafka_consume_batch_queue", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *message = messages[i];
            if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                seen++;
                bytes += message->len;
            } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                die("rd_kafka_consume_batch_queue", rd_kafka_message_errstr(message));
            }
            rd_kafka_message_destroy(message);
        }
    }
    result.consume = now() - start;
    if (bytes != (size_t)count * size) die("librdkafka consume", "wrong byte count");
    free(messages);
    rd_kafka_queue_destroy(queue);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return result;
}

static void row(const char *name, long count, size_t size, double seconds) {
    printf("| %s | %.2f | %.0f | %.1f |\n", name, seconds, (double)count / seconds,
           (double)count * (double)size / seconds / 1e6);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: c_bench HOST:PORT [COUNT [SIZE]]\n");
        return 2;
    }
    const char *bootstrap = argv[1];
    long count = argc > 2 ? atol(argv[2]) : 1000000;
    size_t size = argc > 3 ? (size_t)atol(argv[3]) : 100;
    if (count < 2 || size == 0) die("arguments", "COUNT must be at least 2 and SIZE positive");
    char *value = malloc(size);
    memset(value, 'x', size);
    char klog_topic[64], rd_topic[64];
    snprintf(klog_topic, sizeof klog_topic, "c-bench-libklog-%ld", (long)getpid());
    snprintf(rd_topic, sizeof rd_topic, "c-bench-librdkafka-%ld", (long)getpid());

    struct result rd = bench_rdkafka(bootstrap, rd_topic, count, size, value);
    struct result kl = bench_klog(bootstrap, klog_topic, count, size, value);
    klog_shutdown();
    free(value);

    printf("%ld records x %zu B, one partition, acks=%s, linger.ms=%s, batch.size=%s, no compression; "
           "librdkafka %s, libklog %s\n\n",
           count, size, ACKS, LINGER_MS, BATCH_BYTES, rd_kafka_version_str(), klog_version());
    printf("| client | seconds | records/s | MB/s |\n|---|---:|---:|---:|\n");
    row("librdkafka produce", count, size, rd.produce);
    row("libklog produce", count, size, kl.produce);
    row("librdkafka consume", count, size, rd.consume);
    row("libklog consume", count, size, kl.consume);
    printf("\n| ratio libklog / librdkafka (records/s) | produce | consume |\n|---|---:|---:|\n");
    printf("| | %.2f | %.2f |\n", rd.produce / kl.produce, rd.consume / kl.consume);
    return 0;
}
