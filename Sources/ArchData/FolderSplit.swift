import ArchTensor
import Foundation

/// Splits `SRC/<class>/*.jpg` into `ROOT/train/<class>/` and `ROOT/val/<class>/` like the course's
/// split script (a seeded random `val` fraction of each class, rounded down), hard-linking files
/// (copying across file systems). Files already in place are left alone, so a rerun copies nothing.
public enum FolderSplit {
    public struct Summary: Sendable, Equatable {
        public var classes = 0, train = 0, validation = 0, written = 0, unchanged = 0
        public init(classes: Int = 0, train: Int = 0, validation: Int = 0, written: Int = 0, unchanged: Int = 0) {
            self.classes = classes; self.train = train; self.validation = validation; self.written = written; self.unchanged = unchanged
        }
    }

    public static func split(source: String, out: String, validation fraction: Double, seed: UInt64) throws -> Summary {
        guard fraction >= 0, fraction < 1 else { throw DataError(source, "--val must be in [0, 1), found \(fraction)") }
        let folder = try ImageFolder(root: source)
        let fm = FileManager.default
        var summary = Summary(classes: folder.classNames.count)
        for (label, name) in folder.classNames.enumerated() {
            let files = zip(folder.files, folder.labels).filter { $0.1 == label }.map(\.0)
            var random = RandomSource.stream(seed: seed, UInt64(label))
            var order = files
            order.shuffle(using: &random)
            let held = Set(order.prefix(Int(Double(files.count) * fraction)))
            for file in files {
                let part = held.contains(file) ? "val" : "train"
                let dir = "\(out)/\(part)/\(name)"
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let target = dir + "/" + (file as NSString).lastPathComponent
                let other = "\(out)/\(part == "val" ? "train" : "val")/\(name)/" + (file as NSString).lastPathComponent
                if fm.fileExists(atPath: other) { try fm.removeItem(atPath: other) }
                if part == "val" { summary.validation += 1 } else { summary.train += 1 }
                if let a = try? fm.attributesOfItem(atPath: target), let b = try? fm.attributesOfItem(atPath: file),
                   (a[.size] as? Int) == (b[.size] as? Int) {
                    summary.unchanged += 1
                    continue
                }
                try? fm.removeItem(atPath: target)
                if link(file, target) != 0 { try fm.copyItem(atPath: file, toPath: target) }
                summary.written += 1
            }
        }
        return summary
    }
}
