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
}
