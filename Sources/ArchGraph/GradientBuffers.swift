import ArchTensor

/// Shares memory between the gradient buffers of a training plan that are never needed at once.
///
/// Backward runs the steps in reverse. The gradient of a slot is first written by the backward of
/// its last consumer (or by the loss, for the logits and aux logits) and last read by the backward
/// of the step that produced the slot; outside that interval its buffer holds nothing anyone
/// reads. Slots whose intervals are disjoint share one buffer (greedy interval colouring, best fit
/// by size). Every backward writes its input gradient in full the first time (`accumulate`
/// false), so a shared buffer needs no clearing. For a chain such as ResNet-50 at 224x224 this
/// keeps a few layers' gradients instead of one per activation.
enum GradientBuffers {
    /// One gradient tensor per slot (nil for slot 0, the network input), views of shared buffers.
    static func plan(slots: [Tensor], steps: [(step: ExecutionPlan.Step, trainingOnly: Bool)], lossOutputs: [Int]) -> [Tensor?] {
        let intervals = liveIntervals(slotCount: slots.count, steps: steps, lossOutputs: lossOutputs)
        var capacities: [Int] = []
        var assignment = [Int?](repeating: nil, count: slots.count)
        var active: [(buffer: Int, end: Int)] = []
        var free: [Int] = []
        let order = (1..<slots.count).sorted { (intervals[$0].start, intervals[$0].end, $0) < (intervals[$1].start, intervals[$1].end, $1) }
        for slot in order {
            let (start, end) = intervals[slot]
            free += active.filter { $0.end < start }.map(\.buffer)
            active.removeAll { $0.end < start }
            let need = slots[slot].capacity
            let fitting = free.filter { capacities[$0] >= need }
            let chosen: Int
            if let best = fitting.min(by: { capacities[$0] < capacities[$1] }) {
                chosen = best
            } else if let largest = free.max(by: { capacities[$0] < capacities[$1] }) {
                chosen = largest
                capacities[largest] = need
            } else {
                chosen = capacities.count
                capacities.append(need)
            }
            free.removeAll { $0 == chosen }
            active.append((chosen, end))
            assignment[slot] = chosen
        }
        let buffers = capacities.map { Tensor(shape: [$0]) }
        return slots.indices.map { slot in assignment[slot].map { Tensor(sharing: buffers[$0], shape: slots[slot].shape) } }
    }

    /// Per slot, the backward positions (0 = the last step's backward, -1 = the loss) between
    /// which its gradient must be kept.
    static func liveIntervals(slotCount: Int, steps: [(step: ExecutionPlan.Step, trainingOnly: Bool)],
                              lossOutputs: [Int]) -> [(start: Int, end: Int)] {
        let n = steps.count
        var start = [Int](repeating: Int.max, count: slotCount), end = [Int](repeating: Int.min, count: slotCount)
        for s in lossOutputs { start[s] = -1 }
        for (i, entry) in steps.enumerated() {
            let time = n - 1 - i
            let (inputs, output): ([Int], Int)
            switch entry.step {
            case let .layer(_, input, out, _, _): (inputs, output) = ([input], out)
            case let .combine(_, ins, out): (inputs, output) = (ins, out)
            }
            for s in inputs { start[s] = min(start[s], time) }
            end[output] = max(end[output], time)
        }
        return (0..<slotCount).map { s in
            // a gradient nobody writes still gets a (never used) buffer: keep its interval valid
            let e = end[s] == Int.min ? max(start[s], 0) : end[s]
            return (min(start[s], e), e)
        }
    }
}
