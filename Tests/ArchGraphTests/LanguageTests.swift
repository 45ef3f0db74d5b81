import ArchTestSupport
import ArchGraph
import ArchSpec
import Foundation
import Testing

/// The architecture language: templates, tables, overrides, loops, conditions, extends.
@Suite struct LanguageTests {
    @Test func oneInceptionCellChangesExactlyWhatItShould() throws {
        let base = try summary("googlenet")
        let edited = try summary("googlenet", set: ["inception.4a.n5x5=64"])
        // branch3.1.conv of 4a: 16 -> 64 instead of 48 (5x5 + bias): 16 * 401. Downstream, 4b's four
        // input convs (160 + 112 + 24 + 64 outputs) and aux1's 1x1 conv (128) see 16 more channels.
        #expect(edited.totalParams - base.totalParams == 16 * 401 + 16 * (160 + 112 + 24 + 64) + 16 * 128)
        let layer = try #require(edited.network.layers.first { $0.path == "inception4a.branch3.1.conv" })
        #expect(layer.output == Shape(channels: 64, height: 14, width: 14))
        #expect(edited.rows.first { $0.path == "inception4a" }?.output.channels == 528)
    }

    @Test func wholeTableRowAndPaperColumns() throws {
        let s = try summary("googlenet", set: ["inception.3a=[32, 48, 64, 8, 16, 16]"])
        #expect(s.rows.first { $0.path == "inception3a" }?.output == Shape(channels: 128, height: 28, width: 28))
        let paper = s.render(.paper)
        #expect(paper.contains("#1x1"))
        #expect(paper.contains("#3x3 reduce"))
        #expect(paper.contains("pool proj"))
        let row = try #require(paper.split(separator: "\n").first { $0.hasPrefix("inception (3a)") })
        #expect(row.split(separator: " ").contains("48"))
    }

    @Test func branch3KernelVariant() throws {
        let five = try build(architecturePath("googlenet"))
        let three = try build(architecturePath("googlenet"), set: ["branch3_kernel=3"])
        let w5 = try #require(five.layers.first { $0.path == "inception3a.branch3.1.conv" })
        let w3 = try #require(three.layers.first { $0.path == "inception3a.branch3.1.conv" })
        #expect(w5.tensors[0].shape == [32, 16, 5, 5])
        #expect(w3.tensors[0].shape == [32, 16, 3, 3])
        #expect(w3.output == w5.output)
    }

    @Test func widthMultiplierScalesEveryInceptionWidth() throws {
        let half = try build(architecturePath("googlenet"), set: ["width=0.5"])
        #expect(half.layers.first { $0.path == "inception3a.branch1.conv" }?.output.channels == 32)
        #expect(half.layers.first { $0.path == "inception5b.branch4.1.conv" }?.output.channels == 64)
        #expect(half.layers.first { $0.path == "fc" }?.tensors[0].shape == [1000, 512])
    }

    @Test func auxHeadsFollowTheParameterAndAreTrainingOnly() throws {
        let with = try summary("googlenet")
        let without = try summary("googlenet", set: ["aux_logits=false"])
        #expect(with.macs == without.macs)
        #expect(with.totalParams - without.totalParams == with.auxParams)
        #expect(without.auxParams == 0)
        #expect(with.rows.filter(\.isAux).map(\.path).contains("aux1.fc1"))
        #expect(!without.rows.contains { $0.path.hasPrefix("aux") })
    }

    @Test func sameFileBuildsAtSeveralInputSizes() throws {
        for (name, input) in [("googlenet-torchvision", [3, 96, 96]), ("googlenet", [1, 96, 96]), ("resnet18", [3, 32, 32]),
                              ("vgg11-bn", [3, 32, 32]), ("lenet", [1, 28, 28]), ("resnet50", [3, 64, 64])] {
            let n = try build(architecturePath(name), input: input)
            #expect(n.output == Shape([name == "lenet" ? 10 : 1000]), "\(name)")
        }
        // Linear in_features follow the input: LeNet's fc1 sees 32x5x5 at 32x32 and 32x4x4 at 28x28.
        let lenet = try build(architecturePath("lenet"), input: [1, 28, 28])
        #expect(lenet.layers.first { $0.path == "fc1" }?.tensors[0].shape == [120, 512])
    }

    @Test func vggCfgAndBatchNormAreData() throws {
        let n = try build(architecturePath("vgg11"), set: ["cfg=[16, M, 32, M]", "batch_norm=true"], input: [3, 32, 32])
        #expect(n.layers.map(\.path).prefix(8) == ["features.0", "features.1", "features.2", "features.3", "features.4",
                                                    "features.5", "features.6", "features.7"])
        #expect(n.layers.map(\.op.name).prefix(8) == ["conv2d", "batchnorm2d", "relu", "maxpool2d", "conv2d", "batchnorm2d", "relu", "maxpool2d"])
    }

    @Test func resnetDepthIsAParameter() throws {
        let n = try build(architecturePath("resnet18"), set: ["depths=[1, 1, 1, 1]"])
        #expect(n.layers.contains { $0.path == "layer4.0.downsample.0" })
        #expect(!n.layers.contains { $0.path.hasPrefix("layer1.1") })
        #expect(!n.layers.contains { $0.path.hasPrefix("layer1.0.downsample") })
    }

    @Test func documentPathsReachAnyValue() throws {
        let n = try build(architecturePath("lenet"), set: ["layers.fc1.out=100", "layers.0.out=8"])
        #expect(n.layers.first { $0.path == "fc1" }?.tensors[0].shape.first == 100)
        #expect(n.layers.first { $0.path == "conv1" }?.output.channels == 8)
        let g = try build(architecturePath("googlenet"), set: ["templates.inception_aux.layers.conv.out=64"])
        #expect(g.layers.first { $0.path == "aux1.conv.conv" }?.output.channels == 64)
    }

    @Test func extendsOverridesDefaultsKeepingDeclarations() throws {
        let tv = try ArchitectureLoader().load(architecturePath("googlenet-torchvision"))
        #expect(tv.parameter("branch3_kernel") == .int(3))
        #expect(tv.parameter("dropout") == .float(0.2))
        // The declaration (min: 1) is inherited even though the child only gave a value.
        #expect(buildError(architecturePath("googlenet-torchvision"), set: ["branch3_kernel=0"])
                == "--set branch3_kernel=0: parameter 'branch3_kernel': must be at least 1; found 0")
        let n = try build(architecturePath("googlenet-torchvision"))
        #expect(n.layers.first { $0.path == "maxpool4" }?.output == Shape(channels: 832, height: 7, width: 7))
        #expect(n.layers.contains { $0.path == "conv1.bn" })
    }

    @Test func newBlockWrittenInYAMLOnly() throws {
        let path = temporaryFile("se.yaml", """
        name: tiny-resnet
        input: [3, 32, 32]
        params: {num_classes: 10, widths: [8, 16]}
        templates:
          pre_act_block:
            params: {planes: {type: int}, stride: 1}
            let: {mid: "${planes // 2}"}
            layers:
              - op: add
                branches:
                  - layers:
                      - {name: bn1, op: batchnorm2d}
                      - {name: relu1, op: relu}
                      - {name: conv1, op: conv2d, out: $mid, kernel: 3, stride: $stride, padding: 1, bias: false}
                      - {name: conv2, op: conv2d, out: $planes, kernel: 3, padding: 1, bias: false}
                  - name: shortcut
                    when: "${stride != 1 or in_channels != planes}"
                    layers: [{op: conv2d, out: $planes, kernel: 1, stride: $stride, bias: false}]
        layers:
          - {name: stem, op: conv2d, out: 8, kernel: 3, padding: 1}
          - for: s
            in: "${range(len(widths))}"
            layers:
              - {name: "stage${s}", op: pre_act_block, planes: "${widths[s]}", stride: "${1 if s == 0 else 2}"}
          - {name: pool, op: adaptive_avgpool2d, size: 1}
          - {name: flatten, op: flatten}
          - {name: fc, op: linear, out: $num_classes}
        """)
        let n = try build(path)
        #expect(n.layers.map(\.path).contains("stage1.shortcut.0"))
        #expect(!n.layers.map(\.path).contains("stage0.shortcut.0"))
        #expect(n.layers.first { $0.path == "stage1.conv1" }?.output == Shape(channels: 8, height: 16, width: 16))
        #expect(n.output == Shape([10]))
    }
}

/// `--set` reaches one layer or template instance by the path `archlab summary` prints.
@Suite struct ModulePathOverrideTests {
    static let googlenet = repositoryRoot.appendingPathComponent("architectures/googlenet.yaml").path

    func layer(_ network: Network, _ path: String) -> Layer? { network.layers.first { $0.path == path } }

    @Test func aLayerArgumentChangesThatLayerOnly() throws {
        let n = try build(Self.googlenet, set: ["inception3a.branch3.1.conv.kernel=3", "inception3a.branch3.1.conv.padding=1"])
        #expect(layer(n, "inception3a.branch3.1.conv")?.tensors.first?.shape == [32, 16, 3, 3])
        #expect(layer(n, "inception3b.branch3.1.conv")?.tensors.first?.shape == [96, 32, 5, 5])
    }

    @Test func aTemplateInstanceArgumentBeatsItsTableRow() throws {
        let n = try build(Self.googlenet, set: ["inception3a.n1x1=32"])
        #expect(layer(n, "inception3a.branch1.conv")?.tensors.first?.shape == [32, 192, 1, 1])
        #expect(layer(n, "inception3b.branch1.conv")?.tensors.first?.shape == [128, 224, 1, 1])
    }

    @Test func aPathThatReachesNothingNamesTheClosest() {
        #expect(buildError(Self.googlenet, set: ["inception3a.branch9.conv.kernel=3"])?.hasPrefix(
            "--set inception3a.branch9.conv.kernel=3: unknown parameter 'inception3a' and no layer or template instance at 'inception3a.branch9.conv'; did you mean 'inception3a.branch1.conv'?") == true)
        #expect(buildError(Self.googlenet, set: ["inception3a.branch1.conv.kernal=3"])?.contains("conv2d has no argument 'kernal'; did you mean 'kernel'?") == true)
    }
}

/// `use:` brings another file's functions and templates (and nothing else) into a file.
@Suite struct UseTests {
    @Test func usedFunctionsAndTemplatesWithTheFilesOwnWinning() throws {
        let lib = temporaryFile("lib.yaml", """
        functions:
          twice: {args: [x], value: "${2 * x}"}
          thrice: {args: [x], value: "${3 * x}"}
        templates:
          block:
            params: {out: {type: int}}
            layers: [{name: conv, op: conv2d, out: $out, kernel: 3, padding: 1}]
        """)
        let dir = URL(fileURLWithPath: lib).deletingLastPathComponent().path
        let file = dir + "/net.yaml"
        try """
        name: net
        input: [1, 8, 8]
        use: lib.yaml
        params: {num_classes: 10}
        functions:
          thrice: {args: [x], value: "${30 * x}"}
        layers:
          - {name: a, op: block, out: "${twice(4)}"}
          - {name: b, op: block, out: "${thrice(1)}"}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let n = try build(file)
        #expect(n.layers.map(\.output.channels) == [8, 30], "twice from the library, thrice the file's own")
        try "name: net\ninput: [1, 8, 8]\nuse: nope.yaml\nparams: {num_classes: 10}\nlayers: []\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(buildError(file)?.hasPrefix(file + ":3:6: use 'nope.yaml': no such file") == true)
        try "layers: []\n".write(toFile: lib, atomically: true, encoding: .utf8)
        try "name: net\ninput: [1, 8, 8]\nuse: [lib.yaml]\nparams: {num_classes: 10}\nlayers: []\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(buildError(file) == lib + ":1:1: a file given to use: holds functions and templates only (and doc); found 'layers'")
    }
}
