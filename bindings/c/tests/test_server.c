/* Against klog-server over TCP (address in $KLOG_BOOTSTRAP, started by
 * scripts/test.sh): a produce/consume round trip, a consumer group that
 * commits and resumes from its committed offsets, and a group of two members
 * that split the partitions. */
#include "check.h"

#include <stdarg.h>

static const char *bootstrap;

/* A config with bootstrap.servers and the given key/value pairs (NULL-terminated). */
static klog_config *config_with(const char *first_key, ...) {
    klog_config *config = NULL;
    if (klog_config_new(&config) != KLOG_OK) return NULL;
    if (klog_config_set(config, "bootstrap.servers", bootstrap) != KLOG_OK) goto fail;
    va_list args;
    va_start(args, first_key);
    for (const char *key = first_key; key; key = va_arg(args, const char *)) {
        const char *value = va_arg(args, const char *);
        if (klog_config_set(config, key, value) != KLOG_OK) {
            va_end(args);
            goto fail;
        }
    }
    va_end(args);
    return config;
fail:
    klog_config_free(config);
    return NULL;
}

static void round_trip_over_tcp(void) {
    klog_config *config = config_with("acks", "all", "linger.ms", "5", "auto.offset.reset", "earliest", NULL);
    CHECK(config != NULL);
    klog_admin *admin = NULL;
    CHECK_OK(klog_admin_new(config, &admin));
    CHECK_OK(klog_admin_create_topic(admin, "c-server-round-trip", 1, -1));
    klog_admin_free(admin);

    klog_producer *producer = NULL;
    CHECK_OK(klog_producer_new(config, &producer));
    CHECK_OK(send_numbered(producer, "c-server-round-trip", 0, 999));
    klog_producer_record last = {
        .topic = "c-server-round-trip", .partition = 0, .value = (const uint8_t *)"value-999",
        .value_len = 9, .timestamp = KLOG_TIMESTAMP_NOW};
    klog_delivery *delivery = NULL;
    CHECK_OK(klog_producer_send(producer, &last, &delivery));
    klog_record_metadata metadata;
    klog_status waited = klog_delivery_wait(delivery, 10000, &metadata);
    klog_delivery_free(delivery);
    CHECK_OK(waited);
    CHECK(metadata.offset == 999);
    CHECK_OK(klog_producer_close(producer));
    klog_producer_free(producer);

    klog_consumer *consumer = NULL;
    CHECK_OK(klog_consumer_new(config, &consumer));
    klog_config_free(config);
    klog_topic_partition tp = {.topic = "c-server-round-trip", .partition = 0};
    CHECK_OK(klog_consumer_assign(consumer, &tp, 1));
    int got = poll_numbered(consumer, 1000, 0, 0);
    klog_consumer_free(consumer);
    CHECK(got == 1000);
}

/* Polls until COUNT records arrive; returns how many did. */
static int drain(const klog_consumer *consumer, int count) {
    int got = 0;
    for (int attempt = 0; attempt < 300 && got < count; attempt++) {
        klog_records *records = NULL;
        if (klog_consumer_poll(consumer, 100, &records) != KLOG_OK) return -1;
        got += (int)klog_records_len(records);
        klog_records_free(records);
    }
    return got;
}

static void a_group_commits_and_resumes(void) {
    klog_config *config = config_with("auto.offset.reset", "earliest", "enable.auto.commit", "false", "group.id",
                                      "c-test-group", NULL);
    CHECK(config != NULL);
    klog_admin *admin = NULL;
    CHECK_OK(klog_admin_new(config, &admin));
    CHECK_OK(klog_admin_create_topic(admin, "c-grouped", 2, -1));
    klog_admin_free(admin);
    klog_producer *producer = NULL;
    CHECK_OK(klog_producer_new(config, &producer));
    for (int i = 0; i < 20; i++) {
        char key[16];
        int n = snprintf(key, sizeof key, "k%d", i);
        klog_producer_record record = {.topic = "c-grouped", .partition = KLOG_PARTITION_ANY,
                                       .key = (const uint8_t *)key, .key_len = (size_t)n,
                                       .value = (const uint8_t *)"v", .value_len = 1,
                                       .timestamp = KLOG_TIMESTAMP_NOW};
        CHECK_OK(klog_producer_send(producer, &record, NULL));
    }
    CHECK_OK(klog_producer_flush(producer, 10000));

    const char *topics[] = {"c-grouped"};
    klog_consumer *first = NULL;
    CHECK_OK(klog_consumer_new(config, &first));
    CHECK_OK(klog_consumer_subscribe(first, topics, 1));
    int got = drain(first, 20);
    CHECK_OK(klog_consumer_commit(first));
    int64_t committed0 = 0, committed1 = 0;
    CHECK_OK(klog_consumer_committed(first, "c-grouped", 0, &committed0));
    CHECK_OK(klog_consumer_committed(first, "c-grouped", 1, &committed1));
    CHECK_OK(klog_consumer_close(first));
    klog_consumer_free(first);
    CHECK(got == 20);
    CHECK(committed0 + committed1 == 20);

    /* Five more; the next member of the group starts at the committed offsets. */
    for (int i = 0; i < 5; i++) {
        klog_producer_record record = {.topic = "c-grouped", .partition = i % 2, .value = (const uint8_t *)"w",
                                       .value_len = 1, .timestamp = KLOG_TIMESTAMP_NOW};
        CHECK_OK(klog_producer_send(producer, &record, NULL));
    }
    CHECK_OK(klog_producer_flush(producer, 10000));
    klog_producer_free(producer);

    klog_consumer *second = NULL;
    CHECK_OK(klog_consumer_new(config, &second));
    klog_config_free(config);
    CHECK_OK(klog_consumer_subscribe(second, topics, 1));
    int later = 0, before_commit = 0;
    for (int attempt = 0; attempt < 300 && later < 5; attempt++) {
        klog_records *records = NULL;
        CHECK_OK(klog_consumer_poll(second, 100, &records));
        for (size_t i = 0; i < klog_records_len(records); i++) {
            const klog_record *r = klog_records_get(records, i);
            int64_t committed = klog_record_partition(r) == 0 ? committed0 : committed1;
            if (klog_record_offset(r) < committed) before_commit++;
            later++;
        }
        klog_records_free(records);
    }
    klog_consumer_free(second);
    CHECK(later == 5);
    CHECK(before_commit == 0);
}

/* The partition a consumer is assigned, when it is assigned exactly one (else -1). */
static int only_partition(const klog_consumer *consumer) {
    klog_topic_partitions *assigned = NULL;
    if (klog_consumer_assignment(consumer, &assigned) != KLOG_OK) return -1;
    klog_topic_partition tp = {0};
    int partition = -1;
    if (klog_topic_partitions_len(assigned) == 1 && klog_topic_partitions_get(assigned, 0, &tp) == KLOG_OK &&
        strcmp(tp.topic, "c-rebalance") == 0) {
        partition = tp.partition;
    }
    klog_topic_partitions_free(assigned);
    return partition;
}

/* Polls and counts records, failing the count (-1000) if one is from another partition. */
static int take(const klog_consumer *consumer, int partition) {
    klog_records *records = NULL;
    if (klog_consumer_poll(consumer, 100, &records) != KLOG_OK) return -1000;
    int n = (int)klog_records_len(records);
    for (int i = 0; i < n; i++) {
        if (klog_record_partition(klog_records_get(records, (size_t)i)) != partition) n = -1000;
    }
    klog_records_free(records);
    return n;
}

static void two_members_share_the_partitions(void) {
    klog_config *config = config_with("auto.offset.reset", "earliest", "enable.auto.commit", "false", "group.id",
                                      "c-two-members", NULL);
    CHECK(config != NULL);
    klog_admin *admin = NULL;
    CHECK_OK(klog_admin_new(config, &admin));
    CHECK_OK(klog_admin_create_topic(admin, "c-rebalance", 2, -1));
    klog_admin_free(admin);
    const char *topics[] = {"c-rebalance"};
    klog_consumer *a = NULL, *b = NULL;
    CHECK_OK(klog_consumer_new(config, &a));
    CHECK_OK(klog_consumer_new(config, &b));
    CHECK_OK(klog_consumer_subscribe(a, topics, 1));
    CHECK_OK(klog_consumer_subscribe(b, topics, 1));
    /* Wait for the rebalance: one partition each. */
    int pa = -1, pb = -1;
    for (int attempt = 0; attempt < 150 && !(pa >= 0 && pb >= 0 && pa != pb); attempt++) {
        take(a, -1);
        take(b, -1);
        pa = only_partition(a);
        pb = only_partition(b);
    }
    int settled = pa >= 0 && pb >= 0 && pa != pb;

    klog_producer *producer = NULL;
    klog_status made = klog_producer_new(config, &producer);
    klog_config_free(config);
    for (int i = 0; made == KLOG_OK && i < 20; i++) {
        klog_producer_record record = {.topic = "c-rebalance", .partition = i % 2, .value = (const uint8_t *)"v",
                                       .value_len = 1, .timestamp = KLOG_TIMESTAMP_NOW};
        made = klog_producer_send(producer, &record, NULL);
    }
    if (made == KLOG_OK) made = klog_producer_flush(producer, 10000);
    klog_producer_free(producer);

    int got_a = 0, got_b = 0;
    for (int attempt = 0; settled && attempt < 100 && got_a + got_b < 20; attempt++) {
        got_a += take(a, pa);
        got_b += take(b, pb);
    }
    klog_consumer_free(a);
    klog_consumer_free(b);
    CHECK(settled);
    CHECK_OK(made);
    CHECK(got_a == 10 && got_b == 10);
}

int main(void) {
    bootstrap = getenv("KLOG_BOOTSTRAP");
    if (!bootstrap || !*bootstrap) {
        fprintf(stderr, "KLOG_BOOTSTRAP (host:port of a klog-server) is not set\n");
        return 1;
    }
    RUN(round_trip_over_tcp);
    RUN(a_group_commits_and_resumes);
    RUN(two_members_share_the_partitions);
    klog_shutdown();
    return check_total_failed ? 1 : 0;
}
