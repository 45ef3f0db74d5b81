import ArchTensor
import Testing

/// `--precision bf16` convolutions: on a CPU with bfloat16 instructions, each result must equal the
/// float32 reference computed from bfloat16-rounded operands (x, w, dy) to float32 accumulation
/// error, and must differ from the unrounded float32 result (a bf16 run that silently computed in
/// float32 fails). On a CPU without them, asking for bf16 is an error that says so.
@Suite struct BF16ConvolutionTests {
    static let geometries = OneDNNConvolutionTests.wide
    static let batch = 3

    /// A copy of `t` with every element rounded to bfloat16.
    func rounded(_ t: Tensor) -> Tensor {
        let r = Tensor(shape: t.shape)
        for i in 0..<t.count { r[i] = ComputePrecision.roundToBF16(t[i]) }
        return r
    }

    func mismatches(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-4) -> [Int] {
        (0..<a.count).filter { abs(a[$0] - b[$0]) > tolerance * (1 + abs(b[$0])) }
    }

    /// The bf16 convolution of `g` with random x and w drawn from `random`.
    func convolution(_ g: ConvGeometry, _ random: inout RandomSource) throws -> (DNNLConvolution, x: Tensor, w: Tensor) {
        let conv = try #require(DNNLConvolution(geometry: g, batch: Self.batch, bias: true, threads: 2, precision: .bf16))
        return (conv, randomTensor([Self.batch, g.inChannels, g.inHeight, g.inWidth], &random),
                randomTensor([g.outChannels, g.inChannels / g.groups, g.kernel.0, g.kernel.1], &random))
    }

    @Test func roundingIsToNearestEven() {
        #expect(ComputePrecision.roundToBF16(1) == 1)
        #expect(ComputePrecision.roundToBF16(Float(bitPattern: 0x3F80_8000)) == 1)  // halfway, even below
        #expect(ComputePrecision.roundToBF16(Float(bitPattern: 0x3F81_8000)) == Float(bitPattern: 0x3F82_0000))  // halfway, even above
        #expect(ComputePrecision.roundToBF16(Float(bitPattern: 0x3F80_8001)) == Float(bitPattern: 0x3F81_0000))
        #expect(ComputePrecision.roundToBF16(-.infinity) == -.infinity)
    }

    @Test(.enabled(if: ComputePrecision.bf16Native), arguments: geometries)
    func forwardEqualsRoundedOperands(_ g: ConvGeometry) throws {
        var random = RandomSource(seed: 11)
        let (conv, x, w) = try convolution(g, &random)
        let b = randomTensor([g.outChannels], &random)
        let y = Tensor(shape: [Self.batch, g.outChannels, g.outHeight, g.outWidth])
        let reference = Tensor(shape: y.shape), unrounded = Tensor(shape: y.shape)
        conv.forward(x: x, weight: w, bias: b, y: y, workspace: Tensor(shape: [conv.workspaceCount]))
        Conv2dKernel.naiveForward(x: rounded(x), weight: rounded(w), bias: b, y: reference, geometry: g)
        Conv2dKernel.naiveForward(x: x, weight: w, bias: b, y: unrounded, geometry: g)
        #expect(mismatches(y, reference).isEmpty, "\(g)")
        #expect(!mismatches(y, unrounded).isEmpty, "bf16 forward equals float32's: the operands were not rounded, \(g)")
    }

    @Test(.enabled(if: ComputePrecision.bf16Native), arguments: geometries)
    func backwardEqualsRoundedOperands(_ g: ConvGeometry) throws {
        var random = RandomSource(seed: 12)
        let (conv, x, w) = try convolution(g, &random)
        let dy = randomTensor([Self.batch, g.outChannels, g.outHeight, g.outWidth], &random)
        func gradients(_ body: (Tensor, Tensor, Tensor) -> Void) -> (dx: Tensor, dw: Tensor, db: Tensor) {
            let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: [g.outChannels])
            body(dx, dw, db)
            return (dx, dw, db)
        }
        func openBLAS(_ x: Tensor, _ w: Tensor, _ dy: Tensor) -> (dx: Tensor, dw: Tensor, db: Tensor) {
            gradients { dx, dw, db in
                Conv2dKernel.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: db, geometry: g,
                                      workspace: Tensor(shape: [g.workspaceCount(batch: Self.batch, threads: 1)]), accumulate: false)
            }
        }
        let ours = gradients { dx, dw, db in
            conv.backward(x: x, weight: w, dy: dy, dx: dx, dWeight: dw, dBias: db, workspace: Tensor(shape: [conv.workspaceCount]),
                          accumulate: false)
        }
        let reference = openBLAS(rounded(x), rounded(w), rounded(dy)), unrounded = openBLAS(x, w, dy)
        #expect(mismatches(ours.dx, reference.dx).isEmpty, "dx, \(g)")
        #expect(mismatches(ours.dw, reference.dw).isEmpty, "dw, \(g)")
        #expect(mismatches(ours.db, reference.db).isEmpty, "db, \(g)")
        #expect(!mismatches(ours.dx, unrounded.dx).isEmpty && !mismatches(ours.dw, unrounded.dw).isEmpty,
                "bf16 gradients equal float32's: the operands were not rounded, \(g)")
    }

    @Test(.enabled(if: !ComputePrecision.bf16Native))
    func refusedWithoutBF16Instructions() {
        #expect(throws: ComputePrecision.Unsupported.self) { try ComputePrecision.bf16.check() }
        do { try ComputePrecision.bf16.check() } catch { #expect(error.description.contains("AVX512_BF16 or AMX")) }
    }

    @Test func float32IsAlwaysAvailable() throws { try ComputePrecision.float32.check() }
}
