import Foundation

/// What the machine was doing while a stretch of training ran, so that a time measured under
/// load is flagged instead of compared as if it were clean. On a 2-core machine the same network
/// took 407 s in one trial and 860 s in another only because another job shared the cores.
///
/// - `loadAverage`: the kernel's 1-minute load average at the end (runnable threads, ArchLab's
///   own included; exponentially smoothed, so it lags short stretches);
/// - `cpuShare`: the process's CPU time (user + system) over wall time x threads: about 1 when
///   every thread had a core of its own, lower when they waited for one.
public struct MachineLoad: Codable, Sendable, Equatable {
    public var loadAverage: Double
    public var cores: Int
    public var threads: Int
    public var cpuShare: Double

    public init(loadAverage: Double, cores: Int, threads: Int, cpuShare: Double) {
        self.loadAverage = loadAverage; self.cores = cores; self.threads = threads; self.cpuShare = cpuShare
    }

    /// More runnable threads than cores (by half a thread), or ArchLab's threads short of CPU:
    /// times measured like this are not comparable with times measured on a free machine.
    public var isBusy: Bool { loadAverage > Double(cores) + 0.5 || cpuShare < 0.8 }

    enum CodingKeys: String, CodingKey {
        case cores, threads
        case loadAverage = "load_average", cpuShare = "cpu_share"
    }

    /// Started when a stretch begins; `finish()` reads the machine at its end.
    public struct Probe {
        let threads: Int
        let wallStart = Date()
        let cpuStart = MachineLoad.processCPUSeconds()

        public init(threads: Int) { self.threads = max(1, threads) }

        /// nil where the platform does not tell (no /proc/loadavg).
        public func finish() -> MachineLoad? {
            guard let load = MachineLoad.loadAverage() else { return nil }
            let wall = max(Date().timeIntervalSince(wallStart), 1e-9)
            let share = (MachineLoad.processCPUSeconds() - cpuStart) / (wall * Double(threads))
            return MachineLoad(loadAverage: load, cores: ProcessInfo.processInfo.activeProcessorCount, threads: threads,
                               cpuShare: (share * 1000).rounded() / 1000)
        }
    }

    /// The 1-minute load average from /proc/loadavg.
    static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let first = text.split(separator: " ").first else { return nil }
        return Double(first)
    }

    /// User + system CPU seconds of this process (all threads) so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
