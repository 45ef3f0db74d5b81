import ArchSpec

/// Fully connected layer, PyTorch's `nn.Linear`; `in_features` is inferred from the input.
///
///     - {op: linear, out: 4096}
///
/// Weight `[out, in]`, optional bias `[out]`; MACs `in * out`.
public struct Linear: LayerOp {
    public static let name = "linear"
    public static let summary = "fully connected layer (out, bias=true); in_features is inferred"
    public var out: Int
    public var bias: Bool

    public init(_ args: inout OpArguments) throws {
        out = try args.int("out")
        bias = try args.bool("bias", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.dims.count == 1 else {
            throw ShapeError("linear expects flat features, found \(input); put {op: flatten} before it")
        }
        let inFeatures = input.dims[0]
        var parameters = [ParameterInfo("weight", [out, inFeatures])]
        if bias { parameters.append(ParameterInfo("bias", [out])) }
        return LayerCost(output: Shape([out]), parameters: parameters, macs: inFeatures * out)
    }

    public var label: String { "linear" }
    public var depth: Int { 1 }
    public var arguments: [(String, Value)] { [("out", .int(out)), ("bias", .bool(bias))] }
}
