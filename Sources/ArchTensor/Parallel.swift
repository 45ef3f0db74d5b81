internal import CDNNL

/// Runs work split across a fixed number of threads; the count is passed explicitly (no global state).
///
/// The threads are OpenMP's (libgomp, through `GOMP_parallel`): oneDNN's kernels run on the same
/// team, so the element-wise work between two convolutions does not compete with oneDNN's idle
/// workers spinning on the cores (measured: max pooling in GoogLeNet took 38 ms per step on
/// Dispatch threads next to oneDNN and 23 ms without oneDNN). A loop started inside another
/// one runs serially on its thread (OpenMP's nesting is off).
///
/// It also carries which libraries the kernels call (`convolution`, `gemm`), so that one process
/// can run the same network on both engines (the golden tests do); the defaults come from
/// `ARCHLAB_CONV` / `ARCHLAB_GEMM`.
public struct Parallelism: Sendable {
    public var threads: Int
    /// Where convolutions run (oneDNN, or im2col + sgemm).
    public var convolution: ConvolutionBackend
    /// Where matrix products run.
    public var gemm: GEMMLibrary
    /// What convolutions compute in (`--precision`).
    public var precision: ComputePrecision

    public init(threads: Int, convolution: ConvolutionBackend = .preferred, gemm: GEMMLibrary = .preferred,
                precision: ComputePrecision = .float32) {
        self.threads = max(1, threads)
        self.convolution = convolution
        self.gemm = gemm
        self.precision = precision
    }

    /// The same libraries and precision on one thread (for work inside a parallel loop).
    public var serial: Parallelism {
        var one = self
        one.threads = 1
        return one
    }

    public static let serial = Parallelism(threads: 1)

    /// Calls `body(i)` for `i` in `0..<count`, in contiguous chunks, one per thread. `body` runs
    /// on several threads at once, so it is `@Sendable`: what it shares is tensors and
    /// `SharedPointer`s, of which each call touches its own part.
    public func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if threads == 1 || count < 2 {
            for i in 0..<count { body(i) }
            return
        }
        let chunks = min(threads, count)
        withoutActuallyEscaping(body) { body in
            var job = ParallelJob(count: count, chunks: chunks, body: body)
            withUnsafeMutablePointer(to: &job) { GOMP_parallel(runParallelJob, $0, UInt32(chunks), 0) }
        }
    }
}

private struct ParallelJob {
    let count: Int, chunks: Int
    let body: @Sendable (Int) -> Void
}

/// A pointer into memory that the threads of one parallel loop share, each call reading what
/// every thread only reads and writing its own disjoint part: the loop's contract, which the
/// compiler cannot check. Wrapping a pointer in it is the statement that the contract holds.
public struct SharedPointer<Pointee>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Pointee>
    @inlinable public init(_ base: UnsafeMutablePointer<Pointee>) { self.base = base }
    @inlinable public init(_ base: UnsafePointer<Pointee>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// Each team member takes chunks `tid, tid + team, ...` (the team may be smaller than asked for).
private let runParallelJob: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    guard let job = raw?.assumingMemoryBound(to: ParallelJob.self) else { return }
    let count = job.pointee.count, chunks = job.pointee.chunks, body = job.pointee.body
    let team = Int(omp_get_num_threads())
    var chunk = Int(omp_get_thread_num())
    while chunk < chunks {
        let lo = count * chunk / chunks, hi = count * (chunk + 1) / chunks
        for i in lo..<hi { body(i) }
        chunk += team
    }
}
