import Dispatch

/// Runs work split across a fixed number of threads; the count is passed explicitly (no global state).
public struct Parallelism: Sendable {
    public var threads: Int

    public init(threads: Int) { self.threads = max(1, threads) }

    public static let serial = Parallelism(threads: 1)

    /// Calls `body(i)` for `i` in `0..<count`, in chunks across the threads.
    public func forEach(_ count: Int, _ body: (Int) -> Void) {
        if threads == 1 || count < 2 {
            for i in 0..<count { body(i) }
            return
        }
        let chunks = min(threads, count)
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let lo = count * chunk / chunks, hi = count * (chunk + 1) / chunks
                for i in lo..<hi { body(i) }
            }
        }
    }
}
