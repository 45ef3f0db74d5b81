import ArchTensor
import Foundation

/// Chooses how many threads the kernels use when the `threads` setting is auto (0): as many as the
/// cores other processes leave idle, re-chosen every few seconds while training runs.
///
/// Why: oneDNN's kernels and ArchLab's loops split each operation statically across their threads
/// and meet at a barrier, so a step runs at the pace of the slowest thread. When another CPU-bound
/// process shares a core, the thread on that core gets part of it and every barrier waits for it.
/// Measured on this project's 2-core machine with one competing single-threaded process, 2
/// threads trained LeNet at 4,200-4,600 images/s and ResNet-18 at 47 where 1 thread reached
/// 9,200-9,900 and 84 (OpenMP's passive waiting helps ResNet-18 but not LeNet). Using only the
/// idle cores avoids the collapse; on an idle machine every core is used.
///
/// How: over each interval, the machine's busy CPU time (`/proc/stat`) minus this process's own
/// (`getrusage`, spinning OpenMP workers included) is what other processes used, in cores. A
/// count chosen this way is not fixed, so results are reproducible bit for bit only with a fixed
/// `threads` setting.
public final class ThreadGovernor {
    /// The most threads it chooses (the machine's cores).
    public let maximum: Int
    /// The count chosen last.
    public private(set) var threads: Int
    /// Seconds between two choices.
    public let interval: TimeInterval
    private var last: Snapshot?

    struct Snapshot {
        let busy: Double, total: Double  // jiffies of all CPUs
        let own: Double  // this process's CPU seconds
        let time: Date
    }

    /// Chooses a first count from a short look at the machine (`sample` seconds); with `sample`
    /// nil, starts looking and chooses at `settle` (work done in between hides the wait).
    public init(maximum: Int = ProcessInfo.processInfo.activeProcessorCount, interval: TimeInterval = 2, sample: TimeInterval? = 0.2) {
        self.maximum = max(1, maximum)
        self.interval = interval
        threads = self.maximum
        guard let first = Self.snapshot() else { return }
        last = first
        if let sample { settle(sample: sample) }
    }

    /// Chooses from what the machine did since the first look, waiting until it spans `sample` seconds.
    public func settle(sample: TimeInterval = 0.2) {
        guard let first = last else { return }
        let waited = Date().timeIntervalSince(first.time)
        if waited < sample { Thread.sleep(forTimeInterval: sample - waited) }
        if let chosen = choose(now: Date()) { threads = chosen }
    }

    /// A new count when `interval` has passed since the last choice and the load changed it, nil otherwise.
    public func poll(now: Date = Date()) -> Int? {
        guard let last, now.timeIntervalSince(last.time) >= interval, let chosen = choose(now: now), chosen != threads else { return nil }
        threads = chosen
        return chosen
    }

    /// The count for the load since the last snapshot (nil where /proc/stat cannot be read).
    private func choose(now: Date) -> Int? {
        guard let previous = last, let current = Self.snapshot() else { return nil }
        last = current
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let wall = current.time.timeIntervalSince(previous.time), jiffies = current.total - previous.total
        guard wall > 0, jiffies > 0 else { return nil }
        let machineBusy = (current.busy - previous.busy) / jiffies * cores
        let own = (current.own - previous.own) / wall
        return Self.threads(idleCores: cores - max(0, machineBusy - own), maximum: maximum)
    }

    /// Threads for `idleCores` cores left idle by other processes: a core counts when at least
    /// three quarters of it is idle (a thread on a core that is half taken holds up every barrier).
    static func threads(idleCores: Double, maximum: Int) -> Int {
        max(1, min(maximum, Int((idleCores + 0.25).rounded(.down))))
    }

    /// The machine's busy and total jiffies (first line of /proc/stat) and this process's CPU time.
    static func snapshot() -> Snapshot? {
        guard let text = BLAS.procFile("/proc/stat"), let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 4 else { return nil }
        // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
        let counted = Array(fields.prefix(8))
        let idle = counted[3] + (counted.count > 4 ? counted[4] : 0)
        let total = counted.reduce(0, +)
        return Snapshot(busy: total - idle, total: total, own: MachineLoad.processCPUSeconds(), time: Date())
    }
}
