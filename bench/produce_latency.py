#!/usr/bin/env python3
"""Produce latency of klog-server as seen by librdkafka (confluent-kafka).

Sends COUNT records of SIZE bytes one by one at a fixed RATE (records/s) with
linger.ms=0 and measures, for each record, the time from produce() to its
delivery callback.  Prints one Markdown table row per acks setting.

usage: produce_latency.py BOOTSTRAP [--count 10000] [--rate 1000] [--size 100] [--acks 1 all]
"""

import argparse
import os
import sys
import time

from confluent_kafka import Producer


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    idx = min(len(sorted_vals) - 1, max(0, int(round(q * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[idx]


def run(bootstrap, topic, count, rate, size, acks):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "linger.ms": 0,
        "enable.idempotence": False,
        "max.in.flight.requests.per.connection": 5,
    })
    payload = os.urandom(size)
    # Warm up: connection, metadata, topic creation.
    p.produce(topic, payload)
    assert p.flush(30) == 0, "warm-up record not delivered"

    latencies = []
    errors = []

    def make_cb(sent):
        def cb(err, _msg):
            if err is not None:
                errors.append(err)
            else:
                latencies.append(time.perf_counter() - sent)
        return cb

    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(count):
        due = start + i * interval
        while True:
            now = time.perf_counter()
            if now >= due:
                break
            p.poll(min(due - now, 0.001))
        p.produce(topic, payload, on_delivery=make_cb(time.perf_counter()))
        p.poll(0)
    assert p.flush(60) == 0, "records not delivered"
    elapsed = time.perf_counter() - start
    if errors:
        print(f"{len(errors)} delivery errors, first: {errors[0]}", file=sys.stderr)
    lat = sorted(x * 1000 for x in latencies)
    return {
        "acks": acks,
        "n": len(lat),
        "rate": count / elapsed,
        "p50": percentile(lat, 0.50),
        "p99": percentile(lat, 0.99),
        "p999": percentile(lat, 0.999),
        "max": lat[-1] if lat else float("nan"),
        "errors": len(errors),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("--topic-prefix", default="bench-latency")
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--acks", nargs="+", default=["1", "all"])
    ap.add_argument("--header", action="store_true", help="print the table header first")
    args = ap.parse_args()
    if args.header:
        print("| acks | records | achieved rate (rec/s) | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for acks in args.acks:
        r = run(args.bootstrap, f"{args.topic_prefix}-acks{acks}", args.count, args.rate, args.size, acks)
        print(f"| {r['acks']} | {r['n']} | {r['rate']:.0f} | {r['p50']:.3f} | {r['p99']:.3f} | "
              f"{r['p999']:.3f} | {r['max']:.3f} | {r['errors']} |", flush=True)


if __name__ == "__main__":
    main()
