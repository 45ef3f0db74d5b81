import ArchTensor
import ArchSpec

/// Window geometry shared by max and average pooling, with PyTorch's output-size rule.
public struct PoolWindow: Sendable {
    public var kernel: (Int, Int)
    public var stride: (Int, Int)
    public var padding: (Int, Int)
    public var ceilMode: Bool

    init(_ args: inout OpArguments) throws {
        kernel = try args.pair("kernel")
        stride = try args.pair("stride", default: kernel)
        padding = try args.pair("padding", default: (0, 0), min: 0)
        ceilMode = try args.bool("ceil_mode", default: false)
    }

    /// PyTorch's `pooling_output_shape`: with `ceil_mode` the last window must start inside the
    /// input or its left padding.
    static func outputSize(_ size: Int, _ k: Int, _ s: Int, _ p: Int, ceil: Bool) -> Int {
        let numerator = size + 2 * p - (k - 1) - 1 + (ceil ? s - 1 : 0)
        var out = Int((Double(numerator) / Double(s)).rounded(.down)) + 1
        if ceil, (out - 1) * s >= size + p { out -= 1 }
        return out
    }

    func output(_ input: Shape, op: String) throws -> Shape {
        guard input.isSpatial else { throw ShapeError("\(op) expects a [channels, height, width] input, found \(input)") }
        guard padding.0 * 2 <= kernel.0, padding.1 * 2 <= kernel.1 else {
            throw ShapeError("\(op) padding \(padding.0) must be at most half the kernel \(kernel.0)")
        }
        let h = PoolWindow.outputSize(input.height, kernel.0, stride.0, padding.0, ceil: ceilMode)
        let w = PoolWindow.outputSize(input.width, kernel.1, stride.1, padding.1, ceil: ceilMode)
        guard h >= 1, w >= 1, input.height + 2 * padding.0 >= kernel.0, input.width + 2 * padding.1 >= kernel.1 else {
            throw ShapeError(tooSmall(op: op, span: kernel, padding: padding, input: input))
        }
        return Shape(channels: input.channels, height: h, width: w)
    }

    var arguments: [(String, Value)] {
        [("kernel", pairValue(kernel)), ("stride", pairValue(stride)), ("padding", pairValue(padding)), ("ceil_mode", .bool(ceilMode))]
    }
}

/// Max pooling, PyTorch's `nn.MaxPool2d` (stride defaults to the kernel).
///
///     - {op: maxpool2d, kernel: 3, stride: 2, ceil_mode: true}
public struct MaxPool2d: LayerOp {
    public static let name = "maxpool2d"
    public static let summary = "max pooling (kernel, stride=kernel, padding=0, ceil_mode=false)"
    public var window: PoolWindow

    public init(_ args: inout OpArguments) throws {
        window = try PoolWindow(&args)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        let out = try window.output(input, op: Self.name)
        return LayerCost(output: out, otherOps: saturatingProduct(out.elementCount, window.kernel.0, window.kernel.1))
    }

    public var label: String { "max pool" }
    public func patch(input: Shape) -> String? { patchText(kernel: window.kernel, stride: window.stride) }
    public var arguments: [(String, Value)] { window.arguments }
}

/// Average pooling, PyTorch's `nn.AvgPool2d`: with `count_include_pad` (the default) padded zeros
/// count in the divisor, except the part of a `ceil_mode` window beyond the padded input.
///
///     - {op: avgpool2d, kernel: 5, stride: 3}
public struct AvgPool2d: LayerOp {
    public static let name = "avgpool2d"
    public static let summary = "average pooling (kernel, stride=kernel, padding=0, ceil_mode=false, count_include_pad=true)"
    public var window: PoolWindow
    public var countIncludePad: Bool

    public init(_ args: inout OpArguments) throws {
        window = try PoolWindow(&args)
        countIncludePad = try args.bool("count_include_pad", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        let out = try window.output(input, op: Self.name)
        return LayerCost(output: out, otherOps: saturatingProduct(out.elementCount, window.kernel.0, window.kernel.1))
    }

    public var label: String { "avg pool" }
    public func patch(input: Shape) -> String? { patchText(kernel: window.kernel, stride: window.stride) }
    public var arguments: [(String, Value)] { window.arguments + [("count_include_pad", .bool(countIncludePad))] }
}

/// Adaptive average pooling to a fixed output size, PyTorch's `nn.AdaptiveAvgPool2d`. Output cell
/// `i` averages input rows `floor(i*H/out) ..< ceil((i+1)*H/out)`; the output may be larger than
/// the input (windows then overlap), as torchvision's VGG needs at small inputs.
///
///     - {op: adaptive_avgpool2d, size: 7}
public struct AdaptiveAvgPool2d: LayerOp {
    public static let name = "adaptive_avgpool2d"
    public static let summary = "adaptive average pooling to a fixed size (size: n or [h, w])"
    public var size: (Int, Int)

    public init(_ args: inout OpArguments) throws {
        size = try args.pair("size")
        try args.finish()
    }

    /// The input range of output cell `i` along an axis.
    public static func window(_ i: Int, input: Int, output: Int) -> Range<Int> {
        let start = (i * input) / output
        let end = ((i + 1) * input + output - 1) / output
        return start..<end
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("adaptive_avgpool2d expects a [channels, height, width] input, found \(input)") }
        let rows = (0..<size.0).reduce(0) { $0 + Self.window($1, input: input.height, output: size.0).count }
        let cols = (0..<size.1).reduce(0) { $0 + Self.window($1, input: input.width, output: size.1).count }
        return LayerCost(output: Shape(channels: input.channels, height: size.0, width: size.1), otherOps: saturatingProduct(input.channels, rows, cols))
    }

    public var label: String { "avg pool" }
    public func patch(input: Shape) -> String? {
        guard input.isSpatial, input.height % size.0 == 0, input.width % size.1 == 0 else { return "adaptive" }
        let k = (input.height / size.0, input.width / size.1)
        return patchText(kernel: k, stride: k)
    }
    public var arguments: [(String, Value)] { [("size", pairValue(size))] }
}

// MARK: - Forward and backward

extension PoolWindow {
    func geometry(_ input: Shape) -> PoolGeometry {
        PoolGeometry(channels: input.channels, inHeight: input.height, inWidth: input.width, kernel: kernel, stride: stride,
                     padding: padding, ceilMode: ceilMode)
    }
}

extension MaxPool2d: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        MaxPoolRuntime(geometry: window.geometry(layer.input), capacity: batch * layer.output.elementCount)
    }
}

final class MaxPoolRuntime: LayerRuntime {
    let geometry: PoolGeometry
    let argmax: UnsafeMutablePointer<Int32>

    init(geometry: PoolGeometry, capacity: Int) {
        self.geometry = geometry
        argmax = .allocate(capacity: max(1, capacity))
        argmax.initialize(repeating: -1, count: max(1, capacity))
    }

    deinit { argmax.deallocate() }

    // x: [N, C, H, W] -> y: [N, C, Ho, Wo]
    func forward(_ x: Tensor, _ y: Tensor, _ context: StepContext) {
        MaxPoolKernel.forward(x: x, y: y, argmax: argmax, geometry: geometry, parallel: context.parallel)
    }

    func backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor?, accumulate: Bool, _ context: StepContext) {
        guard let dx else { return }
        MaxPoolKernel.backward(dy: dy, dx: dx, argmax: argmax, geometry: geometry, accumulate: accumulate, parallel: context.parallel)
    }
}

extension AvgPool2d: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let g = window.geometry(layer.input), include = countIncludePad
        return StatelessRuntime(
            forward: { x, y, c in AvgPoolKernel.forward(x: x, y: y, geometry: g, countIncludePad: include, parallel: c.parallel) },
            backward: { _, _, dy, dx, acc, c in
                AvgPoolKernel.backward(dy: dy, dx: dx, geometry: g, countIncludePad: include, accumulate: acc, parallel: c.parallel)
            })
    }
}

extension AdaptiveAvgPool2d: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let (oh, ow) = size
        return StatelessRuntime(
            forward: { x, y, c in AdaptiveAvgPoolKernel.forward(x: x, y: y, outHeight: oh, outWidth: ow, parallel: c.parallel) },
            backward: { _, _, dy, dx, acc, c in AdaptiveAvgPoolKernel.backward(dy: dy, dx: dx, accumulate: acc, parallel: c.parallel) })
    }
}

// MARK: - ONNX

extension PoolWindow {
    var onnxAttributes: [(name: String, value: ONNXGraph.Attribute)] {
        [("kernel_shape", .ints([kernel.0, kernel.1])), ("strides", .ints([stride.0, stride.1])),
         ("pads", .ints([padding.0, padding.1, padding.0, padding.1])), ("ceil_mode", .int(ceilMode ? 1 : 0))]
    }
}

extension MaxPool2d {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("MaxPool", [input], window.onnxAttributes, name: layer.path)
    }
}

extension AvgPool2d {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("AveragePool", [input], window.onnxAttributes + [("count_include_pad", .int(countIncludePad ? 1 : 0))], name: layer.path)
    }
}

extension AdaptiveAvgPool2d {
    /// GlobalAveragePool for size 1, AveragePool where the size divides the input, and otherwise
    /// (uneven or overlapping windows) a MatMul of the flattened planes with the averaging matrix.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let (h, w, c) = (layer.input.height, layer.input.width, layer.input.channels)
        if size == (1, 1) { return graph.add("GlobalAveragePool", [input], name: layer.path) }
        if h == size.0 && w == size.1 { return input }
        if h % size.0 == 0 && w % size.1 == 0 {
            let k = [h / size.0, w / size.1]
            return graph.add("AveragePool", [input], [("kernel_shape", .ints(k)), ("strides", .ints(k))], name: layer.path)
        }
        // weights[(y * w + x) * cells + (i * size.1 + j)] = 1 / window area when (y, x) is in cell (i, j)
        let cells = size.0 * size.1
        var matrix = [Float](repeating: 0, count: h * w * cells)
        for i in 0..<size.0 {
            let rows = Self.window(i, input: h, output: size.0)
            for j in 0..<size.1 {
                let cols = Self.window(j, input: w, output: size.1)
                let share = 1 / Float(rows.count * cols.count)
                for y in rows { for x in cols { matrix[(y * w + x) * cells + i * size.1 + j] = share } }
            }
        }
        let flatShape = graph.constant(layer.path + "/planes", ints: [0, c, h * w])
        let outShape = graph.constant(layer.path + "/cells", ints: [0, c, size.0, size.1])
        let averaging = graph.constant(layer.path + "/averaging", matrix, dims: [h * w, cells])
        let planes = graph.add("Reshape", [input, flatShape], name: layer.path + "/flatten")
        let pooled = graph.add("MatMul", [planes, averaging], name: layer.path + "/average")
        return graph.add("Reshape", [pooled, outShape], name: layer.path)
    }
}
