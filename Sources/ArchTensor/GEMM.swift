internal import CBLAS
internal import CDNNL
import Foundation

/// Which library multiplies matrices.
public enum GEMMLibrary: String, Sendable, CaseIterable {
    /// oneDNN's `dnnl_sgemm` (JIT AVX-512/AVX2 kernels chosen at run time, on OpenMP threads).
    case onednn
    /// OpenBLAS's `cblas_sgemm`, single-threaded calls on blocks split across ArchLab's threads.
    case openblas

    /// `ARCHLAB_GEMM=openblas` or `onednn` in the environment, otherwise oneDNN. Measured with
    /// `archlab sgemm` on this project's AVX-512 machine, 2 threads, n=2048: oneDNN 457 GFLOP/s,
    /// OpenBLAS 0.3.21 240 (its Haswell kernels) or 453 (`OPENBLAS_CORETYPE=SKYLAKEX`); on the
    /// skinny products of a classifier head (16 x 4096 x 25088) oneDNN 239, OpenBLAS Haswell 117.
    public static let preferred: GEMMLibrary = {
        guard let value = getenv("ARCHLAB_GEMM") else { return .onednn }
        return GEMMLibrary(rawValue: String(cString: value).lowercased()) ?? .onednn
    }()
}

/// Matrix products on oneDNN's `dnnl_sgemm` or OpenBLAS's `cblas_sgemm` (`GEMMLibrary`), with a
/// naive reference beside them.
public enum BLAS {
    /// Sets the number of threads OpenBLAS itself uses. ArchLab's kernels run with 1 and split
    /// their products across threads themselves (`gemm(parallel:)`): OpenBLAS's idle workers spin
    /// on `sched_yield` between calls and would take the cores from the non-GEMM work in between.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is M x K, op(B) is K x N.
    /// oneDNN threads the product itself. With OpenBLAS and several threads, C is cut into column
    /// (or row) blocks, one single-threaded sgemm each.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Parallelism = .serial,
                     library: GEMMLibrary? = nil) {
        let library = library ?? parallel.gemm
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        if library == .onednn {
            // oneDNN threads the product itself; inside a parallel loop OpenMP runs it serially
            omp_set_num_threads(Int32(parallel.threads))
            let status = dnnl_sgemm(transA ? 84 : 78, transB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb),
                                    beta, c, Int64(ldc))
            precondition(status == dnnl_success, "dnnl_sgemm failed with status \(status.rawValue)")
            return
        }
        let parts = min(parallel.threads, max(n, m) / 16)
        if parts > 1, m * n * k >= 1 << 17 {
            let block = 16
            // every part reads A and B and writes its own columns (or rows) of C
            let sharedA = SharedPointer(a), sharedB = SharedPointer(b), sharedC = SharedPointer(c)
            if n >= m {
                // columns [j0, j1) of C need columns [j0, j1) of op(B)
                let units = (n + block - 1) / block
                parallel.forEach(parts) { part in
                    let j0 = units * part / parts * block, j1 = min(n, units * (part + 1) / parts * block)
                    guard j1 > j0 else { return }
                    let a = UnsafePointer(sharedA.base), b = UnsafePointer(sharedB.base), c = sharedC.base
                    gemm(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                         b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc, library: .openblas)
                }
            } else {
                // rows [i0, i1) of C need rows [i0, i1) of op(A)
                let units = (m + block - 1) / block
                parallel.forEach(parts) { part in
                    let i0 = units * part / parts * block, i1 = min(m, units * (part + 1) / parts * block)
                    guard i1 > i0 else { return }
                    let a = UnsafePointer(sharedA.base), b = UnsafePointer(sharedB.base), c = sharedC.base
                    gemm(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha, a: transA ? a + i0 : a + i0 * lda,
                         lda: lda, b: b, ldb: ldb, beta: beta, c: c + i0 * ldc, ldc: ldc, library: .openblas)
                }
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The same product with three loops, in Double: the reference the fast path is tested against.
    static func naiveGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                let prior = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * sum + prior)
            }
        }
    }

    /// Tensor form for tests: C = op(A) * op(B) + beta * C with shapes taken from the tensors.
    public static func matmul(_ a: Tensor, _ b: Tensor, into c: Tensor, transA: Bool = false, transB: Bool = false,
                              beta: Float = 0, naive: Bool = false, parallel: Parallelism = .serial,
                              library: GEMMLibrary? = nil) {
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let n = transB ? b.shape[0] : b.shape[1]
        precondition((transB ? b.shape[1] : b.shape[0]) == k && c.shape == [m, n], "matmul shapes \(a.shape) \(b.shape) \(c.shape)")
        if naive {
            naiveGemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.base, lda: a.shape[1], b: b.base, ldb: b.shape[1],
                      beta: beta, c: c.base, ldc: n)
        } else {
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.base, lda: a.shape[1], b: b.base, ldb: b.shape[1],
                 beta: beta, c: c.base, ldc: n, parallel: parallel, library: library)
        }
    }
}
