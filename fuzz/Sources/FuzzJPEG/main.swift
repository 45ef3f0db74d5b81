import ArchData
import Foundation
import FuzzSupport

let codec = JPEGCodec()

/// The TurboJPEG wrapper: header checks and size limits before the pixel buffer, then decoding.
exit(runFuzzer { input, size in
    guard let data = input else { return 0 }
    _ = try? codec.decode(Data(bytes: data, count: size), name: "fuzz.jpg")
    return 0
})
