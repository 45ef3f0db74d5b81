@testable import ArchTensor
import Foundation
import Testing

@Suite struct ConvolutionKernelTests {
    /// Random geometries over kernel, stride, padding, dilation and groups, pointwise included.
    static let geometries: [ConvGeometry] = {
        var random = RandomSource(seed: 42)
        var out: [ConvGeometry] = [
            ConvGeometry(inChannels: 6, inHeight: 5, inWidth: 7, outChannels: 4, kernel: (1, 1), stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1),
            ConvGeometry(inChannels: 4, inHeight: 6, inWidth: 6, outChannels: 6, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 2),
            ConvGeometry(inChannels: 3, inHeight: 11, inWidth: 9, outChannels: 5, kernel: (5, 3), stride: (2, 3), padding: (2, 0), dilation: (1, 2), groups: 1),
            // "same" width at stride 1 (the shifted-copy im2col): square, rectangular, kernel wider than the input
            ConvGeometry(inChannels: 3, inHeight: 5, inWidth: 6, outChannels: 4, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
            ConvGeometry(inChannels: 2, inHeight: 7, inWidth: 5, outChannels: 3, kernel: (3, 5), stride: (1, 1), padding: (0, 2), dilation: (1, 1), groups: 1),
            ConvGeometry(inChannels: 2, inHeight: 4, inWidth: 3, outChannels: 2, kernel: (7, 7), stride: (1, 1), padding: (3, 3), dilation: (1, 1), groups: 1),
            ConvGeometry(inChannels: 2, inHeight: 6, inWidth: 6, outChannels: 3, kernel: (5, 5), stride: (1, 1), padding: (2, 2), dilation: (1, 1), groups: 1),
        ]
        while out.count < 20 {
            let groups = [1, 1, 2, 3][Int(random.next() % 4)]
            let k = (Int(random.next() % 5) + 1, Int(random.next() % 5) + 1)
            let s = (Int(random.next() % 3) + 1, Int(random.next() % 3) + 1)
            let p = (Int(random.next() % 3), Int(random.next() % 3))
            let d = (Int(random.next() % 2) + 1, Int(random.next() % 2) + 1)
            let h = Int(random.next() % 9) + 4, w = Int(random.next() % 9) + 4
            let g = ConvGeometry(inChannels: groups * (Int(random.next() % 3) + 1), inHeight: h, inWidth: w,
                                 outChannels: groups * (Int(random.next() % 3) + 1), kernel: k, stride: s, padding: p, dilation: d, groups: groups)
            if g.outHeight >= 1, g.outWidth >= 1 { out.append(g) }
        }
        return out
    }()

    /// Every geometry twice: through the batch-wide GEMM and sample by sample.
    static let bothPaths: [ConvGeometry] = geometries.flatMap { g in
        var perSample = g
        perSample.perSampleMinimumPlane = 0
        return [g, perSample]
    }

    @Test(arguments: bothPaths)
    func fastMatchesNaive(_ g: ConvGeometry) {
        var random = RandomSource(seed: 1)
        let x = randomTensor([2, g.inChannels, g.inHeight, g.inWidth], &random)
        let w = randomTensor([g.outChannels, g.inChannels / g.groups, g.kernel.0, g.kernel.1], &random)
        let b = randomTensor([g.outChannels], &random)
        let fast = Tensor(shape: [2, g.outChannels, g.outHeight, g.outWidth]), slow = Tensor(shape: fast.shape)
        let workspace = Tensor(shape: [g.workspaceCount(batch: 2, threads: 2)])
        Conv2dKernel.forward(x: x, weight: w, bias: b, y: fast, geometry: g, workspace: workspace, parallel: Parallelism(threads: 2))
        Conv2dKernel.naiveForward(x: x, weight: w, bias: b, y: slow, geometry: g)
        for i in 0..<fast.count { #expect(abs(fast[i] - slow[i]) <= 1e-5 + 1e-5 * abs(slow[i])) }
    }

    @Test(arguments: bothPaths)
    func gradients(_ g: ConvGeometry) {
        var random = RandomSource(seed: 2)
        let x = randomTensor([2, g.inChannels, g.inHeight, g.inWidth], &random)
        let w = randomTensor([g.outChannels, g.inChannels / g.groups, g.kernel.0, g.kernel.1], &random)
        let b = randomTensor([g.outChannels], &random)
        let y = Tensor(shape: [2, g.outChannels, g.outHeight, g.outWidth])
        let workspace = Tensor(shape: [g.workspaceCount(batch: 2, threads: 1)])
        let mismatches = checkGradients(inputs: [x, w, b], output: y,
            forward: { Conv2dKernel.forward(x: x, weight: w, bias: b, y: y, geometry: g, workspace: workspace) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
                Conv2dKernel.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: db, geometry: g, workspace: workspace, accumulate: false)
                return [dx, dw, db]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }
}

@Suite struct GEMMTests {
    static let cases = GEMMLibrary.allCases.flatMap { library in
        [(false, false), (true, false), (false, true), (true, true)].map { (library, $0.0, $0.1) }
    }

    @Test(arguments: cases)
    func blasMatchesNaive(library: GEMMLibrary, transA: Bool, transB: Bool) {
        var random = RandomSource(seed: 3)
        let (m, n, k) = (7, 5, 9)
        let a = randomTensor(transA ? [k, m] : [m, k], &random), b = randomTensor(transB ? [n, k] : [k, n], &random)
        let c1 = randomTensor([m, n], &random), c2 = Tensor(shape: [m, n])
        c2.copy(from: c1)
        BLAS.matmul(a, b, into: c1, transA: transA, transB: transB, beta: 0.5, library: library)
        BLAS.matmul(a, b, into: c2, transA: transA, transB: transB, beta: 0.5, naive: true)
        for i in 0..<c1.count { #expect(abs(c1[i] - c2[i]) < 1e-5) }
    }

    /// The product split across threads (column blocks when N >= M, row blocks otherwise, edges
    /// not multiples of the block) equals the naive one.
    @Test(arguments: cases)
    func splitProductMatchesNaive(library: GEMMLibrary, transA: Bool, transB: Bool) {
        var random = RandomSource(seed: 5)
        for (m, n, k) in [(37, 301, 45), (290, 33, 41), (64, 64, 64)] {
            let a = randomTensor(transA ? [k, m] : [m, k], &random), b = randomTensor(transB ? [n, k] : [k, n], &random)
            let c1 = randomTensor([m, n], &random), c2 = Tensor(shape: [m, n])
            c2.copy(from: c1)
            BLAS.matmul(a, b, into: c1, transA: transA, transB: transB, beta: 0.5, parallel: Parallelism(threads: 3), library: library)
            BLAS.matmul(a, b, into: c2, transA: transA, transB: transB, beta: 0.5, naive: true)
            var worst: Float = 0
            for i in 0..<c1.count { worst = max(worst, abs(c1[i] - c2[i])) }
            #expect(worst < 1e-4, "\(m)x\(n)x\(k): \(worst)")
        }
    }

    @Test func linearGradients() {
        var random = RandomSource(seed: 4)
        let x = randomTensor([3, 6], &random), w = randomTensor([4, 6], &random), b = randomTensor([4], &random)
        let y = Tensor(shape: [3, 4]), yNaive = Tensor(shape: [3, 4])
        LinearKernel.forward(x: x, weight: w, bias: b, y: yNaive, naive: true)
        let mismatches = checkGradients(inputs: [x, w, b], output: y,
            forward: { LinearKernel.forward(x: x, weight: w, bias: b, y: y) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
                LinearKernel.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: db, accumulate: false)
                return [dx, dw, db]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
        for i in 0..<y.count { #expect(abs(y[i] - yNaive[i]) < 1e-5) }
    }

    /// With a workspace, a batch smaller than the layer's width goes through the transposed product.
    @Test(arguments: [(3, 40, 17), (40, 3, 17), (16, 300, 257)])
    func linearWithWorkspaceMatchesNaive(batch: Int, outFeatures: Int, inFeatures: Int) {
        var random = RandomSource(seed: 8)
        let x = randomTensor([batch, inFeatures], &random), w = randomTensor([outFeatures, inFeatures], &random)
        let b = randomTensor([outFeatures], &random)
        let y = Tensor(shape: [batch, outFeatures]), yNaive = Tensor(shape: y.shape)
        let workspace = Tensor(shape: [LinearKernel.workspaceCount(batch: batch, outFeatures: outFeatures)])
        LinearKernel.forward(x: x, weight: w, bias: b, y: y, workspace: workspace, parallel: Parallelism(threads: 2))
        LinearKernel.forward(x: x, weight: w, bias: b, y: yNaive, naive: true)
        for i in 0..<y.count { #expect(abs(y[i] - yNaive[i]) < 1e-4) }
    }
}

@Suite struct PoolingKernelTests {
    static let geometries: [PoolGeometry] = [
        PoolGeometry(channels: 2, inHeight: 7, inWidth: 7, kernel: (3, 3), stride: (2, 2), padding: (0, 0), ceilMode: true),
        PoolGeometry(channels: 2, inHeight: 8, inWidth: 6, kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: false),
        PoolGeometry(channels: 3, inHeight: 9, inWidth: 9, kernel: (5, 5), stride: (3, 3), padding: (0, 0), ceilMode: false),
        PoolGeometry(channels: 1, inHeight: 6, inWidth: 5, kernel: (2, 3), stride: (2, 1), padding: (1, 1), ceilMode: true),
        PoolGeometry(channels: 2, inHeight: 5, inWidth: 5, kernel: (3, 3), stride: (1, 1), padding: (1, 1), ceilMode: true),
    ]

    @Test(arguments: geometries)
    func maxPoolGradients(_ g: PoolGeometry) {
        var random = RandomSource(seed: 5)
        let x = randomTensor([2, g.channels, g.inHeight, g.inWidth], &random)
        let y = Tensor(shape: [2, g.channels, g.outHeight, g.outWidth])
        let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: y.count)
        defer { argmax.deallocate() }
        let mismatches = checkGradients(inputs: [x], output: y, eps: 1e-3,
            forward: { MaxPoolKernel.forward(x: x, y: y, argmax: argmax, geometry: g, parallel: .serial) },
            backward: { dy in
                let dx = Tensor(shape: x.shape)
                MaxPoolKernel.backward(dy: dy, dx: dx, argmax: argmax, geometry: g, accumulate: false, parallel: .serial)
                return [dx]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// The row-vectorized max pool equals the window-by-window reference on random geometries,
    /// with ties (few distinct values), NaN and -inf: same values, same argmax.
    @Test func maxPoolMatchesReference() {
        var random = RandomSource(seed: 41)
        for trial in 0..<300 {
            let k = (1 + Int(random.next() % 5), 1 + Int(random.next() % 5))
            let stride = (1 + Int(random.next() % 3), 1 + Int(random.next() % 3))
            let padding = (Int(random.next() % UInt64(k.0 / 2 + 1)), Int(random.next() % UInt64(k.1 / 2 + 1)))
            let h = k.0 + Int(random.next() % 9), w = k.1 + Int(random.next() % 9)
            let g = PoolGeometry(channels: 2, inHeight: h, inWidth: w, kernel: k, stride: stride, padding: padding,
                                 ceilMode: random.next() % 2 == 0)
            let x = Tensor(shape: [2, 2, h, w])
            for i in 0..<x.count {
                let r = random.next() % 40
                x[i] = r == 0 ? .nan : r == 1 ? -.infinity : Float(Int(r % 4) - 2)
            }
            let fast = Tensor(shape: [2, 2, g.outHeight, g.outWidth]), slow = Tensor(shape: fast.shape)
            let a1 = UnsafeMutablePointer<Int32>.allocate(capacity: fast.count), a2 = UnsafeMutablePointer<Int32>.allocate(capacity: fast.count)
            defer { a1.deallocate(); a2.deallocate() }
            MaxPoolKernel.forward(x: x, y: fast, argmax: a1, geometry: g, parallel: Parallelism(threads: 2))
            MaxPoolKernel.naiveForward(x: x, y: slow, argmax: a2, geometry: g)
            for i in 0..<fast.count {
                let same = fast[i] == slow[i] || (fast[i].isNaN && slow[i].isNaN)
                guard same, a1[i] == a2[i] else {
                    Issue.record("trial \(trial) \(g.kernel) \(g.stride) \(g.padding) ceil \(g.ceilMode) \(h)x\(w) at \(i): \(fast[i])@\(a1[i]) vs \(slow[i])@\(a2[i])")
                    return
                }
            }
        }
    }

    @Test(arguments: geometries.flatMap { g in [(g, true), (g, false)] })
    func avgPoolGradients(_ g: PoolGeometry, countIncludePad: Bool) {
        var random = RandomSource(seed: 6)
        let x = randomTensor([2, g.channels, g.inHeight, g.inWidth], &random)
        let y = Tensor(shape: [2, g.channels, g.outHeight, g.outWidth])
        let mismatches = checkGradients(inputs: [x], output: y,
            forward: { AvgPoolKernel.forward(x: x, y: y, geometry: g, countIncludePad: countIncludePad, parallel: .serial) },
            backward: { dy in
                let dx = Tensor(shape: x.shape)
                AvgPoolKernel.backward(dy: dy, dx: dx, geometry: g, countIncludePad: countIncludePad, accumulate: false, parallel: .serial)
                return [dx]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// PyTorch: avg_pool2d(ones(1,1,5,5), 3, stride 2, padding 1, ceil_mode=True) corner values.
    @Test func avgPoolDivisorRule() {
        let g = PoolGeometry(channels: 1, inHeight: 5, inWidth: 5, kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true)
        let x = Tensor(shape: [1, 1, 5, 5]); x.fill(1)
        let y = Tensor(shape: [1, 1, g.outHeight, g.outWidth])
        AvgPoolKernel.forward(x: x, y: y, geometry: g, countIncludePad: true, parallel: .serial)
        #expect(g.outHeight == 3)
        #expect(abs(y[0] - 4.0 / 9.0) < 1e-6)   // corner window: 2x2 real values over 3x3 with padding
        #expect(abs(y[4] - 1) < 1e-6)
        AvgPoolKernel.forward(x: x, y: y, geometry: g, countIncludePad: false, parallel: .serial)
        #expect(abs(y[0] - 1) < 1e-6)
    }

    @Test(arguments: [(7, 7, 1, 1), (5, 7, 2, 3), (2, 2, 7, 7), (3, 5, 4, 4)])
    func adaptiveAvgPoolGradients(h: Int, w: Int, oh: Int, ow: Int) {
        var random = RandomSource(seed: 7)
        let x = randomTensor([2, 3, h, w], &random)
        let y = Tensor(shape: [2, 3, oh, ow])
        let mismatches = checkGradients(inputs: [x], output: y,
            forward: { AdaptiveAvgPoolKernel.forward(x: x, y: y, outHeight: oh, outWidth: ow, parallel: .serial) },
            backward: { dy in
                let dx = Tensor(shape: x.shape)
                AdaptiveAvgPoolKernel.backward(dy: dy, dx: dx, accumulate: false, parallel: .serial)
                return [dx]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }
}

@Suite struct NormalizationKernelTests {
    @Test(arguments: [1, 2])
    func batchNormTrainingGradients(threads: Int) {
        var random = RandomSource(seed: 8)
        let x = randomTensor([3, 4, 3, 2], &random), gamma = randomTensor([4], &random), beta = randomTensor([4], &random)
        let rm = Tensor(shape: [4]), rv = Tensor(shape: [4]), mean = Tensor(shape: [4]), invStd = Tensor(shape: [4])
        let y = Tensor(shape: x.shape)
        let parallel = Parallelism(threads: threads)
        let mismatches = checkGradients(inputs: [x, gamma, beta], output: y, eps: 1e-3, rtol: 3e-2, atol: 3e-3,
            forward: { BatchNormKernel.forwardTraining(x: x, y: y, gamma: gamma, beta: beta, runningMean: rm, runningVar: rv,
                                                       saveMean: mean, saveInvStd: invStd, eps: 1e-5, momentum: 0.1, parallel: parallel) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dg = Tensor(shape: [4]), db = Tensor(shape: [4])
                BatchNormKernel.backwardTraining(x: x, dy: dy, dx: dx, gamma: gamma, dGamma: dg, dBeta: db, saveMean: mean,
                                                 saveInvStd: invStd, accumulate: false, parallel: parallel)
                return [dx, dg, db]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    @Test func batchNormRunningStatisticsUseUnbiasedVariance() {
        let x = Tensor(shape: [2, 1, 1, 2], values: [1, 2, 3, 6])
        let y = Tensor(shape: x.shape), rm = Tensor(shape: [1]), rv = Tensor(shape: [1], values: [1])
        let mean = Tensor(shape: [1]), invStd = Tensor(shape: [1])
        BatchNormKernel.forwardTraining(x: x, y: y, gamma: nil, beta: nil, runningMean: rm, runningVar: rv, saveMean: mean,
                                        saveInvStd: invStd, eps: 1e-5, momentum: 0.1, parallel: .serial)
        // mean 3, biased variance 3.5, unbiased 14/3
        #expect(abs(rm[0] - 0.3) < 1e-6)
        #expect(abs(rv[0] - (0.9 + 0.1 * 14.0 / 3.0)) < 1e-6)
        #expect(abs(y[0] - Float(-2 / (3.5 + 1e-5).squareRoot())) < 1e-5)
    }

    @Test(arguments: [(5, Float(1e-4), Float(0.75), Float(2)), (3, 0.5, 0.5, 1), (4, 0.3, 0.9, 1.5)])
    func lrnGradients(size: Int, alpha: Float, beta: Float, k: Float) {
        var random = RandomSource(seed: 9)
        let x = randomTensor([2, 6, 3, 3], &random, scale: 2)
        let y = Tensor(shape: x.shape), scale = Tensor(shape: x.shape)
        let mismatches = checkGradients(inputs: [x], output: y, eps: 1e-3,
            forward: { LRNKernel.forward(x: x, y: y, scale: scale, size: size, alpha: alpha, beta: beta, k: k, parallel: .serial) },
            backward: { dy in
                let dx = Tensor(shape: x.shape)
                LRNKernel.backward(x: x, y: y, scale: scale, dy: dy, dx: dx, size: size, alpha: alpha, beta: beta, accumulate: false, parallel: .serial)
                return [dx]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }
}

@Suite struct ElementwiseKernelTests {
    @Test func reluGradients() {
        var random = RandomSource(seed: 10)
        let x = randomTensor([4, 5], &random), y = Tensor(shape: [4, 5])
        let mismatches = checkGradients(inputs: [x], output: y, eps: 1e-3,
            forward: { Elementwise.reluForward(x: x, y: y) },
            backward: { dy in let dx = Tensor(shape: x.shape); Elementwise.reluBackward(y: y, dy: dy, dx: dx, accumulate: false); return [dx] })
        #expect(mismatches.isEmpty)
    }

    /// Every pointwise activation's backward against central differences, at points away from its
    /// kinks (ReLU6 at 0 and 6, the hard functions at -3 and 3), over [-8, 8].
    @Test(arguments: ["relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu"])
    func activationGradients(name: String) {
        func check<F: PointwiseFunction>(_ f: F.Type) {
            var random = RandomSource(seed: 12)
            let x = randomTensor([3, 40], &random, scale: 8)
            for i in 0..<x.count where [-3, 0, 3, 6].contains(where: { abs(x[i] - $0) < 0.05 }) { x[i] += 0.1 }
            let y = Tensor(shape: x.shape)
            let mismatches = checkGradients(inputs: [x], output: y, eps: 1e-2, rtol: 1e-2, atol: 1e-3, samples: 120,
                forward: { PointwiseKernel.forward(F.self, x: x, y: y) },
                backward: { dy in let dx = Tensor(shape: x.shape); PointwiseKernel.backward(F.self, x: x, y: y, dy: dy, dx: dx, accumulate: false); return [dx] })
            #expect(mismatches.isEmpty, "\(name): \(mismatches.prefix(3))")
        }
        switch name {
        case "relu6": check(ReLU6Function.self)
        case "hardswish": check(HardswishFunction.self)
        case "hardsigmoid": check(HardsigmoidFunction.self)
        case "sigmoid": check(SigmoidFunction.self)
        case "silu": check(SiLUFunction.self)
        default: check(GELUFunction.self)
        }
    }

    /// GELU against erf in Double, relative to the value: within 1e-6 + x² · 1.5e-7 for every
    /// normal result (rounding x² in the exponent costs any float32 GELU that much), the far
    /// negative tail included, where 1 + erf would lose every digit (PyTorch 2.13's float32 GELU
    /// is 4 % off at x = -5 and gives 0 at x = -6). The derivative within 5e-7 absolute, and the
    /// vector exp against Double's over its whole range.
    @Test func geluAndExpMatchDoubleReferences() {
        var worstGELU = 0.0, worstDerivative = 0.0
        for i in -2800...2800 {
            let x = Float(i) / 200, xd = Double(x)
            let phi = 0.5 * erfc(-xd / 2.0.squareRoot()), expected = xd * phi
            let y = GELUFunction.value(x)
            if abs(expected) >= Double(Float.leastNormalMagnitude) * 4 {
                worstGELU = max(worstGELU, abs(Double(y) - expected) / abs(expected) / (1e-6 + xd * xd * 1.5e-7))
            }
            let slope = phi + xd * Foundation.exp(-xd * xd / 2) / (2 * Double.pi).squareRoot()
            if abs(x) <= 5 { worstDerivative = max(worstDerivative, abs(Double(GELUFunction.derivative(x, y)) - slope)) }
        }
        #expect(worstGELU <= 1, "GELU: worst relative error \(worstGELU) of its bound")
        #expect(worstDerivative < 5e-7, "GELU derivative: worst absolute error \(worstDerivative)")
        var worstExp = 0.0
        for i in -8730...8837 {
            let x = Float(i) / 100
            let got = Vector.exp(SIMD8<Float>(repeating: x))[0], expected = Foundation.exp(Double(x))
            worstExp = max(worstExp, abs(Double(got) - expected) / expected)
        }
        #expect(worstExp < 3e-7, "exp: worst relative error \(worstExp)")
        #expect(Vector.exp(SIMD8<Float>(repeating: -100))[0] == 0, "no subnormal results")
    }

    /// Values and kink choices as PyTorch 2.13 computes them (torch.nn.functional at these points).
    @Test func activationValuesAndKinksFollowPyTorch() {
        #expect(ReLU6Function.derivative(0, 0) == 0 && ReLU6Function.derivative(6, 6) == 0 && ReLU6Function.value(7) == 6)
        #expect(HardswishFunction.derivative(-3, 0) == -0.5 && HardswishFunction.derivative(3, 3) == 1.5 && HardswishFunction.value(1) == Float(4.0 / 6.0))
        #expect(HardsigmoidFunction.derivative(3, 1) == 0 && HardsigmoidFunction.value(0) == 0.5)
        // (the backward reads Φ(x) = y / x from the forward's output y, so it gets the real y)
        #expect(abs(GELUFunction.value(1) - 0.8413447) < 1e-6 && abs(GELUFunction.derivative(1, GELUFunction.value(1)) - 1.0833155) < 1e-6)
        #expect(abs(GELUFunction.derivative(-2, GELUFunction.value(-2)) - -0.0852318) < 1e-6)
        #expect(abs(GELUFunction.derivative(0.001, GELUFunction.value(0.001)) - 0.5007979) < 1e-6, "near 0: erf, not y / x")
        #expect(abs(SiLUFunction.value(1) - 0.7310586) < 1e-6 && abs(SiLUFunction.derivative(1, 0) - 0.9276705) < 1e-6)
        // the eight-lane forms equal the scalar ones bit for bit, kinks included
        func lanes<F: PointwiseFunction>(_ f: F.Type) {
            for start in stride(from: Float(-8), to: 8, by: 0.25) {
                let x = SIMD8<Float>((0..<8).map { start + Float($0) * 0.125 }) , y = F.value(x)
                for i in 0..<8 {
                    #expect(y[i].bitPattern == F.value(x[i]).bitPattern, "\(F.self) value at \(x[i])")
                    #expect(F.derivative(x, y)[i].bitPattern == F.derivative(x[i], y[i]).bitPattern, "\(F.self) derivative at \(x[i])")
                }
            }
        }
        lanes(ReLU6Function.self); lanes(HardswishFunction.self); lanes(HardsigmoidFunction.self)
        lanes(SigmoidFunction.self); lanes(SiLUFunction.self); lanes(GELUFunction.self)
    }

    /// Sigmoid and SiLU (eight lanes, `Vector.exp`) against Double: values within 5e-7 relative
    /// (exp's 2 ulp, then a sum and a quotient, each rounded), SiLU's derivative within
    /// 2.4e-7 · max(1, |x|) absolute (its `x (1 - s)` costs any float32 form an ulp or two of 1 times x).
    @Test func sigmoidAndSiLUMatchDoubleReferences() {
        var worstSigmoid = 0.0, worstSiLU = 0.0, worstSlope = 0.0
        for i in -3000...3000 {
            let x = Float(i) / 100, xd = Double(x), s = 1 / (1 + Foundation.exp(-xd))
            worstSigmoid = max(worstSigmoid, abs(Double(SigmoidFunction.value(x)) - s) / s)
            if x != 0 { worstSiLU = max(worstSiLU, abs(Double(SiLUFunction.value(x)) - xd * s) / abs(xd * s)) }
            let slope = s * (1 + xd * (1 - s))
            worstSlope = max(worstSlope, abs(Double(SiLUFunction.derivative(x, SiLUFunction.value(x))) - slope) / max(1, abs(xd)))
        }
        #expect(worstSigmoid < 5e-7, "sigmoid: worst relative error \(worstSigmoid)")
        #expect(worstSiLU < 5e-7, "SiLU: worst relative error \(worstSiLU)")
        #expect(worstSlope < 2.4e-7, "SiLU derivative: worst scaled absolute error \(worstSlope)")
    }

    /// x * s with s per channel ([N, C, 1, 1]) or of x's shape, in either operand order.
    @Test(arguments: [(4, 1), (1, 4), (4, 4)])
    func productGradients(aPlane: Int, bPlane: Int) {
        var random = RandomSource(seed: 13)
        let a = randomTensor([2, 3, aPlane == 1 ? 1 : 2, aPlane == 1 ? 1 : 2], &random, scale: 2)
        let b = randomTensor([2, 3, bPlane == 1 ? 1 : 2, bPlane == 1 ? 1 : 2], &random, scale: 2)
        let y = Tensor(shape: [2, 3, 2, 2])
        let mismatches = checkGradients(inputs: [a, b], output: y, eps: 1e-2,
            forward: { ProductKernel.forward(x: a, xPlane: aPlane, s: b, sPlane: bPlane, y: y) },
            backward: { dy in
                let da = Tensor(shape: a.shape), db = Tensor(shape: b.shape)
                ProductKernel.backward(dy: dy, other: b, otherPlane: bPlane, plane: aPlane, into: da, accumulate: false)
                ProductKernel.backward(dy: dy, other: a, otherPlane: aPlane, plane: bPlane, into: db, accumulate: false)
                return [da, db]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    @Test func layerNormGradients() {
        var random = RandomSource(seed: 14)
        let x = randomTensor([2, 5, 3, 2], &random, scale: 2), gamma = randomTensor([5], &random), beta = randomTensor([5], &random)
        let y = Tensor(shape: x.shape), mean = Tensor(shape: [12]), rstd = Tensor(shape: [12])
        let mismatches = checkGradients(inputs: [x, gamma, beta], output: y, eps: 1e-3, rtol: 2e-2, atol: 2e-3,
            forward: { LayerNormKernel.forward(x: x, y: y, gamma: gamma, beta: beta, mean: mean, rstd: rstd, eps: 1e-6) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dg = Tensor(shape: [5]), db = Tensor(shape: [5])
                LayerNormKernel.backward(x: x, dy: dy, dx: dx, gamma: gamma, dGamma: dg, dBeta: db, mean: mean, rstd: rstd, accumulate: false)
                return [dx, dg, db]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
        // every position normalized over its channels: mean beta-weighted zero, as nn.LayerNorm on channels-last
        LayerNormKernel.forward(x: x, y: y, gamma: Tensor(shape: [5], values: [Float](repeating: 1, count: 5)), beta: Tensor(shape: [5]),
                                mean: mean, rstd: rstd, eps: 0)
        for s in 0..<2 { for p in 0..<6 {
            let column = (0..<5).map { Double(y[(s * 5 + $0) * 6 + p]) }
            #expect(abs(column.reduce(0, +)) < 1e-5 && abs(column.map { $0 * $0 }.reduce(0, +) / 5 - 1) < 1e-5)
        } }
    }

    /// The LayerNorm and layer-scale backwards on maps past one vector (13 positions: 8 lanes and a
    /// tail of 5) against the formulas in Double, written and accumulated, with the same bits on 1
    /// and 3 threads.
    @Test func layerNormAndChannelScaleBackwardsMatchDoubleOnAnyThreadCount() {
        var random = RandomSource(seed: 21)
        let n = 3, c = 6, plane = 13
        let x = randomTensor([n, c, 1, plane], &random, scale: 2), dy = randomTensor(x.shape, &random)
        let gamma = randomTensor([c], &random), beta = randomTensor([c], &random), start = randomTensor(x.shape, &random)
        let mean = Tensor(shape: [n * plane]), rstd = Tensor(shape: [n * plane]), y = Tensor(shape: x.shape)
        LayerNormKernel.forward(x: x, y: y, gamma: gamma, beta: beta, mean: mean, rstd: rstd, eps: 1e-5)
        // Double: xhat, g = dy * gamma, dx = rstd (g - mean_c g - xhat mean_c(g xhat)), dgamma = sum dy xhat
        var dxRef = [Double](repeating: 0, count: x.count), dgRef = [Double](repeating: 0, count: c), dbRef = dgRef
        for s in 0..<n { for p in 0..<plane {
            let column = (0..<c).map { Double(x[(s * c + $0) * plane + p]) }
            let m = column.reduce(0, +) / Double(c), r = 1 / (column.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(c) + 1e-5).squareRoot()
            let xhat = column.map { ($0 - m) * r }
            let g = (0..<c).map { Double(dy[(s * c + $0) * plane + p]) * Double(gamma[$0]) }
            let mg = g.reduce(0, +) / Double(c), mgx = zip(g, xhat).map { $0 * $1 }.reduce(0, +) / Double(c)
            for ch in 0..<c {
                dxRef[(s * c + ch) * plane + p] = r * (g[ch] - mg - xhat[ch] * mgx)
                dgRef[ch] += Double(dy[(s * c + ch) * plane + p]) * xhat[ch]; dbRef[ch] += Double(dy[(s * c + ch) * plane + p])
            }
        } }
        var bits: [[Float]] = []
        for threads in [1, 3] {
            for accumulate in [false, true] {
                let dx = Tensor(shape: x.shape), dg = Tensor(shape: [c]), db = Tensor(shape: [c])
                if accumulate { dx.copy(from: start) }
                LayerNormKernel.backward(x: x, dy: dy, dx: dx, gamma: gamma, dGamma: dg, dBeta: db, mean: mean, rstd: rstd,
                                         accumulate: accumulate, parallel: Parallelism(threads: threads))
                let dxError = (0..<x.count).map { abs(Double(dx[$0]) - (accumulate ? Double(start[$0]) : 0) - dxRef[$0]) }.max()!
                #expect(dxError < 2e-5, "dx \(dxError) threads \(threads) accumulate \(accumulate)")
                #expect(zip(dg.values, dgRef).allSatisfy { abs(Double($0) - $1) < 1e-5 }, "dgamma \(dg.values) \(dgRef)")
                #expect(zip(db.values, dbRef).allSatisfy { abs(Double($0) - $1) < 1e-5 }, "dbeta \(db.values) \(dbRef)")
                bits.append(dx.values + dg.values + db.values)
                // layer scale: dx = dy * gamma, dgamma = sum dy * x
                let sx = Tensor(shape: x.shape), sg = Tensor(shape: [c])
                if accumulate { sx.copy(from: start) }
                ChannelScaleKernel.backward(x: x, gamma: gamma, dy: dy, dx: sx, dGamma: sg, accumulate: accumulate, parallel: Parallelism(threads: threads))
                for i in 0..<x.count {
                    let ch = i / plane % c
                    #expect(sx[i] == (accumulate ? start[i] + dy[i] * gamma[ch] : dy[i] * gamma[ch]))
                }
                for ch in 0..<c {
                    var ref = 0.0
                    for s in 0..<n { for p in 0..<plane { let i = (s * c + ch) * plane + p; ref += Double(dy[i]) * Double(x[i]) } }
                    #expect(abs(Double(sg[ch]) - ref) < 1e-5 * max(1, abs(ref)))
                }
                bits.append(sx.values + sg.values)
            }
        }
        #expect(bits[0] == bits[4] && bits[1] == bits[5] && bits[2] == bits[6] && bits[3] == bits[7], "1 and 3 threads differ")
    }

    @Test func channelScaleGradients() {
        var random = RandomSource(seed: 15)
        let x = randomTensor([2, 4, 3, 3], &random, scale: 2), gamma = randomTensor([4], &random), y = Tensor(shape: x.shape)
        let mismatches = checkGradients(inputs: [x, gamma], output: y, eps: 1e-2,
            forward: { ChannelScaleKernel.forward(x: x, gamma: gamma, y: y) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dg = Tensor(shape: [4])
                ChannelScaleKernel.backward(x: x, gamma: gamma, dy: dy, dx: dx, dGamma: dg, accumulate: false)
                return [dx, dg]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// Shuffle against PyTorch's view/transpose definition, its inverse, and the chunk slice's gradient.
    @Test func channelShuffleAndChunk() {
        let x = Tensor(shape: [1, 6, 1, 2], values: (0..<12).map(Float.init)), y = Tensor(shape: x.shape), back = Tensor(shape: x.shape)
        ChannelKernel.shuffle(x, groups: 2, into: y, inverse: false, accumulate: false)
        // channels [0 1 2 | 3 4 5] -> [0 3 1 4 2 5]
        #expect(y.values == [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11])
        ChannelKernel.shuffle(y, groups: 2, into: back, inverse: true, accumulate: false)
        #expect(back.values == x.values)
        var random = RandomSource(seed: 16)
        let z = randomTensor([2, 6, 2, 2], &random), piece = Tensor(shape: [2, 3, 2, 2])
        let mismatches = checkGradients(inputs: [z], output: piece, eps: 1e-2,
            forward: { ChannelKernel.slice(z, start: 3, into: piece) },
            backward: { dy in let dz = Tensor(shape: z.shape); ChannelKernel.sliceBackward(dy, start: 3, into: dz, accumulate: false); return [dz] })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// A direct convolution kernel (`forward`, `backward`, given its scratch and threads) against
    /// im2col on `g`: forward with bias, backward written and accumulated, 1 and 2 threads.
    func expectMatchesIm2col(_ g: ConvGeometry, batch n: Int, scratchCount: Int, seed: UInt64, _ what: String,
                             forward: (Tensor, Tensor, Tensor, Tensor, Tensor, Parallelism) -> Void,
                             backward: (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Bool, Parallelism) -> Void) {
        var random = RandomSource(seed: seed)
        let c = g.inChannels, o = g.outChannels
        let x = randomTensor([n, c, g.inHeight, g.inWidth], &random), bias = randomTensor([o], &random)
        let w = randomTensor([o, c / g.groups, g.kernel.0, g.kernel.1], &random)
        let dy = randomTensor([n, o, g.outHeight, g.outWidth], &random)
        let scratch = Tensor(shape: [scratchCount]), workspace = Tensor(shape: [g.workspaceCount(batch: n, threads: 1)])
        func close(_ a: Tensor, _ b: Tensor, _ part: String) {
            let worst = zip(a.values, b.values).map { abs($0 - $1) / max(1, abs($0)) }.max()!
            #expect(worst < 2e-5, "\(part) \(what): \(worst)")
        }
        for threads in [1, 2] {
            let y1 = Tensor(shape: dy.shape), y2 = Tensor(shape: dy.shape)
            Conv2dKernel.forward(x: x, weight: w, bias: bias, y: y1, geometry: g, workspace: workspace)
            forward(x, w, bias, y2, scratch, Parallelism(threads: threads))
            close(y1, y2, "forward")
            for accumulate in [false, true] {
                let start = randomTensor(x.shape, &random)
                let dx1 = Tensor(shape: x.shape), dx2 = Tensor(shape: x.shape)
                dx1.copy(from: start); dx2.copy(from: start)
                let dw1 = randomTensor(w.shape, &random), db1 = randomTensor([o], &random)
                let dw2 = Tensor(shape: w.shape), db2 = Tensor(shape: [o])
                dw2.copy(from: dw1); db2.copy(from: db1)
                Conv2dKernel.backward(x: x, weight: w, dy: dy, dx: dx1, dWeight: dw1, dBias: db1, geometry: g, workspace: workspace, accumulate: accumulate)
                backward(x, w, dy, dx2, dw2, db2, scratch, accumulate, Parallelism(threads: threads))
                for (a, b, part) in [(dx1, dx2, "dx"), (dw1, dw2, "dw"), (db1, db2, "db")] { close(a, b, "\(part) accumulate \(accumulate) threads \(threads)") }
            }
        }
    }

    /// The direct depthwise forward and backward against the im2col ones, over kernels, strides,
    /// padding, dilation, channel counts (8-wide blocks and their tails), map sizes (the
    /// stride-1 padded path from 128 positions, the general one below), accumulation and threads.
    @Test(arguments: [(5, 1, 2, 1, 6, 13, 19), (7, 2, 3, 1, 6, 13, 19), (5, 1, 4, 2, 6, 13, 19), (3, 2, 0, 1, 6, 13, 19),
                      (7, 1, 3, 1, 6, 13, 19), (7, 1, 3, 1, 16, 9, 11), (7, 1, 3, 1, 16, 12, 12), (7, 1, 3, 1, 19, 4, 4), (7, 1, 3, 1, 16, 2, 2), (5, 2, 2, 1, 17, 3, 5)])
    func depthwiseMatchesIm2col(kernel: Int, stride: Int, padding: Int, dilation: Int, channels c: Int, height: Int, width: Int) {
        let g = ConvGeometry(inChannels: c, inHeight: height, inWidth: width, outChannels: c, kernel: (kernel, kernel), stride: (stride, stride),
                             padding: (padding, padding), dilation: (dilation, dilation), groups: c)
        expectMatchesIm2col(g, batch: 3, scratchCount: DepthwiseKernel.scratchCount(g, batch: 3), seed: 17,
                            "k\(kernel) s\(stride) p\(padding) d\(dilation) c\(c) \(height)x\(width)",
                            forward: { x, w, b, y, s, p in DepthwiseKernel.forward(x: x, weight: w, bias: b, y: y, geometry: g, scratch: s, parallel: p) },
                            backward: { x, w, dy, dx, dw, db, s, acc, p in
                                DepthwiseKernel.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: db, geometry: g, scratch: s,
                                                         accumulate: acc, parallel: p) })
    }

    /// 1x1 convolutions over small maps as batch-wide GEMMs, against im2col, forward and backward.
    @Test(arguments: [(5, 7, 2, 2), (12, 20, 4, 4), (9, 3, 1, 1), (16, 48, 3, 5)])
    func pointwiseGEMMMatchesIm2col(inChannels c: Int, outChannels o: Int, height: Int, width: Int) {
        let g = ConvGeometry(inChannels: c, inHeight: height, inWidth: width, outChannels: o, kernel: (1, 1), stride: (1, 1),
                             padding: (0, 0), dilation: (1, 1), groups: 1)
        #expect(PointwiseGEMMKernel.applies(g))
        expectMatchesIm2col(g, batch: 4, scratchCount: PointwiseGEMMKernel.scratchCount(g, batch: 4), seed: 19, "\(c)->\(o) \(height)x\(width)",
                            forward: { x, w, b, y, s, p in PointwiseGEMMKernel.forward(x: x, weight: w, bias: b, y: y, geometry: g, scratch: s, parallel: p) },
                            backward: { x, w, dy, dx, dw, db, s, acc, p in
                                PointwiseGEMMKernel.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: db, geometry: g, scratch: s,
                                                             accumulate: acc, parallel: p) })
    }

    @Test func dropoutScalesKeptValuesAndIsSeeded() {
        let x = Tensor(shape: [10_000]); x.fill(1)
        let y = Tensor(shape: x.shape), mask = Tensor(shape: x.shape), y2 = Tensor(shape: x.shape)
        var r1 = RandomSource(seed: 11), r2 = RandomSource(seed: 11)
        Elementwise.dropoutForward(x: x, y: y, mask: mask, p: 0.4, random: &r1)
        Elementwise.dropoutForward(x: x, y: y2, mask: mask, p: 0.4, random: &r2)
        #expect(y.values == y2.values)
        let kept = y.values.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / 0.6) < 1e-6 })
        #expect(abs(Double(kept.count) / 10_000 - 0.6) < 0.02)
    }

    @Test func concatAndItsBackward() {
        let a = Tensor(shape: [2, 1, 2], values: [1, 2, 3, 4]), b = Tensor(shape: [2, 2, 2], values: [5, 6, 7, 8, 9, 10, 11, 12])
        let y = Tensor(shape: [2, 3, 2])
        Elementwise.concatChannels([a, b], into: y)
        #expect(y.values == [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
        let db = Tensor(shape: b.shape)
        Elementwise.concatBackward(y, slice: 1, of: [2, 4], into: db, accumulate: false)
        #expect(db.values == b.values)
    }

    @Test(arguments: [Float(0), 0.1])
    func crossEntropyGradients(smoothing: Float) {
        var random = RandomSource(seed: 12)
        let logits = randomTensor([4, 5], &random, scale: 3)
        let labels = [0, 3, 4, 1]
        let loss = Tensor(shape: [1])
        let mismatches = checkGradients(inputs: [logits], output: loss, eps: 1e-3,
            forward: { loss[0] = Float(CrossEntropyKernel.forwardBackward(logits: logits, labels: labels, smoothing: smoothing, weight: 1, dLogits: nil)) },
            backward: { dy in
                let d = Tensor(shape: logits.shape)
                _ = CrossEntropyKernel.forwardBackward(logits: logits, labels: labels, smoothing: smoothing, weight: dy[0], dLogits: d)
                return [d]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// log(5) for uniform logits over 5 classes, with or without smoothing.
    @Test func crossEntropyOfUniformLogits() {
        let logits = Tensor(shape: [2, 5])
        #expect(abs(CrossEntropyKernel.forwardBackward(logits: logits, labels: [1, 2], smoothing: 0.1, weight: 1, dLogits: nil) - 1.6094379) < 1e-6)
    }
}

@Suite struct BLASCoreTests {
    static let zen = "processor\t: 0\nflags\t\t: fpu sse avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl\n"

    @Test func asksForAVX512KernelsWhereOpenBLASChoseHaswell() {
        #expect(BLAS.preferredCoreType(environment: [:], cpuinfo: Self.zen, detected: "Haswell") == "SKYLAKEX")
        #expect(BLAS.preferredCoreType(environment: [:], cpuinfo: Self.zen, detected: "Zen") == "SKYLAKEX")
    }

    @Test func keepsAUsersChoiceAndCPUsWithoutAVX512() {
        #expect(BLAS.preferredCoreType(environment: ["OPENBLAS_CORETYPE": "Haswell"], cpuinfo: Self.zen, detected: "Haswell") == nil)
        #expect(BLAS.preferredCoreType(environment: [:], cpuinfo: "flags\t: fpu avx2 fma avx512f\n", detected: "Haswell") == nil)
        #expect(BLAS.preferredCoreType(environment: [:], cpuinfo: Self.zen, detected: "SkylakeX") == nil)
        #expect(BLAS.preferredCoreType(environment: [:], cpuinfo: nil, detected: "Haswell") == nil)
    }
}
