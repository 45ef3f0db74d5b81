import ArchTensor
import Testing

/// oneDNN's convolutions against the naive reference (forward) and the OpenBLAS path (backward,
/// itself checked by finite differences), over the random geometries of `ConvolutionKernelTests`
/// and wider ones where oneDNN picks blocked layouts (16+ channels), with and without bias.
@Suite struct OneDNNConvolutionTests {
    static let wide: [ConvGeometry] = [
        ConvGeometry(inChannels: 32, inHeight: 8, inWidth: 8, outChannels: 64, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvGeometry(inChannels: 24, inHeight: 9, inWidth: 7, outChannels: 40, kernel: (1, 1), stride: (2, 2), padding: (0, 0), dilation: (1, 1), groups: 1),
        ConvGeometry(inChannels: 16, inHeight: 7, inWidth: 7, outChannels: 48, kernel: (5, 5), stride: (1, 1), padding: (2, 2), dilation: (1, 1), groups: 1),
        ConvGeometry(inChannels: 32, inHeight: 9, inWidth: 9, outChannels: 32, kernel: (3, 3), stride: (1, 1), padding: (2, 2), dilation: (2, 2), groups: 1),
        ConvGeometry(inChannels: 32, inHeight: 6, inWidth: 6, outChannels: 64, kernel: (3, 3), stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 2),
        ConvGeometry(inChannels: 3, inHeight: 15, inWidth: 15, outChannels: 16, kernel: (7, 7), stride: (2, 2), padding: (3, 3), dilation: (1, 1), groups: 1),
        ConvGeometry(inChannels: 64, inHeight: 5, inWidth: 5, outChannels: 16, kernel: (3, 3), stride: (2, 2), padding: (0, 0), dilation: (1, 1), groups: 1),
        // ceil-free floor division with a remainder: oneDNN's right padding must shrink to match PyTorch's size
        ConvGeometry(inChannels: 16, inHeight: 10, inWidth: 11, outChannels: 16, kernel: (3, 3), stride: (3, 2), padding: (1, 1), dilation: (1, 1), groups: 1),
    ]
    static let cases: [(ConvGeometry, Bool)] = (ConvolutionKernelTests.geometries + wide).enumerated().map { ($1, $0 % 2 == 0) }

    static let batch = 3

    func tensors(_ g: ConvGeometry, seed: UInt64) -> (x: Tensor, w: Tensor, b: Tensor) {
        var random = RandomSource(seed: seed)
        return (randomTensor([Self.batch, g.inChannels, g.inHeight, g.inWidth], &random),
                randomTensor([g.outChannels, g.inChannels / g.groups, g.kernel.0, g.kernel.1], &random),
                randomTensor([g.outChannels], &random))
    }

    func close(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-4) -> [Int] {
        (0..<a.count).filter { abs(a[$0] - b[$0]) > tolerance * (1 + abs(b[$0])) }
    }

    @Test(arguments: cases)
    func forwardMatchesNaive(_ g: ConvGeometry, bias: Bool) throws {
        let conv = try #require(DNNLConvolution(geometry: g, batch: Self.batch, bias: bias, threads: 2))
        let (x, w, b) = tensors(g, seed: 1)
        let fast = Tensor(shape: [Self.batch, g.outChannels, g.outHeight, g.outWidth]), slow = Tensor(shape: fast.shape)
        let workspace = Tensor(shape: [conv.workspaceCount])
        conv.forward(x: x, weight: w, bias: bias ? b : nil, y: fast, workspace: workspace)
        Conv2dKernel.naiveForward(x: x, weight: w, bias: bias ? b : nil, y: slow, geometry: g)
        #expect(close(fast, slow).isEmpty, "\(g)")
    }

    /// Both backends from the same starting gradients: dw and db accumulate, dx is written or added to.
    @Test(arguments: cases)
    func backwardMatchesOpenBLAS(_ g: ConvGeometry, bias: Bool) throws {
        let conv = try #require(DNNLConvolution(geometry: g, batch: Self.batch, bias: bias, threads: 2))
        let (x, w, _) = tensors(g, seed: 2)
        var random = RandomSource(seed: 3)
        let dy = randomTensor([Self.batch, g.outChannels, g.outHeight, g.outWidth], &random)
        let start = (dx: randomTensor(x.shape, &random), dw: randomTensor(w.shape, &random), db: randomTensor([g.outChannels], &random))
        for accumulate in [false, true] {
            func run(_ body: (Tensor, Tensor, Tensor) -> Void) -> (Tensor, Tensor, Tensor) {
                let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: [g.outChannels])
                dx.copy(from: start.dx); dw.copy(from: start.dw); db.copy(from: start.db)
                body(dx, dw, db)
                return (dx, dw, db)
            }
            let ours = run { dx, dw, db in
                conv.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: bias ? db : nil,
                              workspace: Tensor(shape: [conv.workspaceCount]), accumulate: accumulate)
            }
            let reference = run { dx, dw, db in
                Conv2dKernel.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: bias ? db : nil, geometry: g,
                                      workspace: Tensor(shape: [g.workspaceCount(batch: Self.batch, threads: 1)]), accumulate: accumulate)
            }
            #expect(close(ours.0, reference.0).isEmpty, "dx, accumulate \(accumulate), \(g)")
            #expect(close(ours.1, reference.1).isEmpty, "dw, accumulate \(accumulate), \(g)")
            #expect(close(ours.2, reference.2).isEmpty, "db, accumulate \(accumulate), \(g)")
        }
    }

    @Test(arguments: wide)
    func gradients(_ g: ConvGeometry) throws {
        let conv = try #require(DNNLConvolution(geometry: g, batch: Self.batch, bias: true, threads: 1))
        let (x, w, b) = tensors(g, seed: 4)
        let y = Tensor(shape: [Self.batch, g.outChannels, g.outHeight, g.outWidth])
        let workspace = Tensor(shape: [conv.workspaceCount])
        let mismatches = checkGradients(inputs: [x, w, b], output: y,
            forward: { conv.forward(x: x, weight: w, bias: b, y: y, workspace: workspace) },
            backward: { dy in
                let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
                conv.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: db, workspace: workspace, accumulate: false)
                return [dx, dw, db]
            })
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// A gradient that is not needed (the network's input) is not computed.
    @Test func backwardWithoutInputGradient() throws {
        let g = Self.wide[0]
        let conv = try #require(DNNLConvolution(geometry: g, batch: Self.batch, bias: false, threads: 2))
        let (x, w, _) = tensors(g, seed: 5)
        var random = RandomSource(seed: 6)
        let dy = randomTensor([Self.batch, g.outChannels, g.outHeight, g.outWidth], &random)
        let dw = Tensor(shape: w.shape), reference = Tensor(shape: w.shape)
        conv.backward(x: x, weight: w, dy: dy, dx: nil, dWeight: dw, dBias: nil, workspace: Tensor(shape: [conv.workspaceCount]),
                      accumulate: false)
        Conv2dKernel.backward(x: x, weight: w, dy: dy, dx: nil, dWeight: reference, dBias: nil, geometry: g,
                              workspace: Tensor(shape: [g.workspaceCount(batch: Self.batch, threads: 1)]), accumulate: false)
        #expect(close(dw, reference).isEmpty)
    }
}

/// ArchLab's parallel loops (on libgomp) visit every index exactly once, nested loops included.
@Suite struct ParallelismTests {
    @Test(arguments: [1, 2, 3, 8])
    func visitsEveryIndexOnce(threads: Int) {
        let counts = Tensor(shape: [1000])
        Parallelism(threads: threads).forEach(10) { outer in
            Parallelism(threads: threads).forEach(100) { inner in counts[outer * 100 + inner] += 1 }
        }
        #expect(counts.values.allSatisfy { $0 == 1 })
    }
}
