import Foundation

/// The kernels are compiled for AVX2 + FMA (see Package.swift); on an older x86-64 CPU they would
/// die on an illegal instruction. This check runs first, in code compiled for any x86-64.
enum CPUCheck {
    static func exitUnlessKernelsCanRun() {
        #if ARCHLAB_KERNELS_NEED_AVX2
        guard let handle = FileHandle(forReadingAtPath: "/proc/cpuinfo"),
              let data = try? handle.readToEnd(), let text = String(data: data, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }))
        let missing = ["avx2", "fma"].filter { !flags.contains(Substring($0)) }
        guard !missing.isEmpty else { return }
        FileHandle.standardError.write(Data("""
            error: this build of archlab needs a CPU with AVX2 and FMA (x86-64-v3); this one lacks \(missing.joined(separator: ", ")).
            Rebuild for any x86-64 with: ARCHLAB_PORTABLE=1 swift build -c release

            """.utf8))
        exit(1)
        #endif
    }
}
