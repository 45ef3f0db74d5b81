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
    /// The gradient of operand `index` (sizes: per-sample element counts of the operands).
    func backward(_ dy: Tensor, part index: Int, sizes: [Int], into dx: Tensor, accumulate: Bool)
    /// Whether a single branch is combined with the input itself (residual add).
    var addsInputToSingleBranch: Bool { get }
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

// MARK: - Forward and backward

extension Concat {
    // parts: [N, C_i, H, W] -> y: [N, sum C_i, H, W]
    public func forward(_ parts: [Tensor], into y: Tensor) { Elementwise.concatChannels(parts, into: y) }
    public func backward(_ dy: Tensor, part index: Int, sizes: [Int], into dx: Tensor, accumulate: Bool) {
        Elementwise.concatBackward(dy, slice: index, of: sizes, into: dx, accumulate: accumulate)
    }
}

extension Add {
    // parts: same shapes -> y = sum
    public func forward(_ parts: [Tensor], into y: Tensor) {
        Elementwise.copy(parts[0], into: y, accumulate: false)
        for p in parts.dropFirst() { Elementwise.copy(p, into: y, accumulate: true) }
    }
    public func backward(_ dy: Tensor, part index: Int, sizes: [Int], into dx: Tensor, accumulate: Bool) {
        Elementwise.copy(dy, into: dx, accumulate: accumulate)
    }
}
