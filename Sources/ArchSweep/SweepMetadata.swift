import ArchTensor
import Foundation

/// What the report header records about where a sweep ran.
public enum SweepMetadata {
    /// The runner's cores, jobs and threads per trial come from its `options` (0 threads is auto),
    /// with `queued` trials to run (fewer than the jobs run at once, and get more threads each).
    public static func current(experiment: Experiment, options: SweepRunner.Options, queued: Int? = nil) -> [String: String] {
        let threads = options.threadsPerTrial(queued: queued ?? options.jobs)
        var meta = ["experiment": experiment.name, "experiment_file": experiment.file, "host": ProcessInfo.processInfo.hostName,
                    "cores": String(options.cores), "jobs": String(min(options.jobs, max(1, queued ?? options.jobs))), "os": ProcessInfo.processInfo.operatingSystemVersionString,
                    "threads_per_trial": threads == 0 ? "auto (the idle cores)" : String(threads), "strategy": experiment.strategy.rawValue]
        if let doc = experiment.doc { meta["doc"] = doc }
        // from the start, so that a report of a sweep stopped in its first round decides at α′ too
        if let policy = experiment.seedPolicy {
            meta["seed_policy"] = policy.metaText
            meta["adaptive_seeds"] = policy.description
        }
        // the working directory's repository, when it is ArchLab's own checkout
        if let top = shell("git rev-parse --show-toplevel 2>/dev/null"), FileManager.default.fileExists(atPath: top + "/Sources/ArchSweep/Runner.swift"),
           let commit = shell("git rev-parse --short HEAD 2>/dev/null") {
            // tracked files changed since that commit: the commit alone does not say what ran
            let modified = shell("git status --porcelain --untracked-files=no -- ':/Sources' ':/Package.swift' 2>/dev/null") != nil
            meta["commit"] = commit + (modified ? " with uncommitted changes to Sources" : "")
        } else {
            meta["commit"] = "unknown"
        }
        meta["engine"] = ComputeLibraries.description
        meta["swift"] = shell("swift --version 2>/dev/null | head -n 1") ?? "unknown"
        meta["cpu"] = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2") ?? "unknown"
        return meta
    }

    static func shell(_ command: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
