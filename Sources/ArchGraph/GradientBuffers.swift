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
        let (assignment, buffers) = BufferColouring.colour(slots.indices.map { slot in
            slot == 0 ? nil : (intervals[slot].start, intervals[slot].end, slots[slot].capacity)
        })
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

/// Greedy interval colouring shared by `GradientBuffers` and `ActivationBuffers`: items whose
/// closed intervals [start, end] do not overlap share a buffer; in order of start, each takes the
/// smallest free buffer that fits, else grows the largest free one, else gets a new one.
enum BufferColouring {
    /// Per item (nil: not coloured), the buffer it uses; the buffers, each as large as its largest user.
    static func colour(_ items: [(start: Int, end: Int, need: Int)?]) -> (assignment: [Int?], buffers: [Tensor]) {
        var capacities: [Int] = []
        var assignment = [Int?](repeating: nil, count: items.count)
        var active: [(buffer: Int, end: Int)] = []
        var free: [Int] = []
        let order = items.indices.compactMap { i in items[i].map { (i, $0) } }.sorted { ($0.1.start, $0.1.end, $0.0) < ($1.1.start, $1.1.end, $1.0) }
        for (index, item) in order {
            free += active.filter { $0.end < item.start }.map(\.buffer)
            active.removeAll { $0.end < item.start }
            let chosen: Int
            if let best = free.filter({ capacities[$0] >= item.need }).min(by: { capacities[$0] < capacities[$1] }) {
                chosen = best
            } else if let largest = free.max(by: { capacities[$0] < capacities[$1] }) {
                chosen = largest
                capacities[largest] = item.need
            } else {
                chosen = capacities.count
                capacities.append(item.need)
            }
            free.removeAll { $0 == chosen }
            active.append((chosen, item.end))
            assignment[index] = chosen
        }
        return (assignment, capacities.map { Tensor(shape: [$0]) })
    }
}
