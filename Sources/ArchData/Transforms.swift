import ArchTensor

/// Per-sample transforms applied when a batch is assembled, like torchvision's: bilinear resize
/// (align_corners=False), zero padding then a random crop back to size, random horizontal flip, and
/// per-channel normalization. Random choices come from the generator passed in.
public struct Transform: Sendable {
    /// Output height and width (the resize target, or the source size).
    public var size: (Int, Int)?
    /// Pixels of zero padding before a random crop to `size` (0: no crop).
    public var padCrop: Int = 0
    public var horizontalFlip = false
    public var mean: [Float] = []
    public var std: [Float] = []

    public init(size: (Int, Int)? = nil, padCrop: Int = 0, horizontalFlip: Bool = false, mean: [Float] = [], std: [Float] = []) {
        self.size = size; self.padCrop = padCrop; self.horizontalFlip = horizontalFlip; self.mean = mean; self.std = std
    }

    /// The transform without its random parts (for evaluation).
    public var deterministic: Transform { Transform(size: size, padCrop: 0, horizontalFlip: false, mean: mean, std: std) }

    public func outputSize(_ height: Int, _ width: Int) -> (Int, Int) { size ?? (height, width) }

    // src: [C, H, W] -> dst: [C, Ho, Wo]
    func apply(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int, into dst: UnsafeMutablePointer<Float>,
               random: inout RandomSource) {
        let (oh, ow) = outputSize(height, width)
        let flip = horizontalFlip && random.uniform() < 0.5
        let (dy, dx) = padCrop > 0 ? (Int(random.next() % UInt64(2 * padCrop + 1)) - padCrop, Int(random.next() % UInt64(2 * padCrop + 1)) - padCrop) : (0, 0)
        let sy = Float(height) / Float(oh), sx = Float(width) / Float(ow)
        let same = oh == height && ow == width
        for c in 0..<channels {
            let plane = src + c * height * width, out = dst + c * oh * ow
            let m = c < mean.count ? mean[c] : 0, s = c < std.count ? std[c] : 1
            for y in 0..<oh {
                let ty = y + dy
                for x in 0..<ow {
                    let tx = (flip ? ow - 1 - x : x) + dx
                    var v: Float = 0
                    if ty >= 0, ty < oh, tx >= 0, tx < ow {
                        if same {
                            v = plane[ty * width + tx]
                        } else {
                            let fy = max(0, (Float(ty) + 0.5) * sy - 0.5), fx = max(0, (Float(tx) + 0.5) * sx - 0.5)
                            let y0 = min(Int(fy), height - 1), x0 = min(Int(fx), width - 1)
                            let y1 = min(y0 + 1, height - 1), x1 = min(x0 + 1, width - 1)
                            let wy = fy - Float(y0), wx = fx - Float(x0)
                            let top = plane[y0 * width + x0] * (1 - wx) + plane[y0 * width + x1] * wx
                            let bottom = plane[y1 * width + x0] * (1 - wx) + plane[y1 * width + x1] * wx
                            v = top * (1 - wy) + bottom * wy
                        }
                    }
                    out[y * ow + x] = (v - m) / s
                }
            }
        }
    }
}

/// Assembles batches from an image set on a background thread, one batch ahead of the consumer:
/// shuffled per epoch with a seeded permutation, transformed, written into reused buffers.
public final class BatchLoader: @unchecked Sendable {
    public let set: ImageSet
    public let batchSize: Int
    public let transform: Transform
    public let shuffle: Bool
    public let dropLast: Bool
    public let seed: UInt64
    public let parallel: Parallelism
    public let outputShape: [Int]

    public init(set: ImageSet, batchSize: Int, transform: Transform, shuffle: Bool, dropLast: Bool, seed: UInt64, parallel: Parallelism) {
        self.set = set; self.batchSize = batchSize; self.transform = transform; self.shuffle = shuffle
        self.dropLast = dropLast; self.seed = seed; self.parallel = parallel
        let (h, w) = transform.outputSize(set.height, set.width)
        outputShape = [set.channels, h, w]
    }

    /// Batches per epoch.
    public var batchCount: Int { dropLast ? set.count / batchSize : (set.count + batchSize - 1) / batchSize }

    func order(epoch: Int) -> [Int] {
        var order = Array(0..<set.count)
        if shuffle {
            var random = RandomSource.stream(seed: seed, 0x0DE5, UInt64(epoch))
            order.shuffle(using: &random)
        }
        return order
    }

    func fill(_ buffer: Tensor, labels: inout [Int], indices: ArraySlice<Int>, epoch: Int, batch: Int) {
        let sample = set.sampleSize, out = outputShape.reduce(1, *)
        buffer.reshape([indices.count] + outputShape)
        labels = indices.map { set.labels[$0] }
        let items = Array(indices)
        set.pixels.withUnsafeBufferPointer { pixels in
            buffer.withUnsafeMutableBufferPointer { dst in
                let base = dst.baseAddress!
                parallel.forEach(items.count) { j in
                    var random = RandomSource.stream(seed: seed, 0xA06, UInt64(epoch), UInt64(batch), UInt64(j))
                    transform.apply(pixels.baseAddress! + items[j] * sample, channels: set.channels, height: set.height,
                                    width: set.width, into: base + j * out, random: &random)
                }
            }
        }
    }

    /// Calls `body(batchIndex, input [B, C, H, W], labels)` for every batch of `epoch`; the next
    /// batch is prepared while `body` runs. `body` returns false to stop early.
    public func forEachBatch(epoch: Int, _ body: (Int, Tensor, [Int]) -> Bool) {
        let order = self.order(epoch: epoch)
        let count = batchCount, size = batchSize
        guard count > 0 else { return }
        let buffers = [Tensor(shape: [batchSize] + outputShape), Tensor(shape: [batchSize] + outputShape)]
        let labels = [LabelsBox(), LabelsBox()]
        let range: @Sendable (Int) -> ArraySlice<Int> = { b in order[(b * size)..<min(order.count, (b + 1) * size)] }
        fill(buffers[0], labels: &labels[0].labels, indices: range(0), epoch: epoch, batch: 0)
        for b in 0..<count {
            let current = b % 2, next = 1 - current
            guard b + 1 < count else {
                _ = body(b, buffers[current], labels[current].labels)
                return
            }
            let group = DispatchGroup()
            group.enter()
            DispatchQueueBox.shared.async {
                self.fill(buffers[next], labels: &labels[next].labels, indices: range(b + 1), epoch: epoch, batch: b + 1)
                group.leave()
            }
            let keepGoing = body(b, buffers[current], labels[current].labels)
            group.wait()
            if !keepGoing { return }
        }
    }
}

import Dispatch

final class LabelsBox: @unchecked Sendable { var labels: [Int] = [] }

enum DispatchQueueBox {
    static let shared = DispatchQueue(label: "archlab.loader", qos: .userInitiated)
}
