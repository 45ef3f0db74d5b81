import ArchSweep
import Testing

/// Each trial's `--threads`: auto (0) with one job off Slurm, the cores split between jobs otherwise.
@Suite struct TrialThreadsTests {
    @Test func oneJobAdaptsSeveralJobsSplit() {
        var options = SweepRunner.Options(directory: "/tmp/x", executable: "archlab")
        options.cores = 8
        options.adaptiveThreads = true
        #expect(options.threadsPerTrial == 0)
        options.jobs = 2
        #expect(options.threadsPerTrial == 4)
        options.jobs = 16
        #expect(options.threadsPerTrial == 1)
        options.jobs = 1
        options.adaptiveThreads = false  // a Slurm allocation: its task's CPUs, fixed
        #expect(options.threadsPerTrial == 8)
    }

    /// Fewer trials left than jobs: the cores go to those that run (one left: auto off Slurm).
    @Test func fewerTrialsThanJobsShareTheCores() {
        var options = SweepRunner.Options(directory: "/tmp/x", executable: "archlab")
        options.cores = 8
        options.jobs = 8
        options.adaptiveThreads = true
        #expect(options.threadsPerTrial(queued: 100) == 1)
        #expect(options.threadsPerTrial(queued: 3) == 2)
        #expect(options.threadsPerTrial(queued: 1) == 0)
        options.adaptiveThreads = false
        #expect(options.threadsPerTrial(queued: 1) == 8)
        #expect(options.threadsPerTrial(queued: 0) == 8)
    }
}
