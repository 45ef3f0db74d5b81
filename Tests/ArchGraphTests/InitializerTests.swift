import ArchTestSupport
import ArchGraph
import ArchSpec
import ArchTensor
import Testing

/// Initialization schemes from the architecture files: statistics of the drawn values.
@Suite struct InitializerTests {
    static func stats(_ t: Tensor) -> (mean: Double, std: Double, maxAbs: Double) {
        let v = t.values.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let std = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)).squareRoot()
        return (mean, std, v.map(abs).max() ?? 0)
    }

    @Test func torchvisionResNetUsesKaimingNormalFanOut() throws {
        let model = Model(network: try build(architecturePath("resnet18")))
        try model.initialize(seed: 1)
        let w = try #require(model.store["layer3.0.conv1.weight"])   // [256, 128, 3, 3]: fan_out 256*9
        let s = Self.stats(w)
        #expect(abs(s.std - (2.0 / (256 * 9)).squareRoot()) / (2.0 / (256 * 9)).squareRoot() < 0.02)
        #expect(model.store["layer3.0.bn1.weight"]!.values.allSatisfy { $0 == 1 })
        #expect(model.store["layer3.0.bn1.running_var"]!.values.allSatisfy { $0 == 1 })
        // fc keeps PyTorch's default: U(-1/sqrt(512), 1/sqrt(512)).
        #expect(Self.stats(model.store["fc.weight"]!).maxAbs <= 1 / 512.0.squareRoot())
    }

    @Test func googlenetTorchvisionUsesTruncatedNormal() throws {
        let model = Model(network: try build(architecturePath("googlenet-torchvision")))
        try model.initialize(seed: 2)
        let s = Self.stats(model.store["inception4a.branch2.1.conv.weight"]!)
        #expect(abs(s.std - 0.01) < 0.0005)
        #expect(s.maxAbs < 0.06)
    }

    @Test func courseGoogLeNetAndVGG() throws {
        let g = Model(network: try build(architecturePath("googlenet")))
        try g.initialize(seed: 3)
        #expect(g.store["fc.bias"]!.values.allSatisfy { $0 == 0 })
        #expect(abs(Self.stats(g.store["fc.weight"]!).std - 0.01) < 0.0005)
        let v = Model(network: try build(architecturePath("vgg11-bn"), set: ["hidden=64"], input: [3, 32, 32]))
        try v.initialize(seed: 3)
        #expect(v.store["features.0.bias"]!.values.allSatisfy { $0 == 0 })
        #expect(abs(Self.stats(v.store["classifier.0.weight"]!).std - 0.01) < 0.0005)
    }

    @Test func sameSeedSameWeightsOtherSeedOther() throws {
        let network = try build(architecturePath("lenet"))
        let a = Model(network: network), b = Model(network: network), c = Model(network: network)
        try a.initialize(seed: 7); try b.initialize(seed: 7); try c.initialize(seed: 8)
        #expect(a.store["conv2.weight"]!.values == b.store["conv2.weight"]!.values)
        #expect(a.store["conv2.weight"]!.values != c.store["conv2.weight"]!.values)
    }

    @Test func badSchemeIsLocated() throws {
        let path = temporaryFile("init.yaml", "name: x\ninput: [1, 4, 4]\nparams: {num_classes: 2}\ninit:\n  conv2d: {weight: kaiming_normall}\nlayers:\n  - {op: flatten}\n  - {op: linear, out: 2}\n")
        let model = Model(network: try build(path))
        #expect(throws: SpecError("init.conv2d.weight: unknown scheme 'kaiming_normall'; did you mean 'kaiming_normal'? (schemes: default, zeros, ones, constant, normal, trunc_normal, kaiming_normal, kaiming_uniform, xavier_uniform, uniform)",
                                  at: SourceLocation(file: path, line: 5, column: 20))) { try model.initialize(seed: 0) }
    }
}
