internal import CBLAS
import Foundation

extension BLAS {
    /// The kernel family OpenBLAS chose for this CPU at load time (for example "Haswell", "SkylakeX").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The OpenBLAS core type to ask for instead of the detected one, or nil to keep it.
    ///
    /// OpenBLAS 0.3.21 (Debian 12) does not know AMD Zen 4/5 and runs its Haswell (AVX2) kernels
    /// there although the CPU has AVX-512; its SkylakeX kernels measure about twice the sgemm
    /// throughput on such a machine (`archlab sgemm`). OpenBLAS reads `OPENBLAS_CORETYPE` only
    /// when it is loaded, so the CLI sets it and re-executes itself. A user's own
    /// `OPENBLAS_CORETYPE` always wins.
    public static func preferredCoreType(environment: [String: String] = ProcessInfo.processInfo.environment,
                                         cpuinfo: String? = procFile("/proc/cpuinfo"),
                                         detected: String = coreName) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, let cpuinfo,
              let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        guard avx512, ["haswell", "zen", "sandybridge"].contains(detected.lowercased()) else { return nil }
        return "SKYLAKEX"
    }

    /// A /proc file read to its end (its size reads as 0, so whole-file readers see nothing).
    public static func procFile(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.readToEnd()).flatMap { String(data: $0, encoding: .utf8) }
    }
}
