/* Error paths: NULL arguments, bad config, unknown topics, closed handles, the
 * last-error message, status names, and calls after klog_shutdown. */
#include "check.h"

static klog_embedded *broker;

static void null_arguments_are_refused(void) {
    klog_config *config = NULL;
    klog_producer *producer = NULL;
    klog_consumer *consumer = NULL;
    klog_records *records = NULL;
    CHECK_STATUS(klog_config_new(NULL), KLOG_NULL_ARGUMENT);
    CHECK(last_error_contains("out"));
    CHECK_OK(klog_config_new(&config));
    CHECK_STATUS(klog_config_set(NULL, "acks", "1"), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_config_set(config, NULL, "1"), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_config_set(config, "acks", NULL), KLOG_NULL_ARGUMENT);
    CHECK(last_error_contains("value"));
    CHECK_STATUS(klog_producer_new(NULL, &producer), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_producer_new(config, NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_embedded_producer_new(NULL, config, &producer), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_embedded_open(NULL, &broker), KLOG_NULL_ARGUMENT);
    CHECK(producer == NULL); /* no output on failure */

    CHECK_OK(klog_embedded_producer_new(broker, NULL, &producer));
    CHECK_STATUS(klog_producer_send(producer, NULL, NULL), KLOG_NULL_ARGUMENT);
    klog_producer_record record = {.topic = NULL, .partition = KLOG_PARTITION_ANY, .timestamp = KLOG_TIMESTAMP_NOW};
    CHECK_STATUS(klog_producer_send(producer, &record, NULL), KLOG_NULL_ARGUMENT);
    CHECK(last_error_contains("record.topic"));
    record.topic = "errors";
    record.value_len = 3; /* a length without bytes */
    CHECK_STATUS(klog_producer_send(producer, &record, NULL), KLOG_NULL_ARGUMENT);
    record.value_len = 0;
    record.header_count = 1; /* a header count without headers */
    CHECK_STATUS(klog_producer_send(producer, &record, NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_producer_send(NULL, &record, NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_producer_flush(NULL, 0), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_producer_close(NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_delivery_wait(NULL, 0, NULL), KLOG_NULL_ARGUMENT);
    klog_producer_free(producer);

    CHECK_OK(klog_embedded_consumer_new(broker, NULL, &consumer));
    CHECK_STATUS(klog_consumer_poll(consumer, 0, NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_consumer_poll(NULL, 0, &records), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_consumer_assign(consumer, NULL, 1), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_consumer_subscribe(consumer, NULL, 2), KLOG_NULL_ARGUMENT);
    const char *topics[] = {"a", NULL};
    CHECK_STATUS(klog_consumer_subscribe(consumer, topics, 2), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_consumer_seek(consumer, NULL, 0, 0), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_consumer_committed(consumer, "a", 0, NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_consumer_commit(NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_consumer_assignment(consumer, NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_topic_partitions_get(NULL, 0, NULL), KLOG_NULL_ARGUMENT);
    klog_consumer_free(consumer);

    CHECK_STATUS(klog_admin_create_topic(NULL, "x", 1, -1), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_admin_list_topics(NULL, NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_embedded_listen(broker, "127.0.0.1:0", NULL), KLOG_NULL_ARGUMENT);
    CHECK_STATUS(klog_record_header(NULL, 0, NULL), KLOG_NULL_ARGUMENT);

    /* Accessors and frees accept NULL. */
    CHECK(klog_records_len(NULL) == 0 && klog_records_get(NULL, 0) == NULL);
    size_t len = 7;
    CHECK(klog_record_topic(NULL) == NULL && klog_record_offset(NULL) == -1);
    CHECK(klog_record_value(NULL, &len) == NULL && len == 0);
    CHECK(klog_topic_list_len(NULL) == 0 && klog_topic_list_name(NULL, 0) == NULL);
    klog_config_free(NULL);
    klog_producer_free(NULL);
    klog_consumer_free(NULL);
    klog_admin_free(NULL);
    klog_embedded_free(NULL);
    klog_records_free(NULL);
    klog_delivery_free(NULL);
    klog_topic_list_free(NULL);
    klog_topic_partitions_free(NULL);
    klog_config_free(config);
}

static void bad_config_is_refused(void) {
    klog_config *config = NULL;
    CHECK_OK(klog_config_new(&config));
    klog_status status = klog_config_set(config, "no.such.option", "1");
    int unknown = last_error_contains("unknown config key");
    klog_status bad_value = klog_config_set(config, "linger.ms", "soon");
    int names_key = last_error_contains("linger.ms");
    klog_status bad_acks = klog_config_set(config, "acks", "2");
    /* Without bootstrap.servers a remote client cannot connect. */
    klog_producer *producer = NULL;
    klog_status no_bootstrap = klog_producer_new(config, &producer);
    /* Idempotence needs acks=all: refused when the producer is created. */
    klog_status acks = klog_config_set(config, "acks", "1");
    klog_status idempotence = klog_config_set(config, "enable.idempotence", "true");
    klog_status combination = klog_embedded_producer_new(broker, config, &producer);
    klog_config_free(config);
    CHECK(status == KLOG_INVALID && unknown);
    CHECK(bad_value == KLOG_INVALID && names_key);
    CHECK(bad_acks == KLOG_INVALID);
    CHECK(no_bootstrap == KLOG_INVALID);
    CHECK(acks == KLOG_OK && idempotence == KLOG_OK);
    CHECK(combination == KLOG_INVALID && producer == NULL);
}

static void unknown_topics_and_partitions_fail(void) {
    klog_admin *admin = NULL;
    CHECK_OK(klog_embedded_admin_new(broker, NULL, &admin));
    klog_status deleted = klog_admin_delete_topic(admin, "never-created");
    klog_status created = klog_admin_create_topic(admin, "one-partition", 1, -1);
    klog_admin_free(admin);
    CHECK(deleted == KLOG_NOT_FOUND);
    CHECK_OK(created);

    klog_producer *producer = NULL;
    CHECK_OK(klog_embedded_producer_new(broker, NULL, &producer));
    klog_producer_record record = {
        .topic = "one-partition", .partition = 7, .value = (const uint8_t *)"v", .value_len = 1,
        .timestamp = KLOG_TIMESTAMP_NOW};
    klog_status status = klog_producer_send(producer, &record, NULL);
    klog_producer_free(producer);
    CHECK_STATUS(status, KLOG_INVALID);

    /* Seeking a partition that is not assigned. */
    klog_consumer *consumer = NULL;
    CHECK_OK(klog_embedded_consumer_new(broker, NULL, &consumer));
    status = klog_consumer_seek(consumer, "one-partition", 0, 0);
    klog_status commit = klog_consumer_commit(consumer); /* no group.id */
    klog_consumer_free(consumer);
    CHECK(status != KLOG_OK);
    CHECK(commit == KLOG_INVALID || commit == KLOG_NOT_FOUND);
}

static void closed_handles_refuse_calls(void) {
    klog_producer *producer = NULL;
    CHECK_OK(klog_embedded_producer_new(broker, NULL, &producer));
    CHECK_OK(klog_producer_close(producer));
    klog_producer_record record = {.topic = "closed", .partition = KLOG_PARTITION_ANY, .timestamp = KLOG_TIMESTAMP_NOW};
    klog_status send = klog_producer_send(producer, &record, NULL);
    int says_closed = last_error_contains("closed");
    klog_status flush = klog_producer_flush(producer, 0);
    klog_producer_free(producer);
    CHECK(send == KLOG_CLOSED && says_closed);
    CHECK(flush == KLOG_CLOSED);

    klog_consumer *consumer = NULL;
    CHECK_OK(klog_embedded_consumer_new(broker, NULL, &consumer));
    CHECK_OK(klog_consumer_close(consumer));
    klog_records *records = NULL;
    klog_status poll = klog_consumer_poll(consumer, 0, &records);
    klog_consumer_free(consumer);
    CHECK(poll == KLOG_CLOSED && records == NULL);

    klog_admin *admin = NULL;
    CHECK_OK(klog_embedded_admin_new(broker, NULL, &admin));
    CHECK_OK(klog_admin_close(admin));
    klog_status create = klog_admin_create_topic(admin, "x", 1, -1);
    klog_admin_free(admin);
    CHECK(create == KLOG_CLOSED);
}

static void the_message_is_truncated_safely(void) {
    CHECK_STATUS(klog_config_new(NULL), KLOG_NULL_ARGUMENT);
    size_t full = klog_last_error_message(NULL, 0);
    CHECK(full == strlen("argument out is NULL"));
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK(klog_last_error_message(small, sizeof small) == full);
    CHECK(strcmp(small, "argumen") == 0);
    CHECK(strcmp(klog_status_name(KLOG_NOT_FOUND), "KLOG_NOT_FOUND") == 0);
    CHECK(strcmp(klog_status_name(9999), "KLOG_UNKNOWN_STATUS") == 0);
    CHECK(klog_status_is_retriable(KLOG_TIMEOUT) && !klog_status_is_retriable(KLOG_INVALID));
    CHECK(strlen(klog_version()) > 0);
    CHECK(klog_last_error_kafka_code() == 0);
}

static void a_closed_broker_refuses_clients(void) {
    char *dir = temp_dir();
    klog_embedded *other = NULL;
    CHECK(dir != NULL);
    klog_status opened = klog_embedded_open(dir, &other);
    free(dir);
    CHECK_OK(opened);
    CHECK_OK(klog_embedded_close(other));
    CHECK_OK(klog_embedded_close(other));
    klog_producer *producer = NULL;
    klog_status status = klog_embedded_producer_new(other, NULL, &producer);
    klog_embedded_free(other);
    CHECK(status == KLOG_CLOSED && producer == NULL);
}

static void nothing_runs_after_shutdown(void) {
    klog_embedded_free(broker);
    broker = NULL;
    klog_shutdown();
    klog_shutdown(); /* twice is fine */
    char *dir = temp_dir();
    klog_embedded *late = NULL;
    klog_status status = klog_embedded_open(dir, &late);
    free(dir);
    CHECK(status == KLOG_CLOSED && late == NULL);
}

int main(void) {
    char *dir = temp_dir();
    if (!dir || klog_embedded_open(dir, &broker) != KLOG_OK) {
        fprintf(stderr, "cannot open an embedded broker\n");
        return 1;
    }
    free(dir);
    RUN(null_arguments_are_refused);
    RUN(bad_config_is_refused);
    RUN(unknown_topics_and_partitions_fail);
    RUN(closed_handles_refuse_calls);
    RUN(the_message_is_truncated_safely);
    RUN(a_closed_broker_refuses_clients);
    RUN(nothing_runs_after_shutdown);
    return check_total_failed ? 1 : 0;
}
