// Produce ten records and read them back with libklog from C++, every handle
// owned by a std::unique_ptr whose deleter is the matching klog_*_free.
//
//   produce_consume              an embedded broker in a temporary directory
//   produce_consume HOST:PORT    a Kafka-compatible broker (klog-server, Kafka, Redpanda)
//
// Build: make -C examples/cpp (see the Makefile).
#include <klog.h>

#include <stdlib.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace klog {

// Deletes a libklog handle with its klog_*_free function.
template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *handle) const { Free(handle); }
};

using Config = std::unique_ptr<klog_config, Deleter<klog_config, klog_config_free>>;
using Embedded = std::unique_ptr<klog_embedded, Deleter<klog_embedded, klog_embedded_free>>;
using Producer = std::unique_ptr<klog_producer, Deleter<klog_producer, klog_producer_free>>;
using Consumer = std::unique_ptr<klog_consumer, Deleter<klog_consumer, klog_consumer_free>>;
using Delivery = std::unique_ptr<klog_delivery, Deleter<klog_delivery, klog_delivery_free>>;
using Records = std::unique_ptr<klog_records, Deleter<klog_records, klog_records_free>>;

// A failed libklog call.
class Error : public std::runtime_error {
  public:
    Error(const char *what, klog_status status)
        : std::runtime_error(std::string(what) + ": " + klog_status_name(status) + ": " + last_message()),
          status_(status) {}
    klog_status status() const { return status_; }

  private:
    static std::string last_message() {
        std::string message(klog_last_error_message(nullptr, 0) + 1, '\0');
        message.resize(klog_last_error_message(&message[0], message.size()));
        return message;
    }
    klog_status status_;
};

inline void check(klog_status status, const char *what) {
    if (status != KLOG_OK) throw Error(what, status);
}

// Makes a handle with a klog_*_new-style call whose last argument is the output.
template <typename Handle, typename Call>
Handle make(Call call, const char *what) {
    typename Handle::pointer raw = nullptr;
    check(call(&raw), what);
    return Handle(raw);
}

// Stops libklog's runtime when main returns (after every handle above it is gone).
struct Runtime {
    ~Runtime() { klog_shutdown(); }
};

}  // namespace klog

static int run(int argc, char **argv) {
    const char *topic = "cpp-example";
    const char *tmp = getenv("TMPDIR");
    std::string dir = std::string(tmp ? tmp : "/tmp") + "/klog-cpp-example-XXXXXX";

    auto config = klog::make<klog::Config>(klog_config_new, "klog_config_new");
    klog::check(klog_config_set(config.get(), "linger.ms", "5"), "klog_config_set");
    klog::Embedded broker;
    klog::Producer producer;
    klog::Consumer consumer;
    if (argc > 1) {
        klog::check(klog_config_set(config.get(), "bootstrap.servers", argv[1]), "klog_config_set");
        producer = klog::make<klog::Producer>([&](klog_producer **out) { return klog_producer_new(config.get(), out); },
                                              "klog_producer_new");
        consumer = klog::make<klog::Consumer>([&](klog_consumer **out) { return klog_consumer_new(config.get(), out); },
                                              "klog_consumer_new");
    } else {
        if (!mkdtemp(&dir[0])) throw std::runtime_error("mkdtemp failed");
        broker = klog::make<klog::Embedded>([&](klog_embedded **out) { return klog_embedded_open(dir.c_str(), out); },
                                            "klog_embedded_open");
        producer = klog::make<klog::Producer>(
            [&](klog_producer **out) { return klog_embedded_producer_new(broker.get(), config.get(), out); },
            "klog_embedded_producer_new");
        consumer = klog::make<klog::Consumer>(
            [&](klog_consumer **out) { return klog_embedded_consumer_new(broker.get(), config.get(), out); },
            "klog_embedded_consumer_new");
    }

    int64_t first_offset = -1;
    for (int i = 0; i < 10; i++) {
        std::string key = "key-" + std::to_string(i);
        std::string value = "hello from C++ #" + std::to_string(i);
        klog_producer_record record{};
        record.topic = topic;
        record.partition = 0;
        record.key = reinterpret_cast<const uint8_t *>(key.data());
        record.key_len = key.size();
        record.value = reinterpret_cast<const uint8_t *>(value.data());
        record.value_len = value.size();
        record.timestamp = KLOG_TIMESTAMP_NOW;
        if (i == 0) {
            auto delivery = klog::make<klog::Delivery>(
                [&](klog_delivery **out) { return klog_producer_send(producer.get(), &record, out); },
                "klog_producer_send");
            klog_record_metadata stored{};
            klog::check(klog_delivery_wait(delivery.get(), 10000, &stored), "klog_delivery_wait");
            first_offset = stored.offset;
        } else {
            klog::check(klog_producer_send(producer.get(), &record, nullptr), "klog_producer_send");
        }
    }
    klog::check(klog_producer_flush(producer.get(), 10000), "klog_producer_flush");
    std::cout << "produced 10 records to " << topic << "-0 from offset " << first_offset << "\n";

    klog_topic_partition partition{topic, 0};
    klog::check(klog_consumer_assign(consumer.get(), &partition, 1), "klog_consumer_assign");
    klog::check(klog_consumer_seek(consumer.get(), topic, 0, first_offset), "klog_consumer_seek");
    std::vector<std::string> values;
    for (int attempt = 0; attempt < 100 && values.size() < 10; attempt++) {
        auto records = klog::make<klog::Records>(
            [&](klog_records **out) { return klog_consumer_poll(consumer.get(), 100, out); }, "klog_consumer_poll");
        for (size_t i = 0; i < klog_records_len(records.get()) && values.size() < 10; i++) {
            const klog_record *r = klog_records_get(records.get(), i);
            size_t len = 0;
            const uint8_t *value = klog_record_value(r, &len);
            values.emplace_back(reinterpret_cast<const char *>(value), len);
            std::cout << klog_record_topic(r) << "-" << klog_record_partition(r) << "@" << klog_record_offset(r)
                      << " " << values.back() << "\n";
        }
    }
    klog::check(klog_producer_close(producer.get()), "klog_producer_close");
    klog::check(klog_consumer_close(consumer.get()), "klog_consumer_close");
    if (broker) klog::check(klog_embedded_close(broker.get()), "klog_embedded_close");
    return values.size() == 10 ? 0 : 1;
}

int main(int argc, char **argv) {
    klog::Runtime runtime;  // destroyed last: klog_shutdown after every handle is freed
    try {
        return run(argc, argv);
    } catch (const klog::Error &e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
