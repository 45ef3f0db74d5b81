import ArchTensor
import Testing

/// Self-attention (a vision transformer's, and Swin's in shifted windows), Swin's tables and patch
/// merging, and the token operations: the forward against a Double reference, every
/// gradient by central differences, with one and two threads.
@Suite struct AttentionKernelTests {
    /// A vision transformer's sequence (5 tokens; and 13, past one eight-lane vector of the
    /// softmax), and Swin's shifted windows with their bias and mask.
    enum Geometry: String, CaseIterable, Sendable {
        case sequence, longSequence, windows

        var shape: (height: Int, width: Int) {
            switch self { case .sequence: (1, 5); case .longSequence: (1, 13); case .windows: (4, 6) }
        }
        var layout: TokenLayout {
            switch self {
            case .sequence: .sequence(tokens: 5)
            case .longSequence: .sequence(tokens: 13)
            case .windows: .windows(height: 4, width: 6, window: 2, rowShift: 1, columnShift: 1)
            }
        }
        var mask: [Float] { self == .windows ? SwinWindows.shiftMask(height: 4, width: 6, window: 2, rowShift: 1, columnShift: 1) : [] }
    }

    static func attention(dim: Int, heads: Int, batch: Int, geometry: Geometry, seed: UInt64)
        -> (x: Tensor, tensors: AttentionTensors, bias: Tensor?, mask: Tensor?) {
        var random = RandomSource(seed: seed)
        let (h, w) = geometry.shape, t = geometry.layout.tokens
        let x = randomTensor([batch, dim, h, w], &random)
        let tensors = AttentionTensors(qkvWeight: randomTensor([3 * dim, dim], &random, scale: 0.7), qkvBias: randomTensor([3 * dim], &random, scale: 0.3),
                                       projWeight: randomTensor([dim, dim], &random, scale: 0.7), projBias: randomTensor([dim], &random, scale: 0.3))
        guard geometry == .windows else { return (x, tensors, nil, nil) }
        let mask = geometry.mask
        return (x, tensors, randomTensor([heads, t, t], &random, scale: 0.5), Tensor(shape: [mask.count], values: mask))
    }

    @Test(arguments: [(6, 2, 1), (8, 4, 2), (6, 3, 1)], Geometry.allCases)
    func forwardMatchesTheDoubleReference(shape: (dim: Int, heads: Int, threads: Int), geometry: Geometry) {
        let (dim, heads, threads) = shape, batch = 3, layout = geometry.layout
        let (x, w, bias, mask) = Self.attention(dim: dim, heads: heads, batch: batch, geometry: geometry, seed: 21)
        let y = Tensor(shape: x.shape), buffers = AttentionKernel.Buffers(batch: batch, dim: dim, heads: heads, layout: layout)
        AttentionKernel.forward(x: x, y: y, tensors: w, heads: heads, layout: layout, scoreBias: bias, mask: mask, buffers: buffers,
                                parallel: Parallelism(threads: threads))
        func doubles(_ t: Tensor) -> [Double] { t.values.map(Double.init) }
        var worst = 0.0
        let perSample = dim * layout.positions
        for s in 0..<batch {
            let sample = Array(doubles(x)[(s * perSample)..<((s + 1) * perSample)])
            let expected = AttentionKernel.naiveForward(x: sample, dim: dim, heads: heads, layout: layout, qkvWeight: doubles(w.qkvWeight),
                                                        qkvBias: doubles(w.qkvBias), projWeight: doubles(w.projWeight),
                                                        projBias: doubles(w.projBias), scoreBias: bias.map(doubles), mask: mask.map(doubles))
            for (i, e) in expected.enumerated() { worst = max(worst, abs(Double(y[s * perSample + i]) - e) / max(1, abs(e))) }
        }
        #expect(worst < 2e-6, "worst relative error \(worst)")
    }

    @Test(arguments: [1, 2], Geometry.allCases)
    func gradientsMatchCentralDifferences(threads: Int, geometry: Geometry) {
        let (dim, heads, batch) = (6, 2, 2), layout = geometry.layout
        let (x, w, bias, mask) = Self.attention(dim: dim, heads: heads, batch: batch, geometry: geometry, seed: 22)
        let y = Tensor(shape: x.shape), buffers = AttentionKernel.Buffers(batch: batch, dim: dim, heads: heads, layout: layout)
        let parallel = Parallelism(threads: threads)
        let inputs = [x, w.qkvWeight, w.qkvBias, w.projWeight, w.projBias] + (bias.map { [$0] } ?? [])
        let mismatches = checkGradients(inputs: inputs, output: y, eps: 1e-2, rtol: 2e-2, atol: 2e-3, samples: 30,
            forward: {
                AttentionKernel.forward(x: x, y: y, tensors: w, heads: heads, layout: layout, scoreBias: bias, mask: mask, buffers: buffers,
                                        parallel: parallel)
            },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dBias = bias.map { Tensor(shape: $0.shape) }
                let g = AttentionTensors(qkvWeight: Tensor(shape: w.qkvWeight.shape), qkvBias: Tensor(shape: w.qkvBias.shape),
                                         projWeight: Tensor(shape: w.projWeight.shape), projBias: Tensor(shape: w.projBias.shape))
                AttentionKernel.backward(x: x, dy: dy, dx: dx, tensors: w, gradients: g, dScoreBias: dBias, heads: heads, layout: layout,
                                         buffers: buffers, accumulate: false, parallel: parallel)
                return [dx, g.qkvWeight, g.qkvBias, g.projWeight, g.projBias] + (dBias.map { [$0] } ?? [])
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// torchvision's tables, printed by PyTorch for a 2x2 window (and a 4x4 map shifted by 1).
    @Test func swinTablesMatchTorchvision() {
        #expect(SwinWindows.relativePositionIndex(window: 2) == [4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4])
        let masked = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0,
                      0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]
        #expect(SwinWindows.shiftMask(height: 4, width: 4, window: 2, rowShift: 1, columnShift: 1) == masked.map { Float(-100 * $0) })
        // torch.roll(x, (-1, -1)): the first window's first token reads position (1, 1)
        let layout = TokenLayout.windows(height: 4, width: 4, window: 2, rowShift: 1, columnShift: 1)
        #expect(layout.source.prefix(4) == [5, 6, 9, 10] && layout.source.last == 0 && Set(layout.source).count == 16)
    }

    /// The table's gradient is the adjoint of the bias's expansion: ⟨expand(table), g⟩ = ⟨table, fold(g)⟩.
    @Test func biasFoldIsTheExpansionsAdjoint() {
        var random = RandomSource(seed: 24)
        let (window, heads) = (3, 2), index = SwinWindows.relativePositionIndex(window: window), t = window * window
        let table = randomTensor([(2 * window - 1) * (2 * window - 1), heads], &random), g = randomTensor([heads, t, t], &random)
        let bias = Tensor(shape: [heads, t, t]), dTable = Tensor(shape: table.shape)
        SwinWindows.expandBias(table: table, index: index, heads: heads, into: bias)
        SwinWindows.foldBias(gradient: g, index: index, heads: heads, into: dTable)
        let left = zip(bias.values, g.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(table.values, dTable.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) < 1e-4 * max(1, abs(left)))
    }

    @Test(arguments: [(4, 6), (5, 3)])
    func patchMergeMatchesTorchvisionOrderAndGradients(shape: (height: Int, width: Int)) {
        var random = RandomSource(seed: 25)
        let (h, w, c, batch) = (shape.height, shape.width, 3, 2)
        let x = randomTensor([batch, c, h, w], &random), y = Tensor(shape: [batch, 4 * c, (h + 1) / 2, (w + 1) / 2])
        let mismatches = checkGradients(inputs: [x], output: y,
            forward: { SwinWindows.mergePatches(x: x, y: y, channels: c, height: h, width: w, parallel: Parallelism(threads: 2)) },
            backward: { dy in
                let dx = Tensor(shape: x.shape)
                SwinWindows.mergePatchesBackward(dy: dy, dx: dx, channels: c, height: h, width: w, accumulate: false)
                return [dx]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
        // group 1 is x[1::2, 0::2] (odd rows, even columns), group 2 x[0::2, 1::2]
        let ow = (w + 1) / 2
        #expect(y[(1 * c + 0) * ((h + 1) / 2) * ow] == x[1 * w])
        #expect(y[(2 * c + 0) * ((h + 1) / 2) * ow] == x[1])
    }

    @Test func tokenOperationsGradients() {
        var random = RandomSource(seed: 23)
        let (dim, tokens, batch) = (4, 3, 2)
        let x = randomTensor([batch, dim, 1, tokens], &random), token = randomTensor([1, 1, dim], &random)
        let withToken = Tensor(shape: [batch, dim, 1, tokens + 1])
        var mismatches = checkGradients(inputs: [x, token], output: withToken,
            forward: { TokenKernel.prepend(x: x, token: token, y: withToken) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dt = Tensor(shape: token.shape)
                TokenKernel.prependBackward(dy: dy, dx: dx, dToken: dt, accumulate: false)
                return [dx, dt]
            })
        #expect(mismatches.isEmpty, "prepend: \(mismatches.prefix(3))")
        #expect((0..<dim).allSatisfy { c in withToken[c * (tokens + 1)] == token[c] && withToken[c * (tokens + 1) + 1] == x[c * tokens] })
        let positions = randomTensor([1, tokens, dim], &random), shifted = Tensor(shape: x.shape)
        mismatches = checkGradients(inputs: [x, positions], output: shifted,
            forward: { TokenKernel.addPositions(x: x, positions: positions, y: shifted, dim: dim) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dp = Tensor(shape: positions.shape)
                TokenKernel.addPositionsBackward(dy: dy, dx: dx, dPositions: dp, dim: dim, accumulate: false)
                return [dx, dp]
            })
        #expect(mismatches.isEmpty, "positions: \(mismatches.prefix(3))")
        // PyTorch's [1, T, D] layout: token t of channel c adds positions[t * D + c]
        #expect(shifted[1 * tokens + 2] == x[1 * tokens + 2] + positions[2 * dim + 1])
        let taken = Tensor(shape: [batch, dim])
        mismatches = checkGradients(inputs: [x], output: taken,
            forward: { TokenKernel.take(x: x, index: 1, y: taken, dim: dim) },
            backward: { dy in
                let dx = Tensor(shape: x.shape)
                TokenKernel.takeBackward(dy: dy, dx: dx, index: 1, dim: dim, accumulate: false)
                return [dx]
            })
        #expect(mismatches.isEmpty, "take: \(mismatches.prefix(3))")
    }
}
