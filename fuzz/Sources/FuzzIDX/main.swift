import Foundation
import ArchData
import FuzzSupport

/// IDX image and label files (Fashion-MNIST's format, gzipped or not): the first byte picks which
/// of the pair the input replaces; the other is a small valid file.
exit(runFuzzer { input, size in
    guard let data = input else { return 0 }
    guard size > 0 else { return 0 }
    let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2] + [UInt8](repeating: 7, count: 8)
    let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 2, 1, 0]
    let gz = data[0] & 2 != 0 ? ".gz" : ""
    let fuzzed = Scratch.file("fuzzed" + gz, data + 1, size - 1)
    let valid = images.withUnsafeBufferPointer { Scratch.file("images", $0.baseAddress!, $0.count) }
    let validLabels = labels.withUnsafeBufferPointer { Scratch.file("labels", $0.baseAddress!, $0.count) }
    if data[0] & 1 == 0 {
        _ = try? IDX.read(images: fuzzed, labels: validLabels, classNames: (0..<10).map(String.init))
    } else {
        _ = try? IDX.read(images: valid, labels: fuzzed, classNames: (0..<10).map(String.init))
    }
    return 0
})
