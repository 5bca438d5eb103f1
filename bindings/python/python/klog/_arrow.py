"""Turns the column buffers built by the native consumer into a ``pyarrow.RecordBatch``.

pyarrow is optional: it is imported only when an Arrow method is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow

_SCHEMA: Any = None


def _pa() -> Any:
    try:
        import pyarrow
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "klog's Arrow methods need pyarrow: pip install 'klog[arrow]' (or pyarrow)"
        ) from e
    return pyarrow


def schema() -> "pyarrow.Schema":
    """The schema of consumed batches: topic, partition, offset, timestamp, key, value, headers."""
    global _SCHEMA
    if _SCHEMA is None:
        pa = _pa()
        header = pa.struct(
            [pa.field("key", pa.string(), nullable=False), pa.field("value", pa.binary())]
        )
        _SCHEMA = pa.schema(
            [
                pa.field("topic", pa.string(), nullable=False),
                pa.field("partition", pa.int32(), nullable=False),
                pa.field("offset", pa.int64(), nullable=False),
                pa.field("timestamp", pa.timestamp("ms"), nullable=False),
                pa.field("key", pa.binary()),
                pa.field("value", pa.binary()),
                pa.field("headers", pa.list_(pa.field("item", header, nullable=False)), nullable=False),
            ]
        )
    return _SCHEMA


def _binary(pa: Any, cols: Dict[str, Any], name: str, type_: Any, length: int) -> Any:
    validity = cols[name + ".validity"]
    buffers = [
        pa.py_buffer(validity) if validity is not None else None,
        pa.py_buffer(cols[name + ".offsets"]),
        pa.py_buffer(cols[name + ".data"]),
    ]
    return pa.Array.from_buffers(type_, length, buffers, null_count=cols[name + ".nulls"])


def record_batch(cols: Dict[str, Any]) -> "pyarrow.RecordBatch":
    pa = _pa()
    sch = schema()
    n = cols["length"]
    h = cols["headers.length"]

    def fixed(type_: Any, key: str) -> Any:
        return pa.Array.from_buffers(type_, n, [None, pa.py_buffer(cols[key])], null_count=0)

    header_type = sch.field("headers").type
    struct = pa.Array.from_buffers(
        header_type.value_type,
        h,
        [None],
        null_count=0,
        children=[
            _binary(pa, cols, "headers.key", pa.string(), h),
            _binary(pa, cols, "headers.value", pa.binary(), h),
        ],
    )
    headers = pa.Array.from_buffers(
        header_type, n, [None, pa.py_buffer(cols["headers.offsets"])], null_count=0, children=[struct]
    )
    arrays = [
        _binary(pa, cols, "topic", pa.string(), n),
        fixed(pa.int32(), "partition"),
        fixed(pa.int64(), "offset"),
        fixed(pa.timestamp("ms"), "timestamp"),
        _binary(pa, cols, "key", pa.binary(), n),
        _binary(pa, cols, "value", pa.binary(), n),
        headers,
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=sch)
