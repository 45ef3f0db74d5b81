// swift-tools-version: 6.0
// libFuzzer targets for ArchLab's parsers of untrusted input (issue 7). Build and run with
// `make fuzz` (fuzz/run.sh): every module, ArchLab's and Yams', is compiled with
// -sanitize=fuzzer,address, so coverage guides the fuzzer and memory errors stop it.
import PackageDescription

let fuzzers = ["FuzzSpec", "FuzzIDX", "FuzzCIFAR", "FuzzSafetensors", "FuzzNumPy", "FuzzJPEG"]

let package = Package(
    name: "ArchLabFuzz",
    dependencies: [.package(name: "ArchLab", path: "..")],
    targets: [
        .target(name: "CFuzzDriver", path: "Sources/CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Sources/FuzzSupport"),
    ] + fuzzers.map { name in
        .executableTarget(name: name, dependencies: [
            "FuzzSupport",
            .product(name: "ArchSpec", package: "ArchLab"), .product(name: "ArchGraph", package: "ArchLab"),
            .product(name: "ArchTensor", package: "ArchLab"), .product(name: "ArchData", package: "ArchLab"),
        ], path: "Sources/\(name)")
    },
    swiftLanguageModes: [.v5]
)
