internal import CBLAS
internal import CDNNL

/// Which libraries run this process's convolutions and matrix products, for the records a run
/// leaves (sweep report headers): timings mean little without them.
public enum ComputeLibraries {
    /// oneDNN's version as loaded, for example "2.6.3".
    public static var oneDNNVersion: String {
        guard let v = dnnl_version()?.pointee else { return "?" }
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// `convolutions on oneDNN 2.6.3, GEMMs on oneDNN 2.6.3`, or `... on OpenBLAS (Haswell kernels)`
    /// where `ARCHLAB_CONV` / `ARCHLAB_GEMM` ask for OpenBLAS or oneDNN has no CPU engine here.
    public static var description: String {
        let openBLAS = "OpenBLAS (\(BLAS.coreName) kernels)"
        let dnnl = "oneDNN \(oneDNNVersion)"
        let convolutions = ConvolutionBackend.preferred == .onednn && DNNLEngine.shared.engine != nil ? dnnl : openBLAS
        let gemms = GEMMLibrary.preferred == .onednn ? dnnl : openBLAS
        return "convolutions on \(convolutions), GEMMs on \(gemms)"
    }
}
