/* Embedded broker round trip: admin, producer (delivery handle, headers, keys),
 * consumer (assign, poll, accessors, seek), failed deliveries, TCP listen on port 0. */
#include "check.h"

static klog_embedded *broker;

static void topics_are_created_listed_and_deleted(void) {
    klog_admin *admin = NULL;
    CHECK_OK(klog_embedded_admin_new(broker, NULL, &admin));
    CHECK_OK(klog_admin_create_topic(admin, "listed", 3, -1));
    CHECK_STATUS(klog_admin_create_topic(admin, "listed", 3, -1), KLOG_ALREADY_EXISTS);
    klog_topic_list *list = NULL;
    CHECK_OK(klog_admin_list_topics(admin, &list));
    int found = 0;
    for (size_t i = 0; i < klog_topic_list_len(list); i++) {
        if (strcmp(klog_topic_list_name(list, i), "listed") == 0) {
            found = klog_topic_list_partitions(list, i) == 3;
        }
    }
    CHECK(klog_topic_list_name(list, klog_topic_list_len(list)) == NULL);
    klog_topic_list_free(list);
    CHECK(found);
    CHECK_OK(klog_admin_delete_topic(admin, "listed"));
    CHECK_STATUS(klog_admin_delete_topic(admin, "listed"), KLOG_NOT_FOUND);
    CHECK_OK(klog_admin_close(admin));
    klog_admin_free(admin);
}

static void records_round_trip_with_headers(void) {
    klog_admin *admin = NULL;
    CHECK_OK(klog_embedded_admin_new(broker, NULL, &admin));
    CHECK_OK(klog_admin_create_topic(admin, "round-trip", 1, -1));
    klog_admin_free(admin);

    klog_config *config = NULL;
    CHECK_OK(klog_config_new(&config));
    CHECK_OK(klog_config_set(config, "linger.ms", "1"));
    CHECK_OK(klog_config_set(config, "auto.offset.reset", "earliest"));
    klog_producer *producer = NULL;
    CHECK_OK(klog_embedded_producer_new(broker, config, &producer));

    /* One record with a delivery handle, two headers (one with a null value) and a timestamp. */
    klog_header headers[2] = {
        {.key = (const uint8_t *)"h1", .key_len = 2, .value = (const uint8_t *)"v1", .value_len = 2},
        {.key = (const uint8_t *)"h2", .key_len = 2, .value = NULL, .value_len = 0},
    };
    klog_producer_record first = {
        .topic = "round-trip",
        .partition = KLOG_PARTITION_ANY,
        .key = (const uint8_t *)"k",
        .key_len = 1,
        .value = (const uint8_t *)"hello",
        .value_len = 5,
        .headers = headers,
        .header_count = 2,
        .timestamp = 1700000000000,
    };
    klog_delivery *delivery = NULL;
    CHECK_OK(klog_producer_send(producer, &first, &delivery));
    klog_record_metadata metadata = {0};
    CHECK_OK(klog_delivery_wait(delivery, 10000, &metadata));
    CHECK(metadata.partition == 0 && metadata.offset == 0 && metadata.timestamp == 1700000000000);
    /* The outcome is kept. */
    klog_record_metadata again = {0};
    CHECK_OK(klog_delivery_wait(delivery, 0, &again));
    CHECK(again.offset == 0);
    klog_delivery_free(delivery);

    /* A tombstone with a null key, fire-and-forget, then 100 numbered records. */
    klog_producer_record tombstone = {.topic = "round-trip", .partition = 0, .timestamp = KLOG_TIMESTAMP_NOW};
    CHECK_OK(klog_producer_send(producer, &tombstone, NULL));
    CHECK_OK(send_numbered(producer, "round-trip", 0, 100));
    CHECK_OK(klog_producer_close(producer));
    CHECK_OK(klog_producer_close(producer)); /* closing twice is fine */
    klog_producer_free(producer);

    klog_consumer *consumer = NULL;
    CHECK_OK(klog_embedded_consumer_new(broker, config, &consumer));
    klog_config_free(config); /* clients copy the config */
    klog_topic_partition tp = {.topic = "round-trip", .partition = 0};
    CHECK_OK(klog_consumer_assign(consumer, &tp, 1));
    klog_topic_partitions *assigned = NULL;
    CHECK_OK(klog_consumer_assignment(consumer, &assigned));
    klog_topic_partition entry = {0};
    klog_status first_entry = klog_topic_partitions_get(assigned, 0, &entry);
    int matches = first_entry == KLOG_OK && strcmp(entry.topic, "round-trip") == 0 && entry.partition == 0;
    klog_status past_end = klog_topic_partitions_get(assigned, 1, &entry);
    size_t assigned_len = klog_topic_partitions_len(assigned);
    klog_topic_partitions_free(assigned);
    CHECK(assigned_len == 1 && matches);
    CHECK(past_end == KLOG_OUT_OF_RANGE);

    klog_records *records = NULL;
    size_t have = 0;
    for (int attempt = 0; attempt < 100 && have < 2; attempt++) {
        klog_records_free(records);
        records = NULL;
        CHECK_OK(klog_consumer_poll(consumer, 100, &records));
        have = klog_records_len(records);
    }
    CHECK(have >= 2);
    const klog_record *r = klog_records_get(records, 0);
    CHECK(strcmp(klog_record_topic(r), "round-trip") == 0);
    CHECK(klog_record_partition(r) == 0 && klog_record_offset(r) == 0);
    CHECK(klog_record_timestamp(r) == 1700000000000);
    size_t len = 0;
    const uint8_t *bytes = klog_record_key(r, &len);
    CHECK(len == 1 && memcmp(bytes, "k", 1) == 0);
    bytes = klog_record_value(r, &len);
    CHECK(len == 5 && memcmp(bytes, "hello", 5) == 0);
    CHECK(klog_record_header_count(r) == 2);
    klog_header h;
    CHECK_OK(klog_record_header(r, 0, &h));
    CHECK(h.key_len == 2 && memcmp(h.key, "h1", 2) == 0 && h.value_len == 2 && memcmp(h.value, "v1", 2) == 0);
    CHECK_OK(klog_record_header(r, 1, &h));
    CHECK(h.value == NULL && h.value_len == 0);
    CHECK_STATUS(klog_record_header(r, 2, &h), KLOG_OUT_OF_RANGE);

    const klog_record *t = klog_records_get(records, 1);
    CHECK(klog_record_offset(t) == 1);
    CHECK(klog_record_key(t, &len) == NULL && len == 0);
    CHECK(klog_record_value(t, &len) == NULL && len == 0);
    CHECK(klog_records_get(records, have) == NULL);
    /* Records stay valid until their batch is freed, even after closing the consumer. */
    size_t rest = have - 2;
    klog_records_free(records);

    CHECK(poll_numbered(consumer, 100 - (int)rest, 2 + (long long)rest, (int)rest) == 100 - (int)rest);

    /* Seek back and read offset 50 again. */
    CHECK_OK(klog_consumer_seek(consumer, "round-trip", 0, 50));
    long long position = 0;
    CHECK_OK(klog_consumer_position(consumer, "round-trip", 0, (int64_t *)&position));
    CHECK(position == 50);
    CHECK(poll_numbered(consumer, 52, 50, 48) == 52);
    CHECK_OK(klog_consumer_close(consumer));
    klog_consumer_free(consumer);
}

/* A record the broker refuses (larger than its max.message.bytes, 1 MiB). */
static klog_status send_too_large(const klog_producer *producer, klog_delivery **delivery) {
    static uint8_t big[2 * 1024 * 1024];
    klog_producer_record record = {.topic = "refused", .partition = 0, .value = big, .value_len = sizeof big,
                                   .timestamp = KLOG_TIMESTAMP_NOW};
    return klog_producer_send(producer, &record, delivery);
}

static void failed_deliveries_are_reported(void) {
    klog_config *config = NULL;
    CHECK_OK(klog_config_new(&config));
    CHECK_OK(klog_config_set(config, "max.request.size", "4194304"));
    klog_producer *producer = NULL;
    klog_status made = klog_embedded_producer_new(broker, config, &producer);
    klog_config_free(config);
    CHECK_OK(made);

    klog_delivery *delivery = NULL;
    CHECK_OK(send_too_large(producer, &delivery));
    klog_record_metadata metadata = {0};
    klog_status waited = klog_delivery_wait(delivery, 10000, &metadata);
    klog_delivery_free(delivery);
    CHECK(waited != KLOG_OK && waited != KLOG_TIMEOUT);

    /* Fire-and-forget: the next flush reports it, once. */
    CHECK_OK(send_too_large(producer, NULL));
    klog_status flushed = klog_producer_flush(producer, 10000);
    klog_status again = klog_producer_flush(producer, 10000);
    CHECK_OK(send_too_large(producer, NULL));
    klog_status closed = klog_producer_close(producer);
    klog_producer_free(producer);
    CHECK(flushed == waited);
    CHECK_OK(again);
    CHECK(closed == waited);
}

static void listens_on_a_free_port(void) {
    uint16_t port = 0;
    CHECK_OK(klog_embedded_listen(broker, "127.0.0.1:0", &port));
    CHECK(port != 0);
    /* A client reaches the broker over TCP too. */
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%u", (unsigned)port);
    klog_config *config = NULL;
    CHECK_OK(klog_config_new(&config));
    CHECK_OK(klog_config_set(config, "bootstrap.servers", address));
    klog_admin *admin = NULL;
    klog_status status = klog_admin_new(config, &admin);
    klog_config_free(config);
    CHECK_OK(status);
    CHECK_OK(klog_admin_create_topic(admin, "over-tcp", 1, -1));
    klog_admin_free(admin);
}

int main(void) {
    char *dir = temp_dir();
    if (!dir || klog_embedded_open(dir, &broker) != KLOG_OK) {
        fprintf(stderr, "cannot open an embedded broker in %s\n", dir ? dir : "(no dir)");
        return 1;
    }
    RUN(topics_are_created_listed_and_deleted);
    RUN(records_round_trip_with_headers);
    RUN(failed_deliveries_are_reported);
    RUN(listens_on_a_free_port);
    if (klog_embedded_close(broker) != KLOG_OK) check_total_failed++;
    klog_embedded_free(broker);
    klog_shutdown();
    free(dir);
    return check_total_failed ? 1 : 0;
}
