/* One producer shared by several threads, each waiting on its own delivery
 * handles, and a consumer on another thread reading everything back. */
#include <pthread.h>

#include "check.h"

#define THREADS 4
#define PER_THREAD 500

static klog_embedded *broker;
static klog_producer *producer;

struct sender {
    int id;
    klog_status status;
    int64_t last_offset;
};

static void *send_from_thread(void *arg) {
    struct sender *s = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char value[32];
        int len = snprintf(value, sizeof value, "t%d-%d", s->id, i);
        klog_producer_record record = {.topic = "threads", .partition = 0, .value = (const uint8_t *)value,
                                       .value_len = (size_t)len, .timestamp = KLOG_TIMESTAMP_NOW};
        klog_delivery *delivery = NULL;
        s->status = klog_producer_send(producer, &record, i % 50 == 49 ? &delivery : NULL);
        if (s->status != KLOG_OK) return NULL;
        if (delivery) {
            klog_record_metadata stored;
            s->status = klog_delivery_wait(delivery, 10000, &stored);
            klog_delivery_free(delivery);
            if (s->status != KLOG_OK) return NULL;
            if (stored.offset <= s->last_offset) s->status = KLOG_INTERNAL; /* offsets grow per thread */
            s->last_offset = stored.offset;
        }
    }
    s->status = klog_producer_flush(producer, 10000);
    return NULL;
}

struct reader {
    klog_consumer *consumer;
    int seen[THREADS];
    int total;
    int out_of_order;
};

static void *read_from_thread(void *arg) {
    struct reader *r = arg;
    for (int attempt = 0; attempt < 300 && r->total < THREADS * PER_THREAD; attempt++) {
        klog_records *records = NULL;
        if (klog_consumer_poll(r->consumer, 100, &records) != KLOG_OK) return NULL;
        for (size_t i = 0; i < klog_records_len(records); i++) {
            size_t len = 0;
            const char *value = (const char *)klog_record_value(klog_records_get(records, i), &len);
            int thread = -1, n = -1;
            char copy[32];
            snprintf(copy, sizeof copy, "%.*s", (int)len, value);
            if (sscanf(copy, "t%d-%d", &thread, &n) != 2 || thread < 0 || thread >= THREADS) continue;
            if (n != r->seen[thread]) r->out_of_order++; /* each thread's records keep their order */
            r->seen[thread] = n + 1;
            r->total++;
        }
        klog_records_free(records);
    }
    return NULL;
}

static void a_producer_is_shared_by_threads(void) {
    klog_config *config = NULL;
    CHECK_OK(klog_config_new(&config));
    CHECK_OK(klog_config_set(config, "auto.offset.reset", "earliest"));
    CHECK_OK(klog_embedded_producer_new(broker, config, &producer));
    struct reader reader = {0};
    CHECK_OK(klog_embedded_consumer_new(broker, config, &reader.consumer));
    klog_config_free(config);
    klog_topic_partition tp = {.topic = "threads", .partition = 0};

    struct sender senders[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        senders[i] = (struct sender){.id = i, .status = KLOG_OK, .last_offset = -1};
        CHECK(pthread_create(&threads[i], NULL, send_from_thread, &senders[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < THREADS; i++) CHECK_OK(senders[i].status);
    CHECK_OK(klog_consumer_assign(reader.consumer, &tp, 1));
    pthread_t reading;
    CHECK(pthread_create(&reading, NULL, read_from_thread, &reader) == 0);
    pthread_join(reading, NULL);
    CHECK_OK(klog_consumer_close(reader.consumer));
    klog_consumer_free(reader.consumer);
    CHECK_OK(klog_producer_close(producer));
    klog_producer_free(producer);
    CHECK(reader.total == THREADS * PER_THREAD);
    CHECK(reader.out_of_order == 0);
}

static void *fail_on_thread(void *arg) {
    (void)arg;
    klog_config_new(NULL); /* sets this thread's last error only */
    return NULL;
}

static void errors_are_per_thread(void) {
    klog_config *config = NULL;
    CHECK_OK(klog_config_new(&config));
    CHECK_STATUS(klog_config_set(config, "no.such.option", "1"), KLOG_INVALID);
    klog_config_free(config);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_on_thread, NULL) == 0);
    pthread_join(thread, NULL);
    CHECK(last_error_contains("unknown config key"));
}

int main(void) {
    char *dir = temp_dir();
    if (!dir || klog_embedded_open(dir, &broker) != KLOG_OK) {
        fprintf(stderr, "cannot open an embedded broker\n");
        return 1;
    }
    free(dir);
    RUN(a_producer_is_shared_by_threads);
    RUN(errors_are_per_thread);
    if (klog_embedded_close(broker) != KLOG_OK) check_total_failed++;
    klog_embedded_free(broker);
    klog_shutdown();
    return check_total_failed ? 1 : 0;
}
