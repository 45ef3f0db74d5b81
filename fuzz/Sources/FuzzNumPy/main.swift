import Foundation
import ArchTensor
import FuzzSupport

/// .npy arrays: magic, version, header dictionary, shape, data size.
exit(runFuzzer { input, size in
    guard let data = input else { return 0 }
    let path = Scratch.file("array.npy", data, size)
    _ = try? NumPy.read(path)
    return 0
})
