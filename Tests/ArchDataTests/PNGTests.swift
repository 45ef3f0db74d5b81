import ArchData
import ArchTestSupport
import Foundation
import Testing

/// PNG through libpng: a lossless round trip, and a truncated or forged file is an error naming it.
@Suite struct PNGTests {
    static let image: RGBImage = {
        var pixels = [UInt8](repeating: 0, count: 7 * 5 * 3)
        for i in pixels.indices { pixels[i] = UInt8((i * 37) % 256) }
        return RGBImage(width: 7, height: 5, pixels: pixels)
    }()

    @Test func roundTripIsLossless() throws {
        let data = try PNGCodec.encode(Self.image)
        #expect(PNGCodec.isPNG(data))
        let back = try PNGCodec.decode(data, name: "x.png")
        #expect(back.width == 7 && back.height == 5 && back.pixels == Self.image.pixels)
        let path = temporaryDirectory() + "/x.png"
        try data.write(to: URL(fileURLWithPath: path))
        #expect(try ImageDecoder.decode(file: path).pixels == Self.image.pixels, "the decoder picks PNG by its signature")
    }

    @Test func badFilesAreErrorsNamingTheFile() throws {
        let data = try PNGCodec.encode(Self.image)
        for (name, bytes) in [("cut.png", data.prefix(40)), ("forged.png", Data(PNGCodec.isPNG(data) ? Array(data.prefix(8)) + [1, 2, 3] : []))] {
            #expect {
                _ = try PNGCodec.decode(Data(bytes), name: name)
            } throws: { error in
                (error as? DataError)?.description.hasPrefix(name + ":") == true
            }
        }
    }
}
