// swift-tools-version: 6.0
// ArchLab: CNN architecture experiments driven by declarative YAML.
import PackageDescription
import Foundation

/// The kernels' SIMD8 loops compile to AVX2 (x86-64-v3: Haswell, 2013, and later; every AMD Zen)
/// instead of baseline SSE2, which halves the width of every vector operation. `archlab` checks
/// the CPU at start. `ARCHLAB_PORTABLE=1 swift build` builds for any x86-64.
let kernelsNeedAVX2: Bool = {
    #if arch(x86_64)
    return ProcessInfo.processInfo.environment["ARCHLAB_PORTABLE"] == nil
    #else
    return false
    #endif
}()
let kernelSettings: [SwiftSetting] = kernelsNeedAVX2 ? [.unsafeFlags(["-target-cpu", "haswell"])] : []
/// Tells the CLI to check the CPU before it calls into the kernels.
let cliSettings: [SwiftSetting] = kernelsNeedAVX2 ? [.define("ARCHLAB_KERNELS_NEED_AVX2")] : []

let package = Package(
    name: "ArchLab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "archlab", targets: ["archlab"]),
        .library(name: "ArchSpec", targets: ["ArchSpec"]),
        .library(name: "ArchGraph", targets: ["ArchGraph"]),
        .library(name: "ArchTensor", targets: ["ArchTensor"]),
        .library(name: "ArchData", targets: ["ArchData"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // JSON string quoting, shared by the spec and the kernels' file formats; no dependencies.
        .target(name: "ArchJSON"),
        // Crash-safe file writes (temporary file, fsync, rename), shared by tensor files, runs and sweeps; no dependencies.
        .target(name: "ArchFiles"),
        // OpenBLAS's CBLAS (Debian: libopenblas-dev); only ArchTensor imports it.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // Tensors and kernels: forward and backward of every op, each beside a naive reference.
        // oneDNN (Debian: libdnnl-dev), the JIT convolution kernels; only ArchTensor imports it.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .target(name: "ArchTensor", dependencies: ["ArchJSON", "ArchFiles", "CBLAS", "CDNNL"], swiftSettings: kernelSettings),
        // zlib (Debian: zlib1g-dev), for gzipped IDX files; only ArchData imports it.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // libjpeg-turbo's TurboJPEG (Debian: libturbojpeg0-dev); only ArchData imports it.
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        // libpng's simplified API (Debian: libpng-dev); only ArchData imports it.
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        // Data sets, JPEG/PNG folders, transforms and the prefetching batch loader.
        .target(name: "ArchData", dependencies: ["ArchJSON", "ArchTensor", "CZlib", "CTurboJPEG", "CPNG"]),
        // The protocol-buffer wire format, written by hand for TensorBoard events and ONNX models; no dependencies.
        .target(name: "ArchProtobuf"),
        // TensorBoard event files (TFRecord framing around Event protocol buffers).
        .target(name: "ArchTensorBoard", dependencies: ["ArchProtobuf"]),
        // Optimizers, schedules, the training loop, metrics, checkpoints and TensorBoard logging.
        .target(name: "ArchTrain", dependencies: ["ArchJSON", "ArchFiles", "ArchGraph", "ArchData", "ArchTensor", "ArchSpec", "ArchTensorBoard"]),
        // SQLite (Debian: libsqlite3-dev); only ArchSweep imports it.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // Experiment files, trial expansion, the SQLite journal, the runner and generated reports.
        .target(name: "ArchSweep", dependencies: ["ArchJSON", "ArchFiles", "ArchData", "ArchTrain", "ArchGraph", "ArchSpec", "ArchTensor", "CSQLite"]),
        // YAML -> located document: parameters, templates, extends, --set, expressions. No tensors.
        .target(name: "ArchSpec", dependencies: ["ArchJSON", .product(name: "Yams", package: "Yams")]),
        // Op registry, builder, shape inference, parameter and MAC counts, summaries.
        .target(name: "ArchGraph", dependencies: ["ArchJSON", "ArchSpec", "ArchTensor"]),
        // ONNX model files from the op-by-op inference graphs of ArchGraph.
        .target(name: "ArchONNX", dependencies: ["ArchGraph", "ArchProtobuf"]),
        // The command-line tool: argument parsing and calls into the modules above.
        .executableTarget(name: "archlab", dependencies: [
            "ArchJSON", "ArchFiles", "ArchSpec", "ArchGraph", "ArchTensor", "ArchData", "ArchTrain", "ArchSweep", "ArchONNX",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: cliSettings),
        // Paths every test target shares (the repository root, fixtures, directory listings).
        .target(name: "ArchTestSupport", dependencies: ["ArchTensor"], path: "Tests/TestSupport"),
        .testTarget(name: "ArchJSONTests", dependencies: ["ArchJSON"]),
        .testTarget(name: "ArchFilesTests", dependencies: ["ArchFiles"]),
        .testTarget(name: "ArchSpecTests", dependencies: ["ArchSpec", "ArchTestSupport"]),
        .testTarget(name: "ArchTensorTests", dependencies: ["ArchJSON", "ArchTensor", "ArchTestSupport"]),
        .testTarget(name: "ArchSweepTests", dependencies: ["ArchJSON", "ArchSweep", "ArchTrain", "ArchGraph", "ArchSpec", "ArchTestSupport"]),
        .testTarget(name: "ArchDataTests", dependencies: ["ArchData", "ArchTensor", "ArchTestSupport"]),
        .testTarget(name: "ArchTrainTests", dependencies: ["ArchJSON", "ArchTrain", "ArchData", "ArchGraph", "ArchTensor", "ArchSpec", "ArchTensorBoard", "ArchTestSupport"]),
        .testTarget(name: "ArchGraphTests", dependencies: ["ArchGraph", "ArchSpec", "ArchTestSupport"],
                    resources: []),
        .testTarget(name: "CLITests", dependencies: ["archlab", "ArchSweep", "ArchTrain", "ArchTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
