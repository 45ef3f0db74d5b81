import Foundation

/// A float32 tensor in row-major (NCHW) order, owning one buffer allocated once.
///
/// Tensors are reference objects so that a network's activations and gradients can be planned
/// once and reused every step without allocation. `shape` may shrink within the capacity (a
/// smaller last batch reuses the same buffer).
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    /// Number of floats the buffer holds.
    public let capacity: Int
    let base: UnsafeMutablePointer<Float>

    /// A zero-filled tensor. The memory comes from `calloc`: large tensors are fresh zero pages
    /// that take no physical memory until written (gradients of a network that only evaluates).
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape must be non-negative: \(shape)")
        self.shape = shape
        capacity = max(1, shape.reduce(1, *))
        guard let memory = calloc(capacity, MemoryLayout<Float>.stride) else { fatalError("out of memory for Tensor\(shape)") }
        base = memory.bindMemory(to: Float.self, capacity: capacity)
    }

    /// A tensor holding `values` (count must match the shape).
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor(shape: \(shape)) needs \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { free(base) }

    /// Number of elements of the current shape.
    public var count: Int { shape.reduce(1, *) }

    public var description: String { "Tensor\(shape)" }

    /// Changes the shape; the element count must fit the capacity.
    public func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) <= capacity, "reshape \(newShape) exceeds capacity \(capacity)")
        shape = newShape
    }

    public subscript(index: Int) -> Float {
        get { base[index] }
        set { base[index] = newValue }
    }

    /// A copy of the elements.
    public var values: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func fill(_ value: Float) { base.update(repeating: value, count: count) }
    public func zero() { fill(0) }

    /// Copies `other`'s elements (same count).
    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy: \(other.shape) into \(shape)")
        base.update(from: other.base, count: count)
    }

    /// Direct access to the elements, for loaders and kernels in other modules.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: base, count: count))
    }

    /// Read-only access to the elements.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }
}
