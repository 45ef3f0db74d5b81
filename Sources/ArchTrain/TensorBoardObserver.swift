import ArchJSON
import ArchGraph
import ArchTensorBoard
import Foundation

/// Writes a run's progress as TensorBoard event files in one directory (`--tensorboard DIR`):
///
/// - every `every` steps: `step/loss` (that batch's), `step/lr`, `step/images_per_second`;
/// - every epoch: `accuracy/{train,validation,test}`, `loss/{train,validation,test}`,
///   `epoch/lr`, `epoch/seconds` and `epoch/number`;
/// - at the start: the settings (`config.json`'s training part) and the network's summary table as text.
///
/// Every scalar's step is the global training step (epochs at the step that ends them), so the
/// per-step and per-epoch charts share one x axis. Events are flushed at least every
/// `flushSeconds` and after every epoch: `tensorboard --logdir` shows a running run, and a killed
/// one leaves a readable file. Each process writes a new file with `SessionLog.START` at the first
/// step it trains, which makes TensorBoard drop what an earlier attempt wrote from there on (a
/// resumed run's repeated steps, a failed first try). A file that cannot be written is
/// reported once on standard error and training goes on.
public final class TensorBoardObserver: TrainingObserver {
    public let directory: String
    /// Steps between per-step scalars (the last step of an epoch is always written).
    public let every: Int
    public let flushSeconds: Double
    private var file: EventFile?
    private var stepsPerEpoch = 1
    private var lastFlush = Date()
    private var failed = false
    private var resumedAfter: Int?
    private var startWritten = false

    public init(directory: String, every: Int = 20, flushSeconds: Double = 10) {
        self.directory = directory
        self.every = max(1, every)
        self.flushSeconds = flushSeconds
    }

    public func started(config: TrainingConfig, network: Network, trainCount: Int, stepsPerEpoch: Int) {
        self.stepsPerEpoch = stepsPerEpoch
        attempt { file = try EventFile(directory: directory) }
        let settings = config.jsonValue.text(.pretty(indent: 2))
        let summary = NetworkSummary(network)
        append(0, .text(tag: "settings", markdown: "```json\n\(settings)\n```\n\n\(trainCount) training images, \(stepsPerEpoch) steps per epoch"))
        append(0, .text(tag: "network", markdown: summary.render(.markdown)))
        flush()
    }

    public func resumed(epoch: Int, note: String?) {
        if let note { append(0, .text(tag: "resume", markdown: note)) }
        if epoch > 0 {
            resumedAfter = epoch
            append(Int64(epoch * stepsPerEpoch + 1), .text(tag: "resume", markdown: "resumed after epoch \(epoch) from its checkpoint"))
        }
        flush()
    }

    public func step(_ p: StepProgress) {
        if !startWritten {
            // SessionLog.START at the first step this process trains: TensorBoard drops what an
            // earlier attempt wrote from there on (the steps trained again, or a failed first try)
            startWritten = true
            append(Int64((resumedAfter ?? 0) * stepsPerEpoch + 1), .start)
        }
        guard p.step % every == 0 || p.step == p.steps else { return }
        append(Int64(p.globalStep), .scalars([("step/loss", Float(p.loss)), ("step/lr", Float(p.lr)),
                                              ("step/images_per_second", Float(p.imagesPerSecond))]))
        if Date().timeIntervalSince(lastFlush) >= flushSeconds { flush() }
    }

    public func epochFinished(_ m: EpochMetrics, best: Bool) {
        var values: [(tag: String, value: Float)] = [("accuracy/train", Float(m.trainAccuracy))]
        if let v = m.validationAccuracy { values.append(("accuracy/validation", Float(v))) }
        values.append(("accuracy/test", Float(m.testAccuracy)))
        values.append(("loss/train", Float(m.trainLoss)))
        if let v = m.validationLoss { values.append(("loss/validation", Float(v))) }
        values += [("loss/test", Float(m.testLoss)), ("epoch/lr", Float(m.lr)), ("epoch/seconds", Float(m.seconds)),
                   ("epoch/number", Float(m.epoch))]
        append(Int64(m.epoch * stepsPerEpoch), .scalars(values))
        flush()
    }

    public func diverged(_ message: String) {
        append(0, .text(tag: "diverged", markdown: message))
        flush()
    }

    private func append(_ step: Int64, _ content: Event.Content) {
        file?.append(Event(wallTime: Date().timeIntervalSince1970, step: step, content: content))
    }

    private func flush() {
        lastFlush = Date()
        attempt { try file?.flush() }
    }

    private func attempt(_ body: () throws -> Void) {
        guard !failed else { return }
        do { try body() } catch {
            failed = true
            file = nil
            FileHandle.standardError.write(Data("warning: TensorBoard events in \(directory) stopped: \(error.localizedDescription)\n".utf8))
        }
    }
}

/// Passes every event to each of several observers, in order.
public final class ObserverGroup: TrainingObserver {
    public let observers: [TrainingObserver]
    public init(_ observers: [TrainingObserver]) { self.observers = observers }
    public func started(config: TrainingConfig, network: Network, trainCount: Int, stepsPerEpoch: Int) {
        for o in observers { o.started(config: config, network: network, trainCount: trainCount, stepsPerEpoch: stepsPerEpoch) }
    }
    public func step(_ progress: StepProgress) { for o in observers { o.step(progress) } }
    public func epochFinished(_ metrics: EpochMetrics, best: Bool) { for o in observers { o.epochFinished(metrics, best: best) } }
    public func diverged(_ message: String) { for o in observers { o.diverged(message) } }
    public func resumed(epoch: Int, note: String?) { for o in observers { o.resumed(epoch: epoch, note: note) } }
}
