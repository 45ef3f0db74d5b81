import ArchTensor

/// Images in memory: `count` samples of `channels x height x width` floats in [0, 1] (NCHW) with
/// their class labels.
public struct ImageSet: Sendable {
    public var channels: Int, height: Int, width: Int
    public var pixels: [Float]
    public var labels: [Int]
    public var classNames: [String]

    public init(channels: Int, height: Int, width: Int, pixels: [Float], labels: [Int], classNames: [String]) {
        self.channels = channels; self.height = height; self.width = width
        self.pixels = pixels; self.labels = labels; self.classNames = classNames
    }

    public var count: Int { labels.count }
    public var sampleSize: Int { channels * height * width }
    public var classes: Int { classNames.count }

    /// The samples at `indices`, in that order.
    public func subsetSet(_ indices: [Int]) -> ImageSet {
        var p: [Float] = []
        p.reserveCapacity(indices.count * sampleSize)
        for i in indices { p.append(contentsOf: pixels[(i * sampleSize)..<((i + 1) * sampleSize)]) }
        return ImageSet(channels: channels, height: height, width: width, pixels: p, labels: indices.map { labels[$0] }, classNames: classNames)
    }

}
