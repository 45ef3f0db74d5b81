import ArchProtobuf
import Foundation

/// One record of a TensorBoard event file: TensorFlow's `Event` protocol buffer
/// (tensorboard/compat/proto/event.proto) with the parts a training run needs.
public struct Event: Sendable, Equatable {
    /// What the event carries.
    public enum Content: Sendable, Equatable {
        /// The first event of every file: `file_version: "brain.Event:2"`.
        case fileVersion
        /// Scalars as `Summary.Value.simple_value`, read by TensorBoard's scalar dashboard.
        case scalars([(tag: String, value: Float)])
        /// Markdown shown by the text dashboard: a string tensor with the "text" plugin's metadata.
        case text(tag: String, markdown: String)
        /// `SessionLog.START`: the run (re)started at `step`; TensorBoard discards the events of
        /// earlier runs at this step and later (a resumed run's rewritten steps).
        case start

        public static func == (a: Content, b: Content) -> Bool {
            switch (a, b) {
            case (.fileVersion, .fileVersion), (.start, .start): return true
            case let (.scalars(x), .scalars(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.tag == $1.tag && $0.value == $1.value }
            case let (.text(t1, m1), .text(t2, m2)): return t1 == t2 && m1 == m2
            default: return false
            }
        }
    }

    /// Seconds since 1970.
    public var wallTime: Double
    public var step: Int64
    public var content: Content

    public init(wallTime: Double, step: Int64, content: Content) {
        self.wallTime = wallTime; self.step = step; self.content = content
    }

    /// The protocol-buffer bytes. Fields at their default value are left out, as proto3 does,
    /// except inside a `oneof` (a scalar of 0 is still written).
    public var serialized: [UInt8] {
        var event = ProtobufMessage()
        if wallTime != 0 { event.double(1, wallTime) }
        if step != 0 { event.int(2, step) }
        switch content {
        case .fileVersion:
            event.string(3, "brain.Event:2")
        case .scalars(let values):
            var summary = ProtobufMessage()
            for (tag, value) in values {
                var v = ProtobufMessage()
                if !tag.isEmpty { v.string(1, tag) }
                v.float(2, value)
                summary.message(1, v)
            }
            event.message(5, summary)
        case .text(let tag, let markdown):
            var dim = ProtobufMessage()
            dim.int(1, 1)
            var shape = ProtobufMessage()
            shape.message(2, dim)
            var tensor = ProtobufMessage()
            tensor.int(1, 7)  // DT_STRING
            tensor.message(2, shape)
            tensor.string(8, markdown)
            var pluginData = ProtobufMessage()
            pluginData.string(1, "text")
            var metadata = ProtobufMessage()
            metadata.message(1, pluginData)
            var v = ProtobufMessage()
            v.string(1, tag)
            v.message(8, tensor)
            v.message(9, metadata)
            var summary = ProtobufMessage()
            summary.message(1, v)
            event.message(5, summary)
        case .start:
            var log = ProtobufMessage()
            log.int(1, 1)  // SessionLog.START
            event.message(7, log)
        }
        return event.bytes
    }
}
