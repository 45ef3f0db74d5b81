import ArchTensor

/// Shares memory between the activations of an evaluation plan that are never needed at once, as
/// PyTorch frees activations under `no_grad`: a slot is live from the step that writes it to the
/// last step that reads it, and slots whose lifetimes do not overlap share one buffer (greedy
/// interval colouring, best fit by size, as `GradientBuffers` does for a training plan's
/// gradients). Slots that already share memory (an in-place ReLU or residual add and its operand)
/// move together. The network input and the outputs (`keeping`) keep their own buffers. A
/// training plan keeps every activation: backward reads them.
enum ActivationBuffers {
    static func plan(slots: [Tensor], steps: [(step: ExecutionPlan.Step, trainingOnly: Bool)], keeping: [Int]) -> [Tensor] {
        // groups of slots on one buffer already (in-place ops), by their memory
        var groupOf = [Int](repeating: -1, count: slots.count)
        var members: [[Int]] = []
        for s in slots.indices {
            if let g = members.firstIndex(where: { slots[$0[0]].sharesMemory(with: slots[s]) }) {
                groupOf[s] = g
                members[g].append(s)
            } else {
                groupOf[s] = members.count
                members.append([s])
            }
        }
        var start = [Int](repeating: Int.max, count: members.count), end = [Int](repeating: Int.min, count: members.count)
        var pinned = Set<Int>([groupOf[0]] + keeping.map { groupOf[$0] })
        for (i, entry) in steps.enumerated() {
            let (inputs, output): ([Int], Int)
            switch entry.step {
            case let .layer(_, input, out, _, _): (inputs, output) = ([input], out)
            case let .combine(_, ins, out): (inputs, output) = (ins, out)
            }
            // steps that do not run in evaluation (aux heads) keep their buffers to themselves
            if entry.trainingOnly { pinned.insert(groupOf[output]); continue }
            for s in inputs { start[groupOf[s]] = min(start[groupOf[s]], i); end[groupOf[s]] = max(end[groupOf[s]], i) }
            start[groupOf[output]] = min(start[groupOf[output]], i)
            end[groupOf[output]] = max(end[groupOf[output]], i)
        }
        let (assignment, buffers) = BufferColouring.colour(members.indices.map { group in
            pinned.contains(group) || start[group] == Int.max ? nil : (start[group], end[group], members[group].map { slots[$0].capacity }.max() ?? 1)
        })
        return slots.indices.map { s in
            guard let b = assignment[groupOf[s]] else { return slots[s] }
            return Tensor(sharing: buffers[b], shape: slots[s].shape)
        }
    }
}
