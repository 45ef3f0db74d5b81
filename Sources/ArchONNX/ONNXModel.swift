import ArchGraph
import ArchProtobuf
import Foundation

/// Writes an `ONNXGraph` as an ONNX model file (onnx/onnx.proto: ModelProto with IR version 8 and
/// opset 17): the weights as raw little-endian initializers, the input `[batch, C, H, W]` with a
/// symbolic batch dimension, the output `[batch, classes]`.
public enum ONNXModel {
    /// IR version 8 goes with opset 17 (ONNX 1.12).
    public static let irVersion = 8

    /// The model's protocol-buffer bytes.
    public static func serialize(_ graph: ONNXGraph, name: String, producerVersion: String = "") -> [UInt8] {
        var g = ProtobufMessage()
        for node in graph.nodes { g.message(1, nodeProto(node)) }
        g.string(2, name)
        for initializer in graph.initializers { g.message(5, tensorProto(initializer)) }
        g.message(11, valueInfo(ONNXGraph.inputName, dims: graph.inputShape.dims))
        g.message(12, valueInfo(ONNXGraph.outputName, dims: graph.outputShape.dims))
        var model = ProtobufMessage()
        model.int(1, Int64(irVersion))
        model.string(2, "archlab")
        if !producerVersion.isEmpty { model.string(3, producerVersion) }
        model.message(7, g)
        var opset = ProtobufMessage()
        opset.int(2, Int64(ONNXGraph.opset))
        model.message(8, opset)
        return model.bytes
    }

    static func nodeProto(_ node: ONNXGraph.Node) -> ProtobufMessage {
        var m = ProtobufMessage()
        for i in node.inputs { m.string(1, i) }
        for o in node.outputs { m.string(2, o) }
        m.string(3, node.name)
        m.string(4, node.opType)
        for (name, value) in node.attributes {
            var a = ProtobufMessage()
            a.string(1, name)
            // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7
            switch value {
            case .float(let f): a.float(2, f); a.int(20, 1)
            case .int(let i): a.int(3, Int64(i)); a.int(20, 2)
            case .string(let s): a.string(4, s); a.int(20, 3)
            case .floats(let fs): for f in fs { a.float(7, f) }; a.int(20, 6)
            case .ints(let xs): for x in xs { a.int(8, Int64(x)) }; a.int(20, 7)
            }
            m.message(5, a)
        }
        return m
    }

    static func tensorProto(_ t: ONNXGraph.Initializer) -> ProtobufMessage {
        var m = ProtobufMessage()
        for d in t.dims { m.int(1, Int64(d)) }
        switch t.values {
        case .float(let values):
            m.int(2, 1)  // TensorProto.DataType.FLOAT
            m.string(8, t.name)
            m.floatBytes(9, values)
        case .int64(let values):
            m.int(2, 7)  // INT64
            m.string(8, t.name)
            var raw: [UInt8] = []
            for v in values { withUnsafeBytes(of: v.littleEndian) { raw += $0 } }
            m.data(9, raw)
        }
        return m
    }

    /// A float tensor's ValueInfoProto, the first dimension the symbolic `batch`.
    static func valueInfo(_ name: String, dims: [Int]) -> ProtobufMessage {
        var shape = ProtobufMessage()
        var batch = ProtobufMessage()
        batch.string(2, "batch")
        shape.message(1, batch)
        for d in dims {
            var dim = ProtobufMessage()
            dim.int(1, Int64(d))
            shape.message(1, dim)
        }
        var tensor = ProtobufMessage()
        tensor.int(1, 1)  // FLOAT
        tensor.message(2, shape)
        var type = ProtobufMessage()
        type.message(1, tensor)
        var info = ProtobufMessage()
        info.string(1, name)
        info.message(2, type)
        return info
    }
}
