/* A minimal test harness for libklog's C tests: CHECK macros that report the
 * failing expression (and klog's last error message), and RUN, which prints one
 * "ok NAME" or "not ok NAME" line per test for scripts/test.sh to count. */
#ifndef KLOG_TEST_CHECK_H
#define KLOG_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <klog.h>

static int check_failed; /* failures in the running test */
static int check_total_failed; /* tests failed in this program */

static void check_report(const char *file, int line, const char *what, klog_status status) {
    char message[512];
    klog_last_error_message(message, sizeof message);
    fprintf(stderr, "%s:%d: check failed: %s", file, line, what);
    if (status != KLOG_OK) {
        fprintf(stderr, " -> %s: %s", klog_status_name(status), message);
    }
    fputc('\n', stderr);
    check_failed++;
}

/* Fails the test (and returns from it) unless COND holds. */
#define CHECK(cond)                                                    \
    do {                                                               \
        if (!(cond)) {                                                 \
            check_report(__FILE__, __LINE__, #cond, KLOG_OK);          \
            return;                                                    \
        }                                                              \
    } while (0)

/* Fails the test (and returns from it) unless CALL returns WANT. */
#define CHECK_STATUS(call, want)                                       \
    do {                                                               \
        klog_status check_status_ = (call);                            \
        if (check_status_ != (want)) {                                 \
            check_report(__FILE__, __LINE__, #call " == " #want, check_status_); \
            return;                                                    \
        }                                                              \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, KLOG_OK)

/* Runs one test function, printing its outcome. */
#define RUN(test)                                                      \
    do {                                                               \
        check_failed = 0;                                              \
        test();                                                        \
        printf("%s %s\n", check_failed ? "not ok" : "ok", #test);      \
        fflush(stdout);                                                \
        if (check_failed) check_total_failed++;                        \
    } while (0)

/* Whether the last error message on this thread contains NEEDLE. */
static inline int last_error_contains(const char *needle) {
    char message[512];
    klog_last_error_message(message, sizeof message);
    return strstr(message, needle) != NULL;
}

/* A fresh temporary directory for an embedded broker (freed by the caller). */
static inline char *temp_dir(void) {
    const char *base = getenv("TMPDIR");
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/klog-c-test-XXXXXX", base ? base : "/tmp");
    char *dir = mkdtemp(pattern);
    return dir ? strdup(dir) : NULL;
}

/* Sends COUNT records "key-i" -> "value-i" to TOPIC partition 0, fire-and-forget. */
static inline klog_status send_numbered(const klog_producer *producer, const char *topic, int first, int count) {
    for (int i = first; i < first + count; i++) {
        char key[32], value[32];
        int key_len = snprintf(key, sizeof key, "key-%d", i);
        int value_len = snprintf(value, sizeof value, "value-%d", i);
        klog_producer_record record = {
            .topic = topic,
            .partition = 0,
            .key = (const uint8_t *)key,
            .key_len = (size_t)key_len,
            .value = (const uint8_t *)value,
            .value_len = (size_t)value_len,
            .timestamp = KLOG_TIMESTAMP_NOW,
        };
        klog_status status = klog_producer_send(producer, &record, NULL);
        if (status != KLOG_OK) return status;
    }
    return klog_producer_flush(producer, 30000);
}

/* Polls until WANT records have arrived (or 20 s pass); checks each one's value
 * is "value-<offset - base>" in order and returns how many arrived. */
static inline int poll_numbered(const klog_consumer *consumer, int want, long long first_offset, int first_index) {
    int got = 0;
    for (int attempt = 0; attempt < 200 && got < want; attempt++) {
        klog_records *records = NULL;
        if (klog_consumer_poll(consumer, 100, &records) != KLOG_OK) return -1;
        for (size_t i = 0; i < klog_records_len(records); i++) {
            const klog_record *record = klog_records_get(records, i);
            char expected[32];
            snprintf(expected, sizeof expected, "value-%d", first_index + got);
            size_t len = 0;
            const uint8_t *value = klog_record_value(record, &len);
            if (klog_record_offset(record) != first_offset + got || len != strlen(expected) ||
                memcmp(value, expected, len) != 0) {
                fprintf(stderr, "unexpected record at offset %lld (wanted %s)\n",
                        (long long)klog_record_offset(record), expected);
                klog_records_free(records);
                return -1;
            }
            got++;
        }
        klog_records_free(records);
    }
    return got;
}

#endif
