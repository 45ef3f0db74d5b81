#!/usr/bin/env python3
"""Writes Tests/Fixtures/tensorboard_events.json: TFRecord bytes of TensorBoard events, serialized by
protobuf's own encoder and framed by TensorBoard's RecordWriter, for ArchLab's hand-written encoder
to reproduce byte for byte (Tests/ArchTrainTests/TensorBoardTests.swift builds the same events).

    pip install tensorboard
    python3 scripts/reference/tensorboard_fixture.py > Tests/Fixtures/tensorboard_events.json
"""
import io
import json

import tensorboard
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.summary.writer.record_writer import RecordWriter


def scalars(values):
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=t, simple_value=v) for t, v in values])


def text(tag, markdown):
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    tensor = tensor_pb2.TensorProto(dtype="DT_STRING", string_val=[markdown.encode()],
                                    tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)])


# the same list, in the same order, as TensorBoardTests.fixtureEvents
EVENTS = [
    event_pb2.Event(wall_time=1796100000.25, file_version="brain.Event:2"),
    event_pb2.Event(wall_time=1796100001.5, step=0, summary=text("settings", "```json\n{\"lr\": 0.01}\n```")),
    event_pb2.Event(wall_time=1796100002.0, step=20, summary=scalars([("step/loss", 2.302585), ("step/lr", 0.01), ("step/images_per_second", 412.5)])),
    event_pb2.Event(wall_time=1796100003.0, step=112, summary=scalars([("accuracy/test", 0.0), ("loss/test", -1.5e-7)])),
    event_pb2.Event(wall_time=1796100004.0, step=113, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)),
    event_pb2.Event(wall_time=1796100005.0, step=3_000_000_000, summary=text("network", "| a | é |\n|--|--|")),
]


def main():
    records = []
    for event in EVENTS:
        buffer = io.BytesIO()
        writer = RecordWriter(buffer)
        writer.write(event.SerializeToString())
        writer.flush()
        records.append(buffer.getvalue().hex())
    print(json.dumps({"generator": "scripts/reference/tensorboard_fixture.py", "tensorboard": tensorboard.__version__,
                      "records": records}, indent=1))


if __name__ == "__main__":
    main()
