import ArchSpec
@testable import ArchSweep
import ArchTestSupport
import ArchTrain
import Foundation
import Testing

/// The runner's scheduling, with a launcher that starts no process: at most `jobs` trials at
/// once, every way a trial can end recorded as it should be, and a rerun that runs only what is left.
@Suite struct SchedulerTests {
    /// How a fake trial ends, by seed.
    enum Ending { case completes, fails, diverges, stoppedByTerm, crashes }

    final class FakeHandle: TrialHandle {
        let ending: Ending, directory: String
        var polls: Int
        init(ending: Ending, directory: String, polls: Int) { self.ending = ending; self.directory = directory; self.polls = polls }
        var isRunning: Bool {
            polls -= 1
            if polls == 0 { finish() }
            return polls > 0
        }
        func finish() {
            var metrics = RunMetrics(testAccuracy: 0.5, bestEpoch: 1, params: 10, macs: 20, input: [1, 28, 28])
            metrics.epochs = [EpochMetrics(epoch: 1, lr: 0.1, trainLoss: 1, trainAccuracy: 0.4, validationAccuracy: nil, testLoss: 1,
                                           testAccuracy: 0.5, seconds: 1)]
            if ending == .diverges { metrics.diverged = true; metrics.divergedAt = "diverged at epoch 1 step 3: loss is nan" }
            if ending == .completes || ending == .diverges { try? writeJSON(metrics, to: directory + "/metrics.json") }
            if ending == .fails { try? "data: no such file\n".write(toFile: directory + "/error.txt", atomically: true, encoding: .utf8) }
        }
        var exit: TrialExit {
            switch ending {
            case .completes: return .status(0)
            case .diverges: return .status(2)
            case .fails: return .status(1)
            case .stoppedByTerm: return .signal(SIGTERM)
            case .crashes: return .signal(SIGSEGV)
            }
        }
        func terminate() { polls = 1 }
        func kill() { polls = 1 }
    }

    final class FakeLauncher: TrialLauncher {
        var endings: [UInt64: Ending]
        var running: [FakeHandle] = []
        var launched: [[String]] = []
        var mostAtOnce = 0
        init(_ endings: [UInt64: Ending]) { self.endings = endings }
        func launch(arguments: [String], directory: String, echo: Bool) throws -> any TrialHandle {
            launched.append(arguments)
            let settings = try JSONDecoder().decode(TrainingConfig.self, from: Data(contentsOf: URL(fileURLWithPath: arguments[arguments.firstIndex(of: "--config")! + 1])))
            let seed = settings.seed
            let handle = FakeHandle(ending: endings[seed] ?? .completes, directory: directory, polls: 2 + Int(seed % 3))
            running = running.filter { $0.polls > 0 } + [handle]
            mostAtOnce = max(mostAtOnce, running.count)
            return handle
        }
    }

    /// Trials with a fixed count of several threads wait passively for their OpenMP threads (a
    /// sweep shares the machine), unless the user chose a policy; auto and one-thread trials keep
    /// libgomp's default; either way the runner's pid marks them as trials.
    @Test func severalFixedThreadsWaitPassivelyUnlessAPolicyIsSet() {
        let chosen = ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"]
        let fixed = SweepRunner.childEnvironment(arguments: ["train", "a.yaml", "--threads", "4", "--out", "x"])
        #expect(fixed[SweepRunner.trialVariable] == String(getpid()))
        #expect(fixed["OMP_WAIT_POLICY"] == (chosen ?? "PASSIVE"))
        for threads in ["auto", "1"] {
            let env = SweepRunner.childEnvironment(arguments: ["train", "a.yaml", "--threads", threads, "--out", "x"])
            #expect(env["OMP_WAIT_POLICY"] == chosen, "\(threads)")
            #expect(env[SweepRunner.trialVariable] == String(getpid()))
        }
    }

    @Test func jobsAtATimeAndEveryEndingRecorded() throws {
        let dir = temporaryDirectory()
        let file = dir + "/e.yaml"
        try """
        name: fake
        architecture: \(repositoryRoot.path)/architectures/lenet.yaml
        training: {data: fashion-mnist, epochs: 1, limit_train: 64}
        seeds: [0, 1, 2, 3, 4, 5]
        axes:
          layers.fc1.out: [30]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let experiment = try Experiment.load(file)
        let trials = try experiment.trials()
        var options = SweepRunner.Options(directory: dir + "/out", executable: "/nonexistent/archlab")
        options.jobs = 2
        options.cores = 2
        let runner = SweepRunner(experiment: experiment, trials: trials, options: options) { _ in }
        let fake = FakeLauncher([1: .fails, 2: .diverges, 3: .stoppedByTerm, 4: .crashes])
        runner.launcher = fake
        let outcome = try runner.run()
        #expect(fake.launched.count == 6 && fake.mostAtOnce <= 2 && fake.mostAtOnce == 2)
        #expect(outcome.completed == 2 && outcome.failed == 2 && outcome.diverged == 1 && outcome.interrupted == 1, "\(outcome.summary)")
        let journal = try Journal(path: dir + "/out/results.sqlite")
        let status = try trials.map { try journal.status($0.id)?.rawValue ?? "" }
        #expect(status == ["completed", "failed", "diverged", "interrupted", "failed", "completed"])
        let failed = try journal.trials().first { $0.seed == 1 }
        #expect(failed?.error?.hasPrefix("exit code 1: data: no such file") == true, "\(String(describing: failed?.error))")
        // a rerun runs the interrupted trial only (failed and diverged ones stay recorded)
        let again = FakeLauncher([:])
        runner.launcher = again
        let second = try runner.run()
        #expect(again.launched.count == 1 && second.completed == 1 && second.skipped == 5, "\(second.summary)")
    }
}
