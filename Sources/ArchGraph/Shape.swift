/// The shape of one sample, without the batch dimension: `[C, H, W]` for feature maps, `[F]` for
/// flat features. Printed as `64x28x28` or `1024`.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(channels: Int, height: Int, width: Int) { dims = [channels, height, width] }

    public var isSpatial: Bool { dims.count == 3 }
    public var channels: Int { dims[0] }
    public var height: Int { dims.count == 3 ? dims[1] : 1 }
    public var width: Int { dims.count == 3 ? dims[2] : 1 }
    /// Number of values in one sample.
    public var elementCount: Int { dims.reduce(1, *) }

    public var description: String { dims.map(String.init).joined(separator: "x") }
    /// The paper's `H×W×C` form (`28×28×256`).
    public var paperDescription: String {
        isSpatial ? "\(height)×\(width)×\(channels)" : "1×1×\(elementCount)"
    }
}

/// A shape rule's complaint, turned into a located `SpecError` by the builder.
public struct ShapeError: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
