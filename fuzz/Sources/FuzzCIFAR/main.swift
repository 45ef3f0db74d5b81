import Foundation
import ArchData
import FuzzSupport

/// CIFAR-10 binary batches.
exit(runFuzzer { input, size in
    guard let data = input else { return 0 }
    let path = Scratch.file("data_batch_1.bin", data, size)
    _ = try? CIFAR10.read(files: [path])
    return 0
})
