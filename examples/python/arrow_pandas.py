"""Consume into pyarrow RecordBatches and pandas, without a Python object per record.

    pip install pyarrow pandas
    python3 examples/python/arrow_pandas.py
"""

import json
import tempfile

import pyarrow as pa
import pyarrow.compute as pc

import klog

with klog.open(tempfile.mkdtemp(prefix="klog-")) as db:
    db.admin().create_topic("clicks", 4)
    with db.producer() as producer:
        producer.produce_batch("clicks", [json.dumps({"user": i % 100, "ms": i}).encode() for i in range(100_000)])

    batches = []
    with db.consumer(auto_offset_reset="earliest") as consumer:
        consumer.assign([("clicks", p) for p in range(4)])
        while True:
            batch = consumer.poll_arrow(timeout=1.0, max_records=50_000)
            if batch.num_rows == 0:
                break
            batches.append(batch)

    table = pa.Table.from_batches(batches, schema=klog.arrow_schema())
    print(table.schema)
    print("rows:", table.num_rows, "bytes of values:", pc.sum(pc.binary_length(table["value"])).as_py())

    df = table.select(["partition", "offset", "timestamp", "value"]).to_pandas()
    df["user"] = df["value"].map(lambda v: json.loads(v)["user"])
    print(df.groupby("partition").size())
