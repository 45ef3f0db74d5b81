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
        var capacities: [Int] = []
        var assignment = [Int?](repeating: nil, count: members.count)
        var active: [(buffer: Int, end: Int)] = []
        var free: [Int] = []
        let order = members.indices.filter { !pinned.contains($0) && start[$0] != Int.max }.sorted { (start[$0], end[$0], $0) < (start[$1], end[$1], $1) }
        for group in order {
            free += active.filter { $0.end < start[group] }.map(\.buffer)
            active.removeAll { $0.end < start[group] }
            let need = members[group].map { slots[$0].capacity }.max() ?? 1
            let chosen: Int
            if let best = free.filter({ capacities[$0] >= need }).min(by: { capacities[$0] < capacities[$1] }) {
                chosen = best
            } else if let largest = free.max(by: { capacities[$0] < capacities[$1] }) {
                chosen = largest
                capacities[largest] = need
            } else {
                chosen = capacities.count
                capacities.append(need)
            }
            free.removeAll { $0 == chosen }
            active.append((chosen, end[group]))
            assignment[group] = chosen
        }
        let buffers = capacities.map { Tensor(shape: [$0]) }
        return slots.indices.map { s in
            guard let b = assignment[groupOf[s]] else { return slots[s] }
            return Tensor(sharing: buffers[b], shape: slots[s].shape)
        }
    }
}
