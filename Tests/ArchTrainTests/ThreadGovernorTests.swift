@testable import ArchTrain
import ArchJSON
import Foundation
import Testing

/// `threads: auto`: the setting's spellings, and the governor's rule for how many cores count as idle.
@Suite struct ThreadGovernorTests {
    @Test func autoIsZeroAndCountsStayCounts() throws {
        let threads = try #require(TrainingSetting.named("threads"))
        var c = TrainingConfig(architecture: "a.yaml")
        #expect(c.threads == 0, "auto is the default")
        try threads.set(.int(3), in: &c)
        #expect(c.threads == 3)
        try threads.set(.string("auto"), in: &c)
        #expect(c.threads == 0)
        #expect(throws: TrainingSetting.Invalid.self) { try threads.set(.string("many"), in: &c) }
        #expect(throws: TrainingSetting.Invalid.self) { try threads.set(.int(-1), in: &c) }
    }

    /// A core counts as idle when three quarters of it are: on 2 cores, one competing CPU-bound
    /// process leaves 1 thread, a light background leaves 2, and there is always at least 1.
    @Test func idleCoresToThreads() {
        #expect(ThreadGovernor.threads(idleCores: 2.0, maximum: 2) == 2)
        #expect(ThreadGovernor.threads(idleCores: 1.8, maximum: 2) == 2)
        #expect(ThreadGovernor.threads(idleCores: 1.7, maximum: 2) == 1)
        #expect(ThreadGovernor.threads(idleCores: 1.0, maximum: 2) == 1)
        #expect(ThreadGovernor.threads(idleCores: 0.1, maximum: 2) == 1)
        #expect(ThreadGovernor.threads(idleCores: 7.9, maximum: 4) == 4)
    }

    /// On Linux the machine's counters read, and a count is chosen within bounds.
    @Test func choosesWithinBounds() throws {
        try #require(ThreadGovernor.snapshot() != nil)
        let governor = ThreadGovernor(maximum: 2, interval: 0, sample: 0.05)
        #expect((1...2).contains(governor.threads))
        _ = governor.poll()
        #expect((1...2).contains(governor.threads))
    }
}
