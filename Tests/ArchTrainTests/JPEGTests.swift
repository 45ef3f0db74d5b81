import ArchData
import ArchGraph
import ArchTensor
import ArchTrain
import ArchTestSupport
import Foundation
import Testing

/// JPEG folders: decoding limits, bad files, the folder data set, splitting, training and transfer.
@Suite(.serialized) struct JPEGTests {
    static func gradient(_ w: Int, _ h: Int) -> RGBImage {
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w { let o = (y * w + x) * 3; p[o] = UInt8(x * 255 / w); p[o + 1] = UInt8(y * 255 / h); p[o + 2] = 128 } }
        return RGBImage(width: w, height: h, pixels: p)
    }

    @Test func encodeDecodeRoundTrip() throws {
        let codec = JPEGCodec()
        let data = try codec.encode(Self.gradient(64, 48), quality: 95)
        let image = try codec.decode(data, name: "g.jpg")
        #expect(image.width == 64 && image.height == 48)
        let original = Self.gradient(64, 48).pixels
        let worst = zip(image.pixels, original).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst < 16)
    }

    /// A folder with the four kinds of bad file of issue 4 next to good ones.
    static func badFolder() throws -> (root: String, bad: [String: String]) {
        let root = temporaryDirectory()
        try SyntheticImages.write(root: root + "/train", perClass: 4, width: 40, height: 30, seed: 1)
        try SyntheticImages.write(root: root + "/val", perClass: 2, width: 40, height: 30, seed: 2)
        let good = try Data(contentsOf: URL(fileURLWithPath: root + "/train/circles/circles_0.jpg"))
        let dir = root + "/train/circles/"
        try Data().write(to: URL(fileURLWithPath: dir + "empty.jpg"))
        try Data("this is not a JPEG".utf8).write(to: URL(fileURLWithPath: dir + "text.jpg"))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: dir + "truncated.jpg"))
        var huge = [UInt8](good)
        if let sof = (0..<(huge.count - 9)).first(where: { huge[$0] == 0xFF && huge[$0 + 1] == 0xC0 }) {
            huge[sof + 5] = 0xEA; huge[sof + 6] = 0x60; huge[sof + 7] = 0xEA; huge[sof + 8] = 0x60  // 60000 x 60000
        }
        try Data(huge).write(to: URL(fileURLWithPath: dir + "huge.jpg"))
        return (root, [
            dir + "empty.jpg": "empty file (0 bytes), not a JPEG image",
            dir + "text.jpg": "not a JPEG image (no JPEG start marker)",
            dir + "huge.jpg": "declared size 60000x60000 exceeds the limit of 50000000 pixels",
        ])
    }

    @Test func badFilesAreNamedAndNeverCrash() throws {
        let (root, expected) = try Self.badFolder()
        let codec = JPEGCodec()
        for (path, message) in expected {
            #expect(throws: DataError(path, message)) { try codec.decode(file: path) }
        }
        let truncated = root + "/train/circles/truncated.jpg"
        do {
            _ = try codec.decode(file: truncated)
            Issue.record("a truncated JPEG must not decode")
        } catch let error as DataError {
            #expect(error.path == truncated)
            #expect(error.message.hasPrefix("corrupt or truncated JPEG data: "))
        }
        // the whole folder: the first bad file stops, or all are skipped and counted
        let folder = try ImageFolder(root: root + "/train")
        #expect(throws: DataError.self) { try folder.checked(skip: false, parallel: Parallelism(threads: 2)) }
        let (clean, skipped) = try folder.checked(skip: true, parallel: Parallelism(threads: 2))
        #expect(skipped.count == 4)
        #expect(clean.count == folder.count - 4)
    }

    @Test func classIndicesAreTheSortedFolderNames() throws {
        let root = temporaryDirectory()
        try SyntheticImages.write(root: root, perClass: 1, width: 16, height: 16, seed: 3)
        let folder = try ImageFolder(root: root)
        #expect(folder.classNames == ["circles", "dots", "rings", "squares", "stripes"])
        #expect(ImageFolder.classIndicesJSON(folder.classNames)
                == "{\n    \"0\": \"circles\",\n    \"1\": \"dots\",\n    \"2\": \"rings\",\n    \"3\": \"squares\",\n    \"4\": \"stripes\"\n}\n")
    }

    @Test func randomResizedCropAndCenterCropBoxes() {
        var t = Transform(size: (224, 224))
        t.randomResizedCrop = true
        var random = RandomSource(seed: 5)
        for _ in 0..<200 {
            let b = t.box(height: 375, width: 500, training: true, random: &random)
            #expect(b.x >= 0 && b.y >= 0 && b.x + b.w <= 500 && b.y + b.h <= 375)
            #expect(b.w * b.h >= 0.08 * 500 * 375 * 0.99)
        }
        var e = Transform(size: (224, 224))
        e.resizeShorter = 256
        let c = e.box(height: 375, width: 500, training: false, random: &random)
        // shorter side 375 -> 256: the 224 crop is 224 * 375/256 = 328.1 source pixels, centered
        #expect(abs(c.w - 328.125) < 1e-9 && abs(c.x - (500 - 328.125) / 2) < 1e-9)
    }

    @Test func splitIsSeededAndRerunsCopyNothing() throws {
        let src = temporaryDirectory(), out = temporaryDirectory()
        try SyntheticImages.write(root: src, perClass: 10, width: 16, height: 16, seed: 4)
        let first = try FolderSplit.split(source: src, out: out, validation: 0.2, seed: 7)
        #expect(first == FolderSplit.Summary(classes: 5, train: 40, validation: 10, written: 50, unchanged: 0))
        let again = try FolderSplit.split(source: src, out: out, validation: 0.2, seed: 7)
        #expect(again.written == 0 && again.unchanged == 50)
        #expect(try ImageFolder(root: out + "/val").count == 10)
    }

    @Test func trainsOnAFolderSkippingBadImagesAndTransfers() throws {
        let (root, _) = try Self.badFolder()
        var c = TrainingConfig(architecture: architecturePath("lenet"))
        c.data = "folder:\(root)"
        c.resize = 32
        c.randomResizedCrop = true
        c.horizontalFlip = true
        c.epochs = 1
        c.batchSize = 4
        c.threads = 1
        c.validationFraction = 0
        c.skipBadImages = true
        let build = { (input: [Int]) in try ArchTrainTests.build(architecturePath("lenet"), set: ["num_classes=5"], input: input) }
        let out = temporaryDirectory()
        let trainer = try Trainer(config: c, build: build)
        let metrics = try trainer.run(outputDirectory: out, observer: nil)
        #expect(metrics.skippedImages.count == 4)
        #expect(json(out + "/metrics.json")["skipped_images"] as? [String] != nil)
        #expect(FileManager.default.fileExists(atPath: out + "/class_indices.json"))
        // transfer: weights of a 10-class LeNet, fine-tuned on the 5 classes with all but the new head frozen
        let pretrained = Model(network: try ArchTrainTests.build(architecturePath("lenet"), set: ["num_classes=10"], input: [3, 32, 32]))
        try pretrained.initialize(seed: 9)
        try pretrained.save(safetensors: out + "/pretrained.safetensors")
        var t = c
        t.initFrom = out + "/pretrained.safetensors"
        t.freezeLoaded = true
        let transfer = try Trainer(config: t, build: build)
        #expect(transfer.transfer?.shapeMismatches.map(\.name).sorted() == ["fc3.bias", "fc3.weight"])
        #expect(transfer.frozen.contains("conv1.weight") && !transfer.frozen.contains("fc3.weight"))
        let headBefore = transfer.model.store["fc3.weight"]!.values
        let run = temporaryDirectory()
        let m = try transfer.run(outputDirectory: run, observer: nil)
        #expect(m.trainableParams == 84 * 5 + 5)
        let after = try Safetensors.read(run + "/last.safetensors").tensors
        #expect(after["conv1.weight"]!.values == pretrained.store["conv1.weight"]!.values)
        #expect(after["fc3.weight"]!.values != headBefore)
    }
}
