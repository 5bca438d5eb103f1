/* Reads every partition of a topic from the beginning with librdkafka's batch
 * API (rd_kafka_consume_batch_queue, a deep prefetch queue), a consumer fast
 * enough that the broker's serving shows. Prints "RATE SECONDS": records per
 * second and the seconds from assignment to the last record.
 *
 *   rdkafka_consume HOST:PORT TOPIC PARTITIONS COUNT
 * (bench/consume_vs_kafka.py builds and runs it with CLIENTS=rdkafka.)
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "rdkafka_consume: %s: %s\n", what, detail);
    exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, key, value, error, sizeof error) != RD_KAFKA_CONF_OK) die(key, error);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: rdkafka_consume HOST:PORT TOPIC PARTITIONS COUNT\n");
        return 2;
    }
    const char *topic = argv[2];
    int partitions = atoi(argv[3]);
    long count = atol(argv[4]);
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "group.id", "rdkafka-consume-bench");
    set(conf, "enable.auto.commit", "false");
    set(conf, "queued.min.messages", "1000000");
    set(conf, "fetch.wait.max.ms", "100");
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer) die("rd_kafka_new", error);
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++) {
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    enum { BATCH = 10000 };
    rd_kafka_message_t **messages = malloc(BATCH * sizeof *messages);
    double start = now();
    if (rd_kafka_assign(consumer, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) die("rd_kafka_assign", "failed");
    rd_kafka_topic_partition_list_destroy(parts);
    long seen = 0;
    while (seen < count) {
        if (now() - start > 120) die("consume", "not every record arrived within 120 s");
        ssize_t n = rd_kafka_consume_batch_queue(queue, 1000, messages, BATCH);
        if (n < 0) die("rd_kafka_consume_batch_queue", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *message = messages[i];
            if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                seen++;
            } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                die("consume", rd_kafka_message_errstr(message));
            }
            rd_kafka_message_destroy(message);
        }
    }
    double seconds = now() - start;
    printf("%.0f %.3f\n", (double)count / seconds, seconds);
    free(messages);
    rd_kafka_queue_destroy(queue);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return 0;
}
