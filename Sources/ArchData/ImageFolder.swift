import ArchJSON
import ArchTensor
import Foundation
import Synchronization

/// JPEG and PNG images in ImageFolder layout, `DIR/<class>/*.jpg`, decoded (libjpeg-turbo, libpng) when a
/// batch is assembled. Classes are the sorted folder names (the course's class_indices.json).
public struct ImageFolder: SampleSource {
    public var root: String
    public var classNames: [String]
    public var files: [String]
    public var labels: [Int]
    public var channels: Int { 3 }
    public var nativeShape: [Int]? { nil }
    public var count: Int { files.count }

    static let extensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif", "png"]

    /// Lists `root`; `classNames` fixes the class order (for the val folder, the train folder's).
    public init(root: String, classNames: [String]? = nil) throws {
        self.root = root
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(root, "no such directory (expected ROOT/train/<class>/*.jpg and ROOT/val/<class>/*.jpg)")
        }
        let found = try fm.contentsOfDirectory(atPath: root).filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: root + "/" + name, isDirectory: &d) && d.boolValue
        }.sorted()
        guard !found.isEmpty else { throw DataError(root, "no class folders") }
        let classes = classNames ?? found
        if let unknown = found.first(where: { !classes.contains($0) }) {
            throw DataError(root + "/" + unknown, "class folder not in the training set's classes (\(classes.joined(separator: ", ")))")
        }
        self.classNames = classes
        var files: [String] = [], labels: [Int] = []
        for (name, label) in found.compactMap({ name in classes.firstIndex(of: name).map { (name, $0) } }) {  // (every one: checked above)
            let dir = root + "/" + name
            for file in try fm.contentsOfDirectory(atPath: dir).sorted() where Self.extensions.contains((file as NSString).pathExtension.lowercased()) {
                files.append(dir + "/" + file)
                labels.append(label)
            }
        }
        guard !files.isEmpty else { throw DataError(root, "no .jpg images in the class folders") }
        self.files = files
        self.labels = labels
    }

    /// One image, for prediction.
    public init(single path: String) {
        self.init(root: "", classNames: ["?"], files: [path], labels: [0])
    }

    init(root: String, classNames: [String], files: [String], labels: [Int]) {
        self.root = root; self.classNames = classNames; self.files = files; self.labels = labels
    }

    public func subset(_ indices: [Int]) -> any SampleSource {
        ImageFolder(root: root, classNames: classNames, files: indices.map { files[$0] }, labels: indices.map { labels[$0] })
    }

    /// Decodes every image once (in parallel) to find unreadable ones before training: throws
    /// for the first bad file, or with `skip` drops them and returns the errors.
    public func checked(skip: Bool, parallel: Parallelism) throws -> (ImageFolder, [DataError]) {
        let problems = ProblemList()
        parallel.forEach(parallel.threads) { worker in
            var i = worker
            while i < files.count {
                do { _ = try ImageDecoder.decode(file: files[i]) } catch let e as DataError { problems.set(i, e) } catch {}
                i += parallel.threads
            }
        }
        let bad = problems.errors
        if !bad.isEmpty, !skip { throw bad[0].1 }
        let keep = (0..<files.count).filter { i in !bad.contains { $0.0 == i } }
        return (ImageFolder(root: root, classNames: classNames, files: keep.map { files[$0] }, labels: keep.map { labels[$0] }), bad.map(\.1))
    }

    public func write(_ index: Int, transform: Transform, training: Bool, into dst: UnsafeMutablePointer<Float>,
                      random: inout RandomSource) throws {
        let image = try ImageDecoder.decode(file: files[index])
        let b = transform.box(height: image.height, width: image.width, training: training, random: &random)
        image.pixels.withUnsafeBufferPointer {
            guard let start = $0.baseAddress else { return }  // (an image has pixels)
            transform.apply(rgb: start, rowBytes: 3 * image.width, originX: 0, originY: 0, height: image.height, width: image.width,
                            box: b, training: training, into: dst, random: &random)
        }
    }

    /// `{"0": "daisy", "1": "dandelion", ...}`, as the course's class_indices.json.
    public static func classIndicesJSON(_ classNames: [String]) -> String {
        JSONValue.object(classNames.enumerated().map { (String($0.offset), .string($0.element)) }).text(.pretty(indent: 4)) + "\n"
    }
}

/// The unreadable images the loader's threads found, by index.
final class ProblemList: Sendable {
    private let items = Mutex<[(Int, DataError)]>([])
    func set(_ i: Int, _ e: DataError) { items.withLock { $0.append((i, e)) } }
    var errors: [(Int, DataError)] { items.withLock { $0.sorted { $0.0 < $1.0 } } }
}

extension JPEGCodec {
    /// One decoder per thread (TurboJPEG handles are not shared between threads).
    static var perThread: JPEGCodec {
        let key = "archlab.jpeg"
        if let codec = Thread.current.threadDictionary[key] as? JPEGCodec { return codec }
        let codec = JPEGCodec()
        Thread.current.threadDictionary[key] = codec
        return codec
    }
}
