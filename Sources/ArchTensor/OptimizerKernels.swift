import Foundation

/// The per-element updates of torch.optim's SGD, Adam/AdamW and RMSprop (the `for_each`-free
/// single-tensor forms, the same operations in the same order, so the same bits as the scalar
/// loops they replace), split across threads in contiguous chunks. Every element's update reads
/// only that element, so the result is the same for any thread count.
///
/// Measured here: Swin-T (28M parameters) at batch 8 spent about 30 % of a training step in a
/// one-thread optimizer loop and the gradient zeroing before it, time no op's profile showed.
public enum OptimizerKernel {
    /// SGD with momentum `mu` (dampening 0) and L2 decay `wd`: `d = g + wd p`;
    /// `m = d` on the first step, else `mu m + d`; `p -= lr (nesterov ? d + mu m : m)`
    /// (`mu` 0: `p -= lr d`, `m` untouched).
    // p, g, m: [count]
    public static func sgd(p: Tensor, g: Tensor, m: Tensor, lr: Float, weightDecay wd: Float, momentum mu: Float, nesterov: Bool,
                           firstStep: Bool, parallel: Parallelism) {
        Elementwise.chunks(p.count, parallel) { r in
            let p = p.base, g = g.base, m = m.base
            if mu == 0 {
                for i in r { p[i] -= lr * (g[i] + wd * p[i]) }
            } else if firstStep {
                for i in r { let d = g[i] + wd * p[i]; m[i] = d; p[i] -= lr * (nesterov ? d + mu * d : d) }
            } else if nesterov {
                for i in r { let d = g[i] + wd * p[i]; m[i] = mu * m[i] + d; p[i] -= lr * (d + mu * m[i]) }
            } else {
                for i in r { let d = g[i] + wd * p[i]; m[i] = mu * m[i] + d; p[i] -= lr * m[i] }
            }
        }
    }

    /// Adam (`decoupled` false: L2 decay added to the gradient) or AdamW (`decoupled`: `p *= 1 - lr wd`
    /// first): `m = b1 m + (1 - b1) d`, `v = b2 v + (1 - b2) d d`,
    /// `p -= stepSize m / (sqrt(v) / correction2 + eps)`, where `stepSize = lr / (1 - b1^t)` and
    /// `correction2 = sqrt(1 - b2^t)`.
    // p, g, m, v: [count]
    public static func adam(p: Tensor, g: Tensor, m: Tensor, v: Tensor, lr: Float, weightDecay wd: Float, decoupled: Bool,
                            beta1 b1: Float, beta2 b2: Float, eps: Float, stepSize: Float, correction2: Float, parallel: Parallelism) {
        Elementwise.chunks(p.count, parallel) { r in
            let p = p.base, g = g.base, m = m.base, v = v.base
            if decoupled {
                let shrink = 1 - lr * wd
                for i in r {
                    p[i] *= shrink
                    let d = g[i]
                    m[i] = b1 * m[i] + (1 - b1) * d
                    v[i] = b2 * v[i] + (1 - b2) * d * d
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2 + eps)
                }
            } else {
                for i in r {
                    let d = g[i] + wd * p[i]
                    m[i] = b1 * m[i] + (1 - b1) * d
                    v[i] = b2 * v[i] + (1 - b2) * d * d
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2 + eps)
                }
            }
        }
    }

    /// RMSprop (centered off): `d = g + wd p`, `square = alpha square + (1 - alpha) d d`,
    /// `avg = sqrt(square) + eps`; with momentum `buffer = mu buffer + d / avg`, `p -= lr buffer`,
    /// else `p -= lr d / avg`.
    // p, g, square, buffer: [count]
    public static func rmsprop(p: Tensor, g: Tensor, square: Tensor, buffer: Tensor, lr: Float, weightDecay wd: Float, alpha a: Float,
                               eps: Float, momentum mu: Float, parallel: Parallelism) {
        Elementwise.chunks(p.count, parallel) { r in
            let p = p.base, g = g.base, s = square.base, b = buffer.base
            for i in r {
                let d = g[i] + wd * p[i]
                s[i] = a * s[i] + (1 - a) * d * d
                let avg = s[i].squareRoot() + eps
                if mu > 0 { b[i] = mu * b[i] + d / avg; p[i] -= lr * b[i] } else { p[i] -= lr * d / avg }
            }
        }
    }

    /// Sets every element of `tensors` to zero, each tensor split across threads (gradients before
    /// a step).
    public static func zero(_ tensors: some Sequence<Tensor>, parallel: Parallelism) {
        for t in tensors {
            Elementwise.chunks(t.count, parallel) { r in (t.base + r.lowerBound).update(repeating: 0, count: r.count) }
        }
    }
}
