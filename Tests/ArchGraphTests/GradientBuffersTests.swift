@testable import ArchGraph
import ArchTensor
import ArchTestSupport
import Testing

/// Gradient buffers shared between slots: two slots share memory only when the intervals in which
/// backward needs their gradients are disjoint, and sharing saves most of the memory on networks
/// with branches (GoogLeNet with aux heads), residual adds (ResNet) and concatenation (DenseNet).
/// That the shared gradients are right is what the golden tests check (`PyTorchEngineTests`).
@Suite struct GradientBuffersTests {
    static let networks: [(String, [String], [Int])] = [
        ("googlenet-torchvision", ["num_classes=10", "width=0.25"], [3, 64, 64]),
        ("resnet50", ["num_classes=10"], [3, 64, 64]),
        ("densenet121", ["num_classes=10"], [3, 64, 64]),
    ]

    @Test(arguments: networks.map(\.0))
    func sharedOnlyWhenNeverLiveTogether(_ file: String) throws {
        let (_, set, input) = try #require(Self.networks.first { $0.0 == file })
        let plan = Model(network: try build(architecturePath(file), set: set, input: input)).plan(batch: 2, training: true)
        let intervals = GradientBuffers.liveIntervals(slotCount: plan.slots.count, steps: plan.steps,
                                                      lossOutputs: [plan.output] + plan.auxOutputs.map(\.slot))
        func address(_ t: Tensor) -> UnsafeMutableRawPointer? { t.withUnsafeMutableBufferPointer { UnsafeMutableRawPointer($0.baseAddress) } }
        var bySlot: [(slot: Int, address: UnsafeMutableRawPointer)] = []
        for (slot, g) in plan.gradients.enumerated() {
            guard let g else { #expect(slot == 0, "slot \(slot) has no gradient"); continue }
            #expect(g.shape == plan.slots[slot].shape)
            bySlot.append((slot, try #require(address(g))))
        }
        var conflicts: [String] = []
        for a in bySlot { for b in bySlot where a.slot < b.slot && a.address == b.address {
            let (x, y) = (intervals[a.slot], intervals[b.slot])
            if x.start <= y.end && y.start <= x.end { conflicts.append("slots \(a.slot) \(x) and \(b.slot) \(y)") }
        }}
        #expect(conflicts.isEmpty, "\(conflicts.prefix(3))")
        // most of the per-slot memory is saved
        let perSlot = plan.slots.dropFirst().reduce(0) { $0 + $1.capacity }
        var distinct: [UnsafeMutableRawPointer: Int] = [:]
        for (slot, a) in bySlot { distinct[a] = max(distinct[a] ?? 0, plan.slots[slot].capacity) }
        let shared = distinct.values.reduce(0, +)
        #expect(shared * 3 < perSlot, "\(file): \(shared) floats of gradients for \(perSlot) floats of activations")
    }
}

/// In-place ReLU and residual adds: on ResNet-50 every ReLU after a batch norm or an add, and every
/// add, writes over its operand (so the activations shrink by a third), while the network input,
/// the logits and a ReLU whose input has another reader keep their own memory.
@Suite struct InPlaceTests {
    @Test func resnetWritesOverItsOperands() throws {
        let plan = Model(network: try build(architecturePath("resnet50"), set: ["num_classes=10"], input: [3, 32, 32])).plan(batch: 2, training: true)
        func shared(_ slot: Int) -> Bool { plan.slots.indices.contains { $0 != slot && plan.slots[$0].sharesMemory(with: plan.slots[slot]) } }
        #expect(!shared(0) && !shared(plan.output))
        let relus = plan.steps.compactMap { entry -> Int? in
            if case let .layer(_, _, output, _, op) = entry.step, op == "relu" { return output }
            return nil
        }
        let adds = plan.steps.compactMap { entry -> Int? in
            if case let .combine(_, _, output) = entry.step { return output }
            return nil
        }
        #expect(relus.count == 49 && adds.count == 16)
        #expect(relus.allSatisfy(shared) && adds.allSatisfy(shared))
        let total = plan.slots.reduce(0) { $0 + $1.capacity }
        var distinct: [Int] = []
        for (i, s) in plan.slots.enumerated() where !plan.slots[..<i].contains(where: { $0.sharesMemory(with: s) }) { distinct.append(s.capacity) }
        #expect(distinct.reduce(0, +) * 3 < total * 2)
    }

    /// A ReLU straight after a linear layer (whose backward may read its output) runs out of place.
    @Test func notOverAnOutputItsProducerNeeds() throws {
        let plan = Model(network: try build(architecturePath("alexnet"), set: ["num_classes=10"], input: [3, 64, 64])).plan(batch: 2, training: true)
        for (i, entry) in plan.steps.enumerated() {
            guard case let .layer(_, input, output, path, op) = entry.step, op == "relu", i > 0,
                  case let .layer(_, _, _, _, previous) = plan.steps[i - 1].step, previous == "linear" else { continue }
            #expect(!plan.slots[output].sharesMemory(with: plan.slots[input]), "\(path)")
        }
    }
}

/// An evaluation plan shares activation buffers between slots that are never live together: its
/// logits equal those of a plan that keeps every activation (a training plan run in eval mode),
/// bit for bit, on branches (GoogLeNet with aux heads), residual adds (ResNet) and concatenation
/// (DenseNet), and it holds far fewer floats.
@Suite struct ActivationBuffersTests {
    @Test(arguments: GradientBuffersTests.networks.map(\.0))
    func sameLogitsInLessMemory(_ file: String) throws {
        let (_, set, input) = try #require(GradientBuffersTests.networks.first { $0.0 == file })
        let model = Model(network: try build(architecturePath(file), set: set + (file.hasPrefix("googlenet") ? ["aux_logits=true"] : []), input: input))
        try model.initialize(seed: 3)
        let kept = model.plan(batch: 3, training: true), shared = model.plan(batch: 3, training: false)
        var random = RandomSource(seed: 4)
        let x = (0..<kept.input.count).map { _ in random.uniform(-1, 1) }
        for plan in [kept, shared] {
            plan.input.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = x[i] } }
            plan.forward(StepContext(training: false, parallel: Parallelism(threads: 2)))
        }
        #expect(kept.logits.values == shared.logits.values, "\(file)")
        func address(_ t: Tensor) -> UnsafeMutableRawPointer? { t.withUnsafeMutableBufferPointer { UnsafeMutableRawPointer($0.baseAddress) } }
        var distinct: [UnsafeMutableRawPointer: Int] = [:]
        for s in shared.slots { if let a = address(s) { distinct[a] = max(distinct[a] ?? 0, s.capacity) } }
        let perSlot = kept.slots.reduce(0) { $0 + $1.capacity }, total = distinct.values.reduce(0, +)
        #expect(total * 3 < perSlot, "\(file): \(total) floats of activations shared, \(perSlot) kept")
    }
}
