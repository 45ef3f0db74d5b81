import ArchTensor
import ArchSpec

/// An op over parallel branches (`branches:`), each branch built from the same input.
public protocol CombineOp: Sendable {
    static var name: String { get }
    static var summary: String { get }
    init(_ args: inout OpArguments) throws
    /// Combines the branch outputs. `branches` pairs each branch's name with its output shape; an
    /// op may give meaning to a single branch (see `Add`).
    func combine(input: Shape, branches: [(name: String, shape: Shape)]) throws -> LayerCost
    /// Combines the operands (the branch outputs, plus the input for a one-branch add).
    // parts: [N, ...] each -> y: [N, ...]
    func forward(_ parts: [Tensor], into y: Tensor)
    /// The gradient of operand `index`, given the forward's operands `parts`.
    func backward(_ dy: Tensor, parts: [Tensor], part index: Int, into dx: Tensor, accumulate: Bool)
    /// Whether a single branch is combined with the input itself (residual add).
    var addsInputToSingleBranch: Bool { get }
    /// True when the output may be written over the first operand (element-wise ops whose
    /// backward does not read that operand: a residual add); the plan decides where it is safe.
    var runsInPlace: Bool { get }
    /// Adds the inference node combining `operands` (the branch outputs, then the input for a
    /// one-branch add or multiply) to `graph`; returns its output's name.
    func exportONNX(_ graph: inout ONNXGraph, operands: [String], combination: Combination) throws -> String
}

extension CombineOp {
    public var runsInPlace: Bool { false }
}

/// Concatenation of parallel branches along channels (`torch.cat(outputs, 1)`), as in Inception.
///
///     - op: concat
///       branches:
///         - {name: branch1, op: basic_conv, out: 64, kernel: 1}
///         - name: branch2
///           layers: [...]
public struct Concat: CombineOp {
    public static let name = "concat"
    public var addsInputToSingleBranch: Bool { false }
    public static let summary = "concatenates parallel branches along channels (branches: [...])"

    public init(_ args: inout OpArguments) throws { try args.finish() }

    public func combine(input: Shape, branches: [(name: String, shape: Shape)]) throws -> LayerCost {
        guard let first = branches.first else { throw ShapeError("concat needs at least one branch") }
        for b in branches where !b.shape.isSpatial {
            throw ShapeError("concat: branch \(b.name) gives flat features \(b.shape); concat joins [C, H, W] maps")
        }
        for b in branches.dropFirst() where b.shape.height != first.shape.height || b.shape.width != first.shape.width {
            throw ShapeError("concat branches disagree in size: \(first.name) gives \(first.shape) but \(b.name) gives \(b.shape) (height and width must match)")
        }
        let channels = branches.reduce(0) { $0 + $1.shape.channels }
        return LayerCost(output: Shape(channels: channels, height: first.shape.height, width: first.shape.width))
    }
}

/// Element-wise sum of parallel branches, the residual connection. With a single branch the input
/// itself is the other summand (an identity shortcut): `out = branch(x) + x`.
///
///     - op: add
///       branches:
///         - layers: [conv1, bn1, relu, conv2, bn2]     # names join the enclosing block
///         - {name: downsample, when: "${stride != 1}", layers: [...]}
public struct Add: CombineOp {
    public static let name = "add"
    public var addsInputToSingleBranch: Bool { true }
    /// y = a + b + ... element by element, and no gradient reads an operand.
    public var runsInPlace: Bool { true }
    public static let summary = "sums parallel branches; one branch plus the identity shortcut (branches: [...])"

    public init(_ args: inout OpArguments) throws { try args.finish() }

    public func combine(input: Shape, branches: [(name: String, shape: Shape)]) throws -> LayerCost {
        guard let first = branches.first else { throw ShapeError("add needs at least one branch") }
        let operands = branches.count == 1 ? branches + [("the identity shortcut", input)] : branches
        for b in operands.dropFirst() where b.shape != first.shape {
            throw ShapeError("add: shapes differ: \(first.name) gives \(first.shape) but \(b.name) gives \(b.shape)")
        }
        return LayerCost(output: first.shape, otherOps: first.shape.elementCount * (operands.count - 1))
    }
}

/// Element-wise product of two operands, one of which may be per-channel `[C, 1, 1]` and is then
/// broadcast over the other's plane. With a single branch the input is the other factor:
/// squeeze-and-excitation (`out = x * gate(x)`, torchvision's `SqueezeExcitation`).
///
///     - op: multiply
///       branches:
///         - layers:                      # names join the enclosing block: fc1, fc2
///             - {name: avgpool, op: adaptive_avgpool2d, size: 1}
///             - {name: fc1, op: conv2d, out: 16, kernel: 1}
///             - {name: activation, op: relu}
///             - {name: fc2, op: conv2d, out: 64, kernel: 1}
///             - {name: scale_activation, op: hardsigmoid}
public struct Multiply: CombineOp {
    public static let name = "multiply"
    public var addsInputToSingleBranch: Bool { true }
    public static let summary = "multiplies two operands, one may be [C, 1, 1] (one branch: times the input, as squeeze-excitation)"

    public init(_ args: inout OpArguments) throws { try args.finish() }

    public func combine(input: Shape, branches: [(name: String, shape: Shape)]) throws -> LayerCost {
        let operands = branches.count == 1 ? branches + [("the input", input)] : branches
        guard operands.count == 2 else {
            throw ShapeError("multiply takes one branch (times the input) or two branches, found \(branches.count)")
        }
        let (a, b) = (operands[0], operands[1])
        for o in operands where !o.shape.isSpatial {
            throw ShapeError("multiply: \(o.name) gives \(o.shape); multiply takes [C, H, W] maps or [C, 1, 1] scales")
        }
        let (full, other) = a.shape.elementCount >= b.shape.elementCount ? (a, b) : (b, a)
        let isScale = other.shape.height == 1 && other.shape.width == 1
        guard other.shape == full.shape || (isScale && other.shape.channels == full.shape.channels) else {
            throw ShapeError("multiply: \(other.name) gives \(other.shape) but \(full.name) gives \(full.shape); the factors must have equal shapes, or one must be [\(full.shape.channels), 1, 1]")
        }
        return LayerCost(output: full.shape, otherOps: full.shape.elementCount)
    }
}

// MARK: - Forward and backward

extension Multiply {
    private static func plane(_ t: Tensor) -> Int { t.shape.count == 4 ? t.shape[2] * t.shape[3] : 1 }

    // parts: [N, C, H, W] and [N, C, H, W] or [N, C, 1, 1] (either order) -> y = product
    public func forward(_ parts: [Tensor], into y: Tensor) {
        ProductKernel.forward(x: parts[0], xPlane: Self.plane(parts[0]), s: parts[1], sPlane: Self.plane(parts[1]), y: y)
    }
    public func backward(_ dy: Tensor, parts: [Tensor], part index: Int, into dx: Tensor, accumulate: Bool) {
        let other = parts[1 - index]
        ProductKernel.backward(dy: dy, other: other, otherPlane: Self.plane(other), plane: Self.plane(parts[index]), into: dx, accumulate: accumulate)
    }
}

extension Concat {
    // parts: [N, C_i, H, W] -> y: [N, sum C_i, H, W]
    public func forward(_ parts: [Tensor], into y: Tensor) { Elementwise.concatChannels(parts, into: y) }
    public func backward(_ dy: Tensor, parts: [Tensor], part index: Int, into dx: Tensor, accumulate: Bool) {
        Elementwise.concatBackward(dy, slice: index, of: parts.map { $0.count / $0.shape[0] }, into: dx, accumulate: accumulate)
    }
}

extension Add {
    // parts: same shapes -> y = sum
    public func forward(_ parts: [Tensor], into y: Tensor) {
        if !y.sharesMemory(with: parts[0]) { Elementwise.copy(parts[0], into: y, accumulate: false) }
        for p in parts.dropFirst() { Elementwise.copy(p, into: y, accumulate: true) }
    }
    public func backward(_ dy: Tensor, parts: [Tensor], part index: Int, into dx: Tensor, accumulate: Bool) {
        Elementwise.copy(dy, into: dx, accumulate: accumulate)
    }
}

// MARK: - ONNX

extension Concat {
    public func exportONNX(_ graph: inout ONNXGraph, operands: [String], combination: Combination) throws -> String {
        graph.add("Concat", operands, [("axis", .int(1))], name: combination.path + "/concat")
    }
}

extension Add {
    public func exportONNX(_ graph: inout ONNXGraph, operands: [String], combination: Combination) throws -> String {
        graph.add(operands.count == 2 ? "Add" : "Sum", operands, name: combination.path + "/add")
    }
}

extension Multiply {
    public func exportONNX(_ graph: inout ONNXGraph, operands: [String], combination: Combination) throws -> String {
        guard operands.count == 2 else { throw ONNXGraph.ExportError(description: "multiply of \(operands.count) operands") }
        return graph.add("Mul", operands, name: combination.path + "/multiply")
    }
}
