import ArchSpec

/// 2-D convolution, PyTorch's `nn.Conv2d`: weight `[out, in/groups, kh, kw]`, optional bias `[out]`.
///
///     - {op: conv2d, out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
///
/// Output size per axis: `floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1`.
/// MACs: `out * Hout * Wout * (in/groups) * kh * kw` (the bias adds are not counted, as torchvision).
public struct Conv2d: LayerOp {
    public static let name = "conv2d"
    public static let summary = "2-D convolution (out, kernel, stride=1, padding=0, dilation=1, groups=1, bias=true)"
    public var out: Int
    public var kernel: (Int, Int)
    public var stride: (Int, Int)
    public var padding: (Int, Int)
    public var dilation: (Int, Int)
    public var groups: Int
    public var bias: Bool

    public init(_ args: inout OpArguments) throws {
        out = try args.int("out")
        kernel = try args.pair("kernel")
        stride = try args.pair("stride", default: (1, 1))
        padding = try args.pair("padding", default: (0, 0), min: 0)
        dilation = try args.pair("dilation", default: (1, 1))
        groups = try args.int("groups", default: 1)
        bias = try args.bool("bias", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else {
            throw ShapeError("conv2d expects a [channels, height, width] input, found \(input)")
        }
        guard input.channels % groups == 0, out % groups == 0 else {
            throw ShapeError("conv2d groups \(groups) must divide both input channels \(input.channels) and out \(out)")
        }
        let h = try Conv2d.outputSize(input.height, kernel.0, stride.0, padding.0, dilation.0, axis: "height", input: input, op: "conv2d")
        let w = try Conv2d.outputSize(input.width, kernel.1, stride.1, padding.1, dilation.1, axis: "width", input: input, op: "conv2d")
        let perGroup = input.channels / groups
        var parameters = [ParameterInfo("weight", [out, perGroup, kernel.0, kernel.1])]
        if bias { parameters.append(ParameterInfo("bias", [out])) }
        let macs = out * h * w * perGroup * kernel.0 * kernel.1
        return LayerCost(output: Shape(channels: out, height: h, width: w), parameters: parameters, macs: macs)
    }

    /// The convolution output size along one axis, or a `ShapeError` naming the sizes when it collapses.
    static func outputSize(_ size: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int, axis: String, input: Shape, op: String) throws -> Int {
        let span = d * (k - 1) + 1
        let padded = size + 2 * p
        guard padded >= span else {
            throw ShapeError("\(op) kernel \(k) (span \(span)) does not fit the input \(axis) \(size) with padding \(p): input \(input) is too small (output would be smaller than 1x1)")
        }
        return (padded - span) / s + 1
    }

    public var label: String { "convolution" }
    public func patch(input: Shape) -> String? { patchText(kernel: kernel, stride: stride) }
    public var depth: Int { 1 }
    public var arguments: [(String, Value)] {
        [("out", .int(out)), ("kernel", pairValue(kernel)), ("stride", pairValue(stride)), ("padding", pairValue(padding)),
         ("dilation", pairValue(dilation)), ("groups", .int(groups)), ("bias", .bool(bias))]
    }
}

/// `3` for (3, 3), `[3, 5]` otherwise.
func pairValue(_ p: (Int, Int)) -> Value { p.0 == p.1 ? .int(p.0) : .list([.int(p.0), .int(p.1)]) }
