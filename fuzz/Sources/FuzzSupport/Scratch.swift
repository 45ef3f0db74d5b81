import CFuzzDriver
import Foundation

/// The fuzz input as a file (ArchLab's readers take paths, as the CLI does), rewritten for every
/// run in a per-process file under /dev/shm (memory, not disk).
public enum Scratch {
    public static let directory: String = {
        let dir = (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()) + "/archlab-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Writes the bytes to `directory/name` and returns the path.
    public static func file(_ name: String, _ data: UnsafePointer<UInt8>, _ size: Int) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
        return path
    }
}

/// Hands control to libFuzzer with the process's arguments; returns its exit status.
/// (SwiftPM links an executable's own main, so the fuzzer's driver is called from it.)
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32 {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    return withUnsafeMutablePointer(to: &argv) { argvPointer in
        LLVMFuzzerRunDriver(&argc, argvPointer, callback)
    }
}
