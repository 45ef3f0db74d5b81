import Foundation
import ArchTensor
import FuzzSupport

/// safetensors files: header length, JSON header, dtypes, shapes, offsets.
exit(runFuzzer { input, size in
    guard let data = input else { return 0 }
    let path = Scratch.file("weights.safetensors", data, size)
    _ = try? Safetensors.read(path)
    return 0
})
