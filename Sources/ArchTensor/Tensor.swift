import Foundation
import Synchronization

/// A float32 tensor in row-major (NCHW) order, owning one buffer allocated once.
///
/// Tensors are reference objects so that a network's activations and gradients can be planned
/// once and reused every step without allocation. `shape` may shrink within the capacity (a
/// smaller last batch reuses the same buffer).
///
/// Sendable: only the first (batch) dimension can change after creation, and it is held in an
/// atomic, so reading the shape while another thread reshapes is safe. The elements are shared
/// memory by design, which is why the conformance is `@unchecked`: the threads of a parallel
/// kernel each write their own disjoint part of a tensor (the contract of `Parallelism.forEach`),
/// and no tensor is written while another thread reads it.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// The first dimension (the batch), the one `reshape` may change; unused for rank 0.
    private let leading: Atomic<Int>
    /// Every dimension after the first, fixed at creation.
    private let trailing: [Int]
    private let trailingCount: Int
    private let rank: Int
    /// The current shape: the batch dimension as last reshaped, then the fixed ones.
    public var shape: [Int] { rank == 0 ? [] : [leading.load(ordering: .relaxed)] + trailing }
    /// Number of floats the buffer holds.
    public let capacity: Int
    let base: UnsafeMutablePointer<Float>
    /// The tensor whose buffer this one views (kept alive with it), nil when it owns its buffer.
    private let storage: Tensor?

    /// A zero-filled tensor. The memory comes from `calloc`: large tensors are fresh zero pages
    /// that take no physical memory until written (gradients of a network that only evaluates).
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape must be non-negative: \(shape)")
        rank = shape.count
        leading = Atomic(shape.first ?? 1)
        trailing = Array(shape.dropFirst())
        trailingCount = trailing.reduce(1, *)
        capacity = max(1, shape.reduce(1, *))
        guard let memory = calloc(capacity, MemoryLayout<Float>.stride) else { fatalError("out of memory for Tensor\(shape)") }
        base = memory.bindMemory(to: Float.self, capacity: capacity)
        storage = nil
    }

    /// A tensor of `shape` on the first elements of `storage`'s buffer (no copy): buffers that
    /// are never needed at the same time share memory this way (the gradients of a plan).
    public init(sharing storage: Tensor, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) <= storage.capacity,
                     "Tensor(sharing:) of \(shape) exceeds the buffer's \(storage.capacity) floats")
        rank = shape.count
        leading = Atomic(shape.first ?? 1)
        trailing = Array(shape.dropFirst())
        trailingCount = trailing.reduce(1, *)
        capacity = max(1, shape.reduce(1, *))
        base = storage.base
        self.storage = storage
    }

    /// A tensor holding `values` (count must match the shape).
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor(shape: \(shape)) needs \(count) values, got \(values.count)")
        for (i, v) in values.enumerated() { base[i] = v }
    }

    deinit { if storage == nil { free(base) } }

    /// Whether both tensors start at the same memory (one views the other, or both one buffer).
    public func sharesMemory(with other: Tensor) -> Bool { base == other.base }

    /// Number of elements of the current shape.
    public var count: Int { rank == 0 ? 1 : leading.load(ordering: .relaxed) * trailingCount }

    public var description: String { "Tensor\(shape)" }

    /// Changes the batch (first) dimension, as a smaller last batch does; the other dimensions
    /// stay, and the element count must fit the capacity.
    public func reshape(_ newShape: [Int]) {
        precondition(newShape.count == rank && Array(newShape.dropFirst()) == trailing,
                     "reshape \(shape) to \(newShape): only the first (batch) dimension may change")
        precondition(newShape.reduce(1, *) <= capacity, "reshape \(newShape) exceeds capacity \(capacity)")
        if let first = newShape.first { leading.store(first, ordering: .relaxed) }
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
