import Foundation
import Testing

/// `archlab new architecture|experiment` write files that validate and run; `completion` prints
/// a script for each shell; `sweep --base` runs a sweep without a file.
@Suite struct NewCommandTests {
    @Test func starterFilesValidateAndRun() throws {
        let dir = EngineCLITests.temporary("new")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let arch = dir + "/mynet.yaml", exp = dir + "/exps/width.yaml"
        let a = try CLITests.run(["new", "architecture", "mynet", "--out", arch])
        #expect(a.status == 0 && a.stdout.contains("77,754 params"), "\(a.stdout)\(a.stderr)")
        #expect(try CLITests.run(["new", "architecture", "mynet", "--out", arch]).status != 0, "an existing file is kept")
        let e = try CLITests.run(["new", "experiment", "width", "--from", arch, "--out", exp])
        #expect(e.status == 0 && e.stdout.contains("width: 0.5, 1, 2"), "\(e.stdout)\(e.stderr)")
        #expect(try String(contentsOfFile: exp, encoding: .utf8).contains("architecture: ../mynet.yaml"))
        let v = try CLITests.run(["validate", exp, arch])
        #expect(v.status == 0, "\(v.stderr)")
        let t = try CLITests.run(["train", arch, "--epochs", "1", "--limit-train", "256", "--limit-test", "64", "--batch-size", "32",
                                  "--out", dir + "/run"])
        #expect(t.status == 0 && t.stdout.contains("test accuracy"), "\(t.stderr)")
        let d = try CLITests.run(["sweep", exp, "--dry-run", "--out", dir + "/sweep"])
        #expect(d.status == 0 && d.stdout.contains("between 9 and 18 trials"), "\(d.stdout)\(d.stderr)")
    }

    @Test func completionScriptsForEachShell() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try CLITests.run(["completion", shell])
            #expect(r.status == 0 && r.stdout.contains("sweep") && r.stdout.contains("tensorboard"), "\(shell)")
        }
        #expect(try CLITests.run(["completion", "tcsh"]).status != 0)
    }

    @Test func sweepFromTheCommandLine() throws {
        let dir = EngineCLITests.temporary("multirun")
        let r = try CLITests.run(["sweep", "--base", "architectures/lenet.yaml", "--axis", "layers.fc1.out=30,60", "--seeds", "0",
                                  "--training", "epochs=1", "--training", "limit_train=128", "--training", "limit_test=64",
                                  "--training", "validation=0", "--out", dir, "--save", dir + "-saved.yaml"])
        #expect(r.status == 0 && r.stdout.contains("2 completed"), "\(r.stdout)\(r.stderr)")
        let again = try CLITests.run(["sweep", dir + "-saved.yaml", "--out", dir])
        #expect(again.status == 0 && again.stdout.contains("0 to run"), "the saved file is the same sweep: \(again.stdout)")
        let bad = try CLITests.run(["sweep", "--base", "architectures/lenet.yaml", "--axis", "width"])
        #expect(bad.status != 0 && bad.stderr.contains("key=value"), "\(bad.stderr)")
    }

    /// A runner started in the background by a non-interactive shell inherits SIGINT ignored
    /// (`nohup archlab sweep ... &`); a signal sent to it on purpose must still stop it cleanly,
    /// with the running trial recorded as interrupted (a dispatch signal source never fired there).
    @Test func backgroundRunnerStopsOnSignal() throws {
        let dir = EngineCLITests.temporary("signal")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let command = ["sweep", "--base", "architectures/lenet.yaml", "--axis", "layers.fc1.out=30", "--seeds", "0",
                       "--training", "epochs=200", "--training", "limit_train=2000", "--training", "limit_test=64",
                       "--training", "validation=0", "--out", dir].map { "'\($0)'" }.joined(separator: " ")
        process.arguments = ["-c", "trap '' INT HUP; exec '\(CLITests.binary.path)' \(command) > '\(dir).log' 2>&1"]
        process.currentDirectoryURL = CLITests.root
        try process.run()
        let started = Date()
        while Date().timeIntervalSince(started) < 60,
              !((try? String(contentsOfFile: dir + ".log", encoding: .utf8))?.contains("running:") ?? false) {
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGINT)
        let sent = Date()
        while process.isRunning, Date().timeIntervalSince(sent) < 30 { Thread.sleep(forTimeInterval: 0.1) }
        let stopped = !process.isRunning
        if !stopped { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let log = (try? String(contentsOfFile: dir + ".log", encoding: .utf8)) ?? ""
        #expect(stopped, "the runner ignored SIGINT: \(log)")
        #expect(log.contains("interrupted (SIGINT): 1 running trial(s) marked interrupted"), "\(log)")
    }
}
