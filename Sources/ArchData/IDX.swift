/// The IDX format of MNIST and Fashion-MNIST (optionally gzipped): magic `0x00 0x00 type dims`,
/// big-endian u32 dimensions, then the data. Magic, dimensions and size are validated before any
/// allocation of the data.
public enum IDX {
    static let maxBytes = 1 << 30

    /// Reads an images file (type u8, 3 dims) and a labels file (type u8, 1 dim).
    public static func read(images: String, labels: String, classNames: [String]) throws -> ImageSet {
        let imageBytes = try FileBytes.read(images, limit: maxBytes)
        let (imageDims, imageStart) = try header(imageBytes, path: images, expectedDims: 3)
        let labelBytes = try FileBytes.read(labels, limit: maxBytes)
        let (labelDims, labelStart) = try header(labelBytes, path: labels, expectedDims: 1)
        let (n, h, w) = (imageDims[0], imageDims[1], imageDims[2])
        guard labelDims[0] == n else { throw DataError(labels, "\(labelDims[0]) labels for \(n) images in \(images)") }
        let labelValues = labelBytes[labelStart...].map(Int.init)
        if let bad = labelValues.first(where: { $0 >= classNames.count }) {
            throw DataError(labels, "label \(bad) is outside 0..<\(classNames.count)")
        }
        let pixels = Self.unitFloats(imageBytes, from: imageStart)
        return ImageSet(channels: 1, height: h, width: w, pixels: pixels, labels: labelValues, classNames: classNames)
    }

    /// `bytes[start...]` as floats in [0, 1] (x / 255 as `Float(x) * (1 / 255)`), in a loop the compiler vectorizes.
    static func unitFloats(_ bytes: [UInt8], from start: Int) -> [Float] {
        let count = bytes.count - start
        let scale: Float = 1 / 255
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let d = out.baseAddress else { return }
                let from = s + start
                for i in 0..<count { d[i] = Float(from[i]) * scale }
            }
            initialized = count
        }
    }

    static func header(_ bytes: [UInt8], path: String, expectedDims: Int) throws -> ([Int], Int) {
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else { throw DataError(path, "not an IDX file (bad magic number)") }
        guard bytes[2] == 0x08 else { throw DataError(path, "IDX data type 0x\(String(bytes[2], radix: 16)) is not unsigned bytes (0x08)") }
        guard Int(bytes[3]) == expectedDims else { throw DataError(path, "expected \(expectedDims) dimensions, found \(bytes[3])") }
        let start = 4 + 4 * expectedDims
        guard bytes.count >= start else { throw DataError(path, "header is truncated") }
        var dims: [Int] = []
        for d in 0..<expectedDims {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        var total = 1
        for d in dims {
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, d > 0 || expectedDims == 1 else { throw DataError(path, "dimensions \(dims) overflow") }
            total = p
        }
        guard bytes.count - start == total else {
            throw DataError(path, "dimensions \(dims.map(String.init).joined(separator: "x")) need \(total) bytes of data, the file has \(bytes.count - start)")
        }
        return (dims, start)
    }
}

/// CIFAR-10's binary format: records of 1 label byte and 3x32x32 pixel bytes, in
/// `data_batch_1.bin` ... `data_batch_5.bin` and `test_batch.bin`.
public enum CIFAR10 {
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    static let record = 1 + 3 * 32 * 32

    public static func read(files: [String]) throws -> ImageSet {
        var pixels: [Float] = [], labels: [Int] = []
        for path in files {
            let bytes = try FileBytes.read(path, limit: 1 << 30)
            guard !bytes.isEmpty, bytes.count % record == 0 else {
                throw DataError(path, "size \(bytes.count) is not a multiple of the \(record)-byte CIFAR-10 record")
            }
            for r in 0..<(bytes.count / record) {
                let label = Int(bytes[r * record])
                guard label < 10 else { throw DataError(path, "record \(r): label \(label) is outside 0..<10") }
                labels.append(label)
                pixels += bytes[(r * record + 1)..<((r + 1) * record)].map { Float($0) / 255 }
            }
        }
        return ImageSet(channels: 3, height: 32, width: 32, pixels: pixels, labels: labels, classNames: classNames)
    }
}
