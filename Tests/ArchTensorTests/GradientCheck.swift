import ArchTensor

/// Random tensors and a central-difference gradient check.
///
/// The kernels compute in float32; the check projects the output on a random tensor r,
/// L = sum(y * r), accumulates L in Double, and compares the backward's gradient with
/// (L(x + eps) - L(x - eps)) / (2 eps) on sampled elements: |analytic - numeric| <= atol + rtol * |numeric|.
func randomTensor(_ shape: [Int], _ random: inout RandomSource, scale: Float = 1) -> Tensor {
    let t = Tensor(shape: shape)
    t.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = random.uniform(-scale, scale) } }
    return t
}

func projection(_ y: Tensor, _ r: Tensor) -> Double {
    var sum = 0.0
    for i in 0..<y.count { sum += Double(y[i]) * Double(r[i]) }
    return sum
}

struct GradientMismatch: CustomStringConvertible {
    var tensor: Int, index: Int, analytic: Double, numeric: Double
    var description: String { "tensor \(tensor)[\(index)]: analytic \(analytic), numeric \(numeric)" }
}

/// `forward()` recomputes the output from the current inputs; `backward(dy)` returns the analytic
/// gradients of `inputs` (same order) for output gradient dy.
func checkGradients(inputs: [Tensor], output: Tensor, eps: Float = 1e-2, rtol: Double = 2e-2, atol: Double = 2e-3,
                    samples: Int = 24, seed: UInt64 = 7,
                    forward: () -> Void, backward: (Tensor) -> [Tensor]) -> [GradientMismatch] {
    var random = RandomSource(seed: seed)
    forward()
    let r = randomTensor(output.shape, &random)
    let grads = backward(r)
    var mismatches: [GradientMismatch] = []
    for (t, input) in inputs.enumerated() {
        let picks = input.count <= samples ? Array(0..<input.count) : (0..<samples).map { _ in Int(random.next() % UInt64(input.count)) }
        for i in picks {
            let original = input[i]
            input[i] = original + eps; forward(); let plus = projection(output, r)
            input[i] = original - eps; forward(); let minus = projection(output, r)
            input[i] = original
            let numeric = (plus - minus) / (2 * Double(eps))
            let analytic = Double(grads[t][i])
            if abs(analytic - numeric) > atol + rtol * abs(numeric) {
                mismatches.append(GradientMismatch(tensor: t, index: i, analytic: analytic, numeric: numeric))
            }
        }
    }
    forward()
    return mismatches
}
