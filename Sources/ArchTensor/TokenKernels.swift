/// The sequence operations of a vision transformer on channels-first tokens (one sample `[D, T]`):
/// prepending the class token, adding the learned position embedding (stored as PyTorch keeps it,
/// `[1, T, D]`), and taking one token out for the head.
public enum TokenKernel {
    // x: [N, D, T] -> y: [N, D, T + 1], token: [D] first
    public static func prepend(x: Tensor, token: Tensor, y: Tensor) {
        let n = x.shape[0], dim = token.count, tokens = x.count / (n * dim)
        for s in 0..<n {
            for c in 0..<dim {
                let dst = y.base + (s * dim + c) * (tokens + 1)
                dst[0] = token.base[c]
                (dst + 1).update(from: x.base + (s * dim + c) * tokens, count: tokens)
            }
        }
    }

    /// dToken accumulates (+=); dx is written or, with `accumulate`, added to.
    public static func prependBackward(dy: Tensor, dx: Tensor?, dToken: Tensor, accumulate: Bool) {
        let n = dy.shape[0], dim = dToken.count, tokens = dy.count / (n * dim) - 1
        for s in 0..<n {
            for c in 0..<dim {
                let src = dy.base + (s * dim + c) * (tokens + 1)
                dToken.base[c] += src[0]
                guard let dx else { continue }
                let dst = dx.base + (s * dim + c) * tokens
                for t in 0..<tokens { dst[t] = accumulate ? dst[t] + src[t + 1] : src[t + 1] }
            }
        }
    }

    // y[d, t] = x[d, t] + positions[t * D + d]; x, y: [N, D, T]
    public static func addPositions(x: Tensor, positions: Tensor, y: Tensor, dim: Int) {
        let n = x.shape[0], tokens = x.count / (n * dim)
        for s in 0..<n {
            for c in 0..<dim {
                let src = x.base + (s * dim + c) * tokens, dst = y.base + (s * dim + c) * tokens
                for t in 0..<tokens { dst[t] = src[t] + positions.base[t * dim + c] }
            }
        }
    }

    /// dPositions accumulates (+=); dx is written or, with `accumulate`, added to.
    public static func addPositionsBackward(dy: Tensor, dx: Tensor?, dPositions: Tensor, dim: Int, accumulate: Bool) {
        let n = dy.shape[0], tokens = dy.count / (n * dim)
        for s in 0..<n {
            for c in 0..<dim {
                let src = dy.base + (s * dim + c) * tokens
                for t in 0..<tokens { dPositions.base[t * dim + c] += src[t] }
                guard let dx else { continue }
                let dst = dx.base + (s * dim + c) * tokens
                for t in 0..<tokens { dst[t] = accumulate ? dst[t] + src[t] : src[t] }
            }
        }
    }

    // x: [N, D, T] -> y: [N, D], token `index` of every sample
    public static func take(x: Tensor, index: Int, y: Tensor, dim: Int) {
        let n = x.shape[0], tokens = x.count / (n * dim)
        for s in 0..<n { for c in 0..<dim { y.base[s * dim + c] = x.base[(s * dim + c) * tokens + index] } }
    }

    /// dx is written (zeros but at `index`) or, with `accumulate`, added to.
    public static func takeBackward(dy: Tensor, dx: Tensor, index: Int, dim: Int, accumulate: Bool) {
        let n = dx.shape[0], tokens = dx.count / (n * dim)
        if !accumulate { dx.zero() }
        for s in 0..<n { for c in 0..<dim { dx.base[(s * dim + c) * tokens + index] += dy.base[s * dim + c] } }
    }
}
