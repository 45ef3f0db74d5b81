import ArchTensor
import Foundation

/// Where training data comes from: `fashion-mnist` (Debian's dataset-fashion-mnist),
/// `fashion-mnist:DIR` (train-images-idx3-ubyte[.gz] ...), `cifar10:DIR`, or `folder:ROOT`
/// (JPEGs in ROOT/train/<class>/ and ROOT/val/<class>/; val is the held-out test set).
public enum DataSource: Sendable, Equatable {
    case fashionMNIST(directory: String)
    case cifar10(directory: String)
    case folder(root: String)

    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"
    public static let fashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public static func parse(_ text: String) throws -> DataSource {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first {
        case "fashion-mnist": return .fashionMNIST(directory: parts.count > 1 ? parts[1] : fashionMNISTDirectory)
        case "cifar10" where parts.count > 1: return .cifar10(directory: parts[1])
        case "folder" where parts.count > 1: return .folder(root: parts[1])
        default:
            throw DataError(text, "unknown data source; expected fashion-mnist, fashion-mnist:DIR, cifar10:DIR or folder:ROOT")
        }
    }

    /// Loads (train, test); JPEG folders are listed (and every image decoded once to check it).
    public func load(skipBadImages: Bool = false, parallel: Parallelism = .serial) throws -> (train: any SampleSource, test: any SampleSource, skipped: [DataError]) {
        if case let .folder(root) = self {
            let (train, badTrain) = try ImageFolder(root: root + "/train").checked(skip: skipBadImages, parallel: parallel)
            let (test, badTest) = try ImageFolder(root: root + "/val", classNames: train.classNames).checked(skip: skipBadImages, parallel: parallel)
            return (train, test, badTrain + badTest)
        }
        let (train, test) = try loadInMemory()
        return (train, test, [])
    }

    /// The training and test sets of an in-memory data set (Fashion-MNIST, CIFAR-10).
    public func loadInMemory() throws -> (train: ImageSet, test: ImageSet) {
        switch self {
        case let .fashionMNIST(dir):
            func file(_ stem: String) -> String {
                let plain = "\(dir)/\(stem)"
                return FileManager.default.fileExists(atPath: plain) ? plain : plain + ".gz"
            }
            guard FileManager.default.fileExists(atPath: dir) else {
                throw DataError(dir, "no such directory; install Debian's dataset-fashion-mnist (scripts/setup.sh does)")
            }
            let train = try IDX.read(images: file("train-images-idx3-ubyte"), labels: file("train-labels-idx1-ubyte"), classNames: Self.fashionClasses)
            let test = try IDX.read(images: file("t10k-images-idx3-ubyte"), labels: file("t10k-labels-idx1-ubyte"), classNames: Self.fashionClasses)
            return (train, test)
        case let .cifar10(dir):
            let train = try CIFAR10.read(files: (1...5).map { "\(dir)/data_batch_\($0).bin" })
            let test = try CIFAR10.read(files: ["\(dir)/test_batch.bin"])
            return (train, test)
        case .folder:
            throw DataError("folder", "not an in-memory data set")
        }
    }
}

extension DataSource {
    /// `[C, H, W]` of the data set's images; nil for a folder, whose JPEGs may have any size (the
    /// run's `--resize` decides the network's input).
    public var nativeShape: [Int]? {
        switch self {
        case .fashionMNIST: return [1, 28, 28]
        case .cifar10: return [3, 32, 32]
        case .folder: return nil
        }
    }

    /// Channels the images give the network (JPEG folders: RGB).
    public var channels: Int { nativeShape?.first ?? 3 }

    /// Images in the whole training and test sets (Fashion-MNIST 60,000 + 10,000, CIFAR-10
    /// 50,000 + 10,000, a folder's `train/` and `val/` as listed; 0 for a folder that cannot be read).
    public func imageCounts() -> (train: Int, test: Int) {
        switch self {
        case .fashionMNIST: return (60_000, 10_000)
        case .cifar10: return (50_000, 10_000)
        case .folder(let root):
            return ((try? ImageFolder(root: root + "/train").count) ?? 0, (try? ImageFolder(root: root + "/val").count) ?? 0)
        }
    }
}
