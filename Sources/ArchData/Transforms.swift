import ArchTensor
import Dispatch
import Foundation
import Synchronization

/// Per-sample transforms like torchvision's, applied when a batch is assembled:
/// - training: `RandomResizedCrop(size, scale, ratio)` when `randomResizedCrop`, else a resize of
///   the whole image to `size`; then zero padding and a random crop (`padCrop`), a random
///   horizontal flip, and per-channel normalization;
/// - evaluation: resize the shorter side to `resizeShorter` and take the center `size` crop, or
///   resize the whole image to `size`; then normalization.
/// Resizing uses Pillow's antialiased bilinear filter (see `Resample`).
public struct Transform: Sendable {
    /// Output height and width (nil: the source size).
    public var size: (Int, Int)?
    public var randomResizedCrop = false
    public var scale: (Double, Double) = (0.08, 1)
    public var ratio: (Double, Double) = (3.0 / 4.0, 4.0 / 3.0)
    /// Evaluation: resize the shorter side to this, then center-crop `size`.
    public var resizeShorter: Int?
    /// Pixels of zero padding before a random crop back to size (0: no crop).
    public var padCrop = 0
    public var horizontalFlip = false
    public var mean: [Float] = []
    public var std: [Float] = []

    public init(size: (Int, Int)? = nil, padCrop: Int = 0, horizontalFlip: Bool = false, mean: [Float] = [], std: [Float] = []) {
        self.size = size; self.padCrop = padCrop; self.horizontalFlip = horizontalFlip; self.mean = mean; self.std = std
    }

    public func outputSize(_ height: Int, _ width: Int) -> (Int, Int) { size ?? (height, width) }

    /// The source box (x, y, w, h) for a sample of `height` x `width`.
    public func box(height: Int, width: Int, training: Bool, random: inout RandomSource) -> (x: Double, y: Double, w: Double, h: Double) {
        let (H, W) = (Double(height), Double(width))
        if training, randomResizedCrop {
            // torchvision's RandomResizedCrop.get_params: 10 tries, then a center crop of clamped ratio
            let area = H * W
            for _ in 0..<10 {
                let target = area * Double(random.uniform(Float(scale.0), Float(scale.1)))
                let logRatio = Double(random.uniform(Float(log(ratio.0)), Float(log(ratio.1))))
                let r = exp(logRatio)
                let w = (target * r).squareRoot().rounded(), h = (target / r).squareRoot().rounded()
                if w > 0, h > 0, w <= W, h <= H {
                    let x = Double(Int(random.next() % UInt64(Int(W - w) + 1)))
                    let y = Double(Int(random.next() % UInt64(Int(H - h) + 1)))
                    return (x, y, w, h)
                }
            }
            let inRatio = W / H
            let (w, h) = inRatio < ratio.0 ? (W, (W / ratio.0).rounded()) : inRatio > ratio.1 ? ((H * ratio.1).rounded(), H) : (W, H)
            return ((W - w) / 2, (H - h) / 2, w, h)
        }
        if !training, let shorter = resizeShorter, let (oh, ow) = size {
            // Resize(shorter) then CenterCrop(size), as one box in source coordinates
            let s = Double(shorter) / min(H, W)
            let (ch, cw) = (Double(oh) / s, Double(ow) / s)
            return ((W - cw) / 2, (H - ch) / 2, cw, ch)
        }
        return (0, 0, W, H)
    }

    // src: [C, H, W] -> dst: [C, Ho, Wo]
    func apply(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int, training: Bool,
               into dst: UnsafeMutablePointer<Float>, random: inout RandomSource) {
        let (oh, ow) = outputSize(height, width)
        let b = box(height: height, width: width, training: training, random: &random)
        if b == (0, 0, Double(width), Double(height)), oh == height, ow == width {
            finish(src, channels: channels, height: oh, width: ow, training: training, into: dst, random: &random)
            return
        }
        let resized = UnsafeMutablePointer<Float>.allocate(capacity: max(1, channels * oh * ow))
        defer { resized.deallocate() }
        Resample.resample(src, channels: channels, height: height, width: width, box: b, outHeight: oh, outWidth: ow, into: resized)
        finish(resized, channels: channels, height: oh, width: ow, training: training, into: dst, random: &random)
    }

    /// 8-bit RGB whose region `rgb` starts at (`originX`, `originY`) of a `width` x `height` image
    /// and covers `Resample.support` of `box` (drawn by `box(height:width:training:random:)` with
    /// the same `random`, which this continues) -> dst: [3, Ho, Wo], values scaled by 1/255.
    func apply(rgb: UnsafePointer<UInt8>, rowBytes: Int, originX: Int, originY: Int, height: Int, width: Int,
               box b: (x: Double, y: Double, w: Double, h: Double), training: Bool,
               into dst: UnsafeMutablePointer<Float>, random: inout RandomSource) {
        let (oh, ow) = outputSize(height, width)
        let resized = UnsafeMutablePointer<Float>.allocate(capacity: 3 * oh * ow)
        defer { resized.deallocate() }
        Resample.resample(rgb: rgb, rowBytes: rowBytes, originX: originX, originY: originY, height: height, width: width, box: b,
                          outHeight: oh, outWidth: ow, into: resized)
        finish(resized, channels: 3, height: oh, width: ow, training: training, into: dst, random: &random)
    }

    /// The steps after resizing, on [C, Ho, Wo]: the random flip, the pad-and-crop shift, normalization.
    private func finish(_ resized: UnsafePointer<Float>, channels: Int, height oh: Int, width ow: Int, training: Bool,
                        into dst: UnsafeMutablePointer<Float>, random: inout RandomSource) {
        let flip = training && horizontalFlip && random.uniform() < 0.5
        let pad = training ? padCrop : 0
        let (dy, dx) = pad > 0 ? (Int(random.next() % UInt64(2 * pad + 1)) - pad, Int(random.next() % UInt64(2 * pad + 1)) - pad) : (0, 0)
        for c in 0..<channels {
            let m = c < mean.count ? mean[c] : (mean.count == 1 ? mean[0] : 0)
            let s = c < std.count ? std[c] : (std.count == 1 ? std[0] : 1)
            let plane = c * oh * ow
            for y in 0..<oh {
                let ty = y + dy
                let out = dst + plane + y * ow
                guard ty >= 0, ty < oh else {
                    for x in 0..<ow { out[x] = (0 - m) / s }
                    continue
                }
                let row = resized + plane + ty * ow
                if !flip, dx == 0 {
                    for x in 0..<ow { out[x] = (row[x] - m) / s }
                    continue
                }
                for x in 0..<ow {
                    let tx = (flip ? ow - 1 - x : x) + dx
                    let v: Float = tx >= 0 && tx < ow ? row[tx] : 0
                    out[x] = (v - m) / s
                }
            }
        }
    }
}

/// Anything a batch loader can draw samples from: in-memory sets and JPEG folders.
public protocol SampleSource: Sendable {
    var count: Int { get }
    var classNames: [String] { get }
    var labels: [Int] { get }
    /// [C, H, W] of a sample before the transform (nil when samples differ in size).
    var nativeShape: [Int]? { get }
    var channels: Int { get }
    /// Writes sample `index`, transformed, into `dst` ([C, outH, outW]).
    func write(_ index: Int, transform: Transform, training: Bool, into dst: UnsafeMutablePointer<Float>,
               random: inout RandomSource) throws
    /// The samples at `indices`, in that order.
    func subset(_ indices: [Int]) -> any SampleSource
}

extension SampleSource {
    public var classes: Int { classNames.count }

    /// A deterministic split: a seeded permutation, the last `fraction` of it held out.
    public func split(holdOut fraction: Double, seed: UInt64) -> (train: any SampleSource, validation: any SampleSource) {
        var random = RandomSource.stream(seed: seed, 0x5B117)
        var order = Array(0..<count)
        order.shuffle(using: &random)
        let held = Int((Double(count) * fraction).rounded())
        return (subset(Array(order[held...]).sorted()), subset(Array(order[..<held]).sorted()))
    }
}

extension ImageSet: SampleSource {
    public var nativeShape: [Int]? { [channels, height, width] }

    public func write(_ index: Int, transform: Transform, training: Bool, into dst: UnsafeMutablePointer<Float>,
                      random: inout RandomSource) throws {
        pixels.withUnsafeBufferPointer { p in
            guard let start = p.baseAddress else { return }  // (a data set of at least one image)
            transform.apply(start + index * sampleSize, channels: channels, height: height, width: width,
                            training: training, into: dst, random: &random)
        }
    }

    public func subset(_ indices: [Int]) -> any SampleSource { subsetSet(indices) }
}

/// Assembles batches on a background thread, one batch ahead of the consumer: shuffled per epoch
/// with a seeded permutation, transformed (in parallel across the batch), written into reused
/// buffers.
///
/// Unchecked Sendable: every stored property is a constant; `source` is read concurrently,
/// which every `SampleSource` allows (the JPEG decoders are per thread).
public final class BatchLoader: @unchecked Sendable {
    public let source: any SampleSource
    public let batchSize: Int
    public let transform: Transform
    public let training: Bool
    public let shuffle: Bool
    public let dropLast: Bool
    public let seed: UInt64
    public let parallel: Parallelism
    public let outputShape: [Int]

    public init(source: any SampleSource, batchSize: Int, transform: Transform, training: Bool, shuffle: Bool, dropLast: Bool,
                seed: UInt64, parallel: Parallelism) {
        self.source = source; self.batchSize = batchSize; self.transform = transform; self.training = training
        self.shuffle = shuffle; self.dropLast = dropLast; self.seed = seed; self.parallel = parallel
        let native = source.nativeShape ?? [source.channels, 1, 1]
        let (h, w) = transform.outputSize(native[1], native[2])
        outputShape = [source.channels, h, w]
    }

    /// Batches per epoch.
    public var batchCount: Int { dropLast ? source.count / batchSize : (source.count + batchSize - 1) / batchSize }

    func order(epoch: Int) -> [Int] {
        var order = Array(0..<source.count)
        if shuffle {
            var random = RandomSource.stream(seed: seed, 0x0DE5, UInt64(epoch))
            order.shuffle(using: &random)
        }
        return order
    }

    /// A batch being filled. Unchecked: it is handed over, not shared; the loader thread fills it
    /// while the consumer works on the other slot, and the consumer reads it only after
    /// `DispatchGroup.wait()` (which orders the writes before the reads).
    final class Slot: @unchecked Sendable {
        let buffer: Tensor
        var labels: [Int] = []
        var error: Error?
        init(_ shape: [Int]) { buffer = Tensor(shape: shape) }
    }

    func fill(_ slot: Slot, indices: ArraySlice<Int>, epoch: Int, batch: Int) {
        let out = outputShape.reduce(1, *)
        slot.buffer.reshape([indices.count] + outputShape)
        slot.labels = indices.map { source.labels[$0] }
        let items = Array(indices)
        let errors = ErrorBox()
        slot.buffer.withUnsafeMutableBufferPointer { dst in
            guard let start = dst.baseAddress else { return }
            let shared = SharedPointer(start)  // sample j writes its own part
            parallel.forEach(items.count) { j in
                let base = shared.base
                var random = RandomSource.stream(seed: seed, 0xA06, UInt64(epoch), UInt64(batch), UInt64(j))
                do {
                    try source.write(items[j], transform: transform, training: training, into: base + j * out, random: &random)
                } catch {
                    errors.set(error)
                }
            }
        }
        slot.error = errors.error
    }

    /// Calls `body(batchIndex, input [B, C, H, W], labels)` for every batch of `epoch`; the next
    /// batch is prepared while `body` runs. `body` returns false to stop early. A sample that
    /// cannot be read stops the epoch with its error.
    public func forEachBatch(epoch: Int, _ body: (Int, Tensor, [Int]) -> Bool) throws {
        let order = self.order(epoch: epoch)
        let count = batchCount, size = batchSize
        guard count > 0 else { return }
        let slots = [Slot([batchSize] + outputShape), Slot([batchSize] + outputShape)]
        let range: @Sendable (Int) -> ArraySlice<Int> = { b in order[(b * size)..<min(order.count, (b + 1) * size)] }
        fill(slots[0], indices: range(0), epoch: epoch, batch: 0)
        for b in 0..<count {
            let current = slots[b % 2], next = slots[1 - b % 2]
            if let error = current.error { throw error }
            guard b + 1 < count else {
                _ = body(b, current.buffer, current.labels)
                return
            }
            let group = DispatchGroup()
            group.enter()
            LoaderQueue.shared.async {
                self.fill(next, indices: range(b + 1), epoch: epoch, batch: b + 1)
                group.leave()
            }
            let keepGoing = body(b, current.buffer, current.labels)
            group.wait()
            if !keepGoing { return }
        }
    }
}

/// The first error any thread of a parallel loop met.
final class ErrorBox: Sendable {
    private let first = Mutex<Error?>(nil)
    var error: Error? { first.withLock { $0 } }
    func set(_ e: Error) { first.withLock { if $0 == nil { $0 = e } } }
}

enum LoaderQueue {
    static let shared = DispatchQueue(label: "archlab.loader", qos: .userInitiated)
}
