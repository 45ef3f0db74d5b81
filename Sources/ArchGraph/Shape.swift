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
    /// Number of values in one sample (Int.max when it does not fit: the builder rejects such
    /// shapes, see `Limits`).
    public var elementCount: Int { saturatingProduct(dims) }

    public var description: String { dims.map(String.init).joined(separator: "x") }
    /// The paper's `H×W×C` form (`28×28×256`).
    public var paperDescription: String {
        isSpatial ? "\(height)×\(width)×\(channels)" : "1×1×\(elementCount)"
    }
}

/// The product, or Int.max when it overflows (counts computed from user-given sizes must never trap).
public func saturatingProduct(_ factors: [Int]) -> Int {
    var p = 1
    for f in factors {
        let (r, overflow) = p.multipliedReportingOverflow(by: f)
        if overflow { return Int.max }
        p = r
    }
    return p
}

public func saturatingProduct(_ factors: Int...) -> Int { saturatingProduct(factors) }

/// Sizes the builder accepts: beyond them counts would overflow or allocations fail, so a file
/// asking for more gets an error instead.
public enum Limits {
    /// Largest value of any one dimension (channels, height, width, features).
    public static let dimension = 1 << 24
    /// Largest number of values in one sample's activation or in one parameter tensor.
    public static let elements = 1 << 40
    /// Largest MAC or op count of one layer.
    public static let operations = 1 << 62

    /// Why `shape` is too large, or nil.
    public static func problem(with shape: Shape) -> String? {
        if let d = shape.dims.first(where: { $0 > dimension }) { return "a dimension of \(d) exceeds the limit of \(dimension)" }
        if shape.elementCount > elements { return "\(shape) holds more than \(elements) values per sample" }
        return nil
    }
}

/// A shape rule's complaint, turned into a located `SpecError` by the builder.
public struct ShapeError: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
