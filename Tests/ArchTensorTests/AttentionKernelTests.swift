import ArchTensor
import Testing

/// Self-attention and the token operations: the forward against a Double reference, every
/// gradient by central differences, with one and two threads.
@Suite struct AttentionKernelTests {
    static func attention(dim: Int, tokens: Int, heads: Int, batch: Int, seed: UInt64)
        -> (x: Tensor, inWeight: Tensor, inBias: Tensor, outWeight: Tensor, outBias: Tensor) {
        var random = RandomSource(seed: seed)
        return (randomTensor([batch, dim, 1, tokens], &random), randomTensor([3 * dim, dim], &random, scale: 0.7),
                randomTensor([3 * dim], &random, scale: 0.3), randomTensor([dim, dim], &random, scale: 0.7), randomTensor([dim], &random, scale: 0.3))
    }

    @Test(arguments: [(6, 5, 2, 1), (8, 7, 4, 2), (6, 1, 3, 1)])
    func forwardMatchesTheDoubleReference(dim: Int, tokens: Int, heads: Int, threads: Int) {
        let batch = 3
        let (x, wi, bi, wo, bo) = Self.attention(dim: dim, tokens: tokens, heads: heads, batch: batch, seed: 21)
        let y = Tensor(shape: x.shape), buffers = AttentionKernel.Buffers(batch: batch, dim: dim, tokens: tokens, heads: heads)
        AttentionKernel.forward(x: x, y: y, inWeight: wi, inBias: bi, outWeight: wo, outBias: bo, heads: heads, buffers: buffers,
                                parallel: Parallelism(threads: threads))
        func doubles(_ t: Tensor) -> [Double] { t.values.map(Double.init) }
        var worst = 0.0
        for s in 0..<batch {
            let sample = Array(doubles(x)[(s * dim * tokens)..<((s + 1) * dim * tokens)])
            let expected = AttentionKernel.naiveForward(x: sample, dim: dim, tokens: tokens, heads: heads, inWeight: doubles(wi),
                                                        inBias: doubles(bi), outWeight: doubles(wo), outBias: doubles(bo))
            for (i, e) in expected.enumerated() { worst = max(worst, abs(Double(y[s * dim * tokens + i]) - e) / max(1, abs(e))) }
        }
        #expect(worst < 2e-6, "worst relative error \(worst)")
    }

    @Test(arguments: [1, 2])
    func gradientsMatchCentralDifferences(threads: Int) {
        let (dim, tokens, heads, batch) = (6, 5, 2, 2)
        let (x, wi, bi, wo, bo) = Self.attention(dim: dim, tokens: tokens, heads: heads, batch: batch, seed: 22)
        let y = Tensor(shape: x.shape), buffers = AttentionKernel.Buffers(batch: batch, dim: dim, tokens: tokens, heads: heads)
        let parallel = Parallelism(threads: threads)
        let mismatches = checkGradients(inputs: [x, wi, bi, wo, bo], output: y, eps: 1e-2, rtol: 2e-2, atol: 2e-3, samples: 30,
            forward: {
                AttentionKernel.forward(x: x, y: y, inWeight: wi, inBias: bi, outWeight: wo, outBias: bo, heads: heads, buffers: buffers,
                                        parallel: parallel)
            },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dwi = Tensor(shape: wi.shape), dbi = Tensor(shape: bi.shape)
                let dwo = Tensor(shape: wo.shape), dbo = Tensor(shape: bo.shape)
                AttentionKernel.backward(x: x, dy: dy, dx: dx, inWeight: wi, outWeight: wo, dInWeight: dwi, dInBias: dbi, dOutWeight: dwo,
                                         dOutBias: dbo, heads: heads, buffers: buffers, accumulate: false, parallel: parallel)
                return [dx, dwi, dbi, dwo, dbo]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
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
