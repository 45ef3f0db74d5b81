import ArchGraph
import ArchSpec
import ArchTestSupport
import Foundation
import Testing

/// Every bad input of issue 2 gives its located message, asserted whole. `DIR/` stands for
/// Tests/Fixtures/architectures/bad/.
@Suite struct ErrorMessageTests {
    static let dir = fixturePath("architectures/bad") + "/"

    @Test(arguments: [
        ("unknown-arg", "DIR/unknown-arg.yaml:5:40: conv1: conv2d has no argument 'kernal'; did you mean 'kernel'?"),
        ("unknown-top-key", "DIR/unknown-top-key.yaml:4:1: unknown key 'layer'; did you mean 'layers'? (top-level keys: name, doc, paper, extends, use, set, params, functions, input, templates, layers, init)"),
        ("wrong-type", "DIR/wrong-type.yaml:5:36: conv1: conv2d 'out': expected an integer, found 'sixteen'"),
        ("duplicate-key", "DIR/duplicate-key.yaml:5:3: duplicate key 'num_classes' (first at line 4, column 3); a key may appear once in a mapping"),
        ("yaml11-bool", "DIR/yaml11-bool.yaml:5:57: conv1: 'no' is a boolean only in YAML 1.1; write false"),
        ("yaml11-octal", "DIR/yaml11-octal.yaml:5:36: conv1: ambiguous number '010': YAML 1.1 reads it as octal 8, YAML 1.2 as decimal 10; write 10, or 0o10 for octal"),
        ("yaml11-param", "DIR/yaml11-param.yaml:5:13: 'off' is ambiguous: a boolean in YAML 1.1, a string in YAML 1.2; write true/false, or quote it for a string"),
        ("zero-channels", "DIR/zero-channels.yaml:5:36: conv1: conv2d 'out': expected a positive integer, found 0"),
        ("negative-channels-expr", "DIR/negative-channels-expr.yaml:5:36: conv1: conv2d 'out': expected a positive integer, found -16"),
        ("residual-mismatch", "DIR/residual-mismatch.yaml:8:9: block: add: shapes differ: branch 1 gives 32x32x32 but the identity shortcut gives 16x32x32 (network input 3x32x32)"),
        ("unknown-op", "DIR/unknown-op.yaml:5:23: conv1: unknown op or template 'conv2'; did you mean 'conv2d'? (`archlab ops` lists the \(OpRegistry.names.count) ops; templates: none)"),
        ("unknown-template", "DIR/unknown-template.yaml:10:23: conv1: unknown op or template 'basic_cnv'; did you mean 'basic_conv'? (`archlab ops` lists the \(OpRegistry.names.count) ops; templates: basic_conv)"),
        ("missing-template-param", "DIR/missing-template-param.yaml:12:5: conv1: template 'basic_conv': missing parameter 'kernel' (int)"),
        ("unknown-template-param", "DIR/unknown-template-param.yaml:12:44: conv1: template 'basic_conv' has no parameter 'kernal'; did you mean 'kernel'? (parameters: out, kernel)"),
        ("cycle-a", "DIR/cycle-b.yaml:1:10: 'extends' cycle: DIR/cycle-a.yaml -> DIR/cycle-b.yaml -> DIR/cycle-a.yaml"),
        ("extends-missing", "DIR/extends-missing.yaml:1:10: extends 'no-such-base.yaml': no such file (looked for DIR/no-such-base.yaml)"),
        ("no-such-file", "DIR/no-such-file.yaml:1:1: no such file"),
        ("empty", "DIR/empty.yaml:1:1: empty file: expected a YAML mapping"),
        ("comment-only", "DIR/comment-only.yaml:1:1: empty file: expected a YAML mapping"),
        ("syntax-error", "DIR/syntax-error.yaml:3:7: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 8)"),
        ("alias-bomb", "DIR/alias-bomb.yaml:4:13: document expands to more than 200000 nodes (anchors and aliases used to multiply content?)"),
        ("deep-nesting", "DIR/deep-nesting.yaml:2:107: nesting deeper than 100 levels"),
        ("deep-block-nesting", "DIR/deep-block-nesting.yaml:2:205: nesting deeper than 100 levels"),
        ("binary-garbage", "DIR/binary-garbage.yaml:1:1: file is not UTF-8 text"),
        ("linear-without-flatten", "DIR/linear-without-flatten.yaml:6:5: fc: linear expects flat features, found 16x28x28; put {op: flatten} before it (network input 3x32x32)"),
        ("unknown-name", "DIR/unknown-name.yaml:5:36: conv1: in '$num_clases': unknown name 'num_clases'; did you mean 'num_classes'?"),
        ("missing-num-classes", "DIR/missing-num-classes.yaml:3:1: params: missing 'num_classes' (every architecture file declares it, e.g. num_classes: 1000)"),
        ("too-small", "DIR/too-small.yaml:7:5: conv2: conv2d needs an input of at least 5x5 (window 5x5, padding 0), found 16x2x2: the input is too small for this layer (network input 3x8x8)"),
        ("template-recursion", "DIR/template-recursion.yaml:7:9: outer.inner: template 'loop' instantiates itself (loop -> loop)"),
        ("not-a-mapping", "DIR/not-a-mapping.yaml:1:1: expected a mapping with name, params, input, templates and layers; found a list"),
        ("layer-not-mapping", "DIR/layer-not-mapping.yaml:5:5: a layer must be a mapping such as {op: relu}, found 'relu'"),
        ("bad-input", "DIR/bad-input.yaml:2:12: input: dimensions must be positive integers, found '0'"),
        ("duplicate-names", "DIR/duplicate-names.yaml:6:5: conv: duplicate tensor name 'conv.weight' (first at line 5, column 5); give the layer another name"),
        ("bad-expression", "DIR/bad-expression.yaml:5:36: conv1: in expression '16 *': expected a value, found the end of the expression"),
        ("groups", "DIR/groups.yaml:6:5: dw: conv2d groups 3 must divide both input channels 16 and out 16 (network input 3x32x32)"),
        ("drop-path", "DIR/drop-path.yaml:9:51: drop: stochastic_depth 'p': expected a number from 0 below 1, found 1.0"),
        ("se-scale", "DIR/se-scale.yaml:5:5: multiply: multiply: branch 1 gives 4x1x1 but the input gives 8x4x4; the factors must have equal shapes, or one must be [8, 1, 1] (network input 8x4x4)"),
    ])
    func badFile(name: String, expected: String) {
        let message = buildError(Self.dir + name + ".yaml")
        #expect(message == expected.replacingOccurrences(of: "DIR/", with: Self.dir))
    }

    /// Errors in the real architecture files, caused by `--set` and `--input`.
    @Test(arguments: [
        ("googlenet", ["branch3_kernel=4"], nil as [Int]?,
         "architectures/googlenet.yaml:81:9: inception3a: concat branches disagree in size: branch1 gives 64x28x28 but branch3 gives 32x29x29 (height and width must match) (network input 3x224x224)"),
        ("googlenet", ["aux_logits=no"], nil, "--set aux_logits=no: 'no' is a boolean only in YAML 1.1; write false"),
        ("googlenet", ["branch3_kernel=0"], nil, "--set branch3_kernel=0: parameter 'branch3_kernel': must be at least 1; found 0"),
        ("googlenet", ["num_clases=10"], nil,
         "--set num_clases=10: unknown parameter 'num_clases'; did you mean 'num_classes'? (parameters: aux_dropout, aux_logits, aux_loss_weight, branch3_kernel, dropout, inception, num_classes, width; document keys: input, layers, templates, name)"),
        ("googlenet", ["inception.4x.n5x5=64"], nil,
         "--set inception.4x.n5x5=64: set inception.4x.n5x5: no '4x' at 'inception.4x'; did you mean '4a'? (keys: 3a, 3b, 4a, 4b, 4c, 4d, 4e, 5a, 5b)"),
        ("googlenet", ["inception.4a.n5x5=0"], nil,
         "architectures/googlenet.yaml:53:39: inception4a.branch3.1.conv: conv2d 'out': expected a positive integer, found 0"),
        ("googlenet", ["layers.maxpool9.kernel=2"], nil,
         "--set layers.maxpool9.kernel=2: set layers.maxpool9.kernel: no item 'maxpool9' at 'layers.maxpool9': use an index below 22 or a layer name; did you mean 'maxpool1'?"),
        ("googlenet", [], [3, 16, 16],
         "architectures/googlenet.yaml:118:5: maxpool3: maxpool2d needs an input of at least 3x3 (window 3x3, padding 0), found 480x2x2: the input is too small for this layer (network input 3x16x16)"),
        ("googlenet", [], [3, 40, 40],
         "architectures/googlenet.yaml:101:9: aux1.averagePool: avgpool2d needs an input of at least 5x5 (window 5x5, padding 0), found 512x2x2: the input is too small for this layer (network input 3x40x40)"),
        ("alexnet", [], [3, 32, 32],
         "architectures/alexnet.yaml:33:9: features.12: maxpool2d needs an input of at least 3x3 (window 3x3, padding 0), found 256x1x1: the input is too small for this layer (network input 3x32x32)"),
        ("regnet-y-400mf", ["se_ratio=0.001"], nil,
         "architectures/regnet-y-400mf.yaml:75:46: trunk_output.block1.block1-0.f.se.fc1: conv2d 'out': expected a positive integer, found 0"),
        ("shufflenet-v2-x1.0", ["widths=[24, 117, 232, 464, 1024]"], nil,
         "architectures/shufflenet-v2-x1.0.yaml:70:17: stage2.0: template 'shuffle_unit' requires an even out (each half of the unit gives out / 2 channels); found out=117, stride=2, input 24x56x56"),
        ("resnet18", ["block=bottlenek"], nil,
         "--set block=bottlenek: parameter 'block': expected one of 'basic_block', 'bottleneck'; found 'bottlenek'"),
        ("swin-t", [], [3, 64, 64],
         "architectures/swin-t.yaml:52:17: features.1.0.attn: window_attention: the 7x7 window does not tile the 16x16 map (expected a window that divides both sides; torchvision would pad the map with zeros that join the attention) (network input 3x64x64)"),
        ("swin-t", ["window_size=4"], [3, 64, 64],
         "architectures/swin-t.yaml:52:17: features.7.0.attn: window_attention: the 4x4 window is larger than the 2x2 map (expected a window that divides both sides; torchvision would pad the map with zeros that join the attention) (network input 3x64x64)"),
        ("swin-t", ["num_heads=[5, 6, 12, 24]"], nil,
         "architectures/swin-t.yaml:52:17: features.1.0.attn: window_attention: 5 heads do not divide the 96 channels (network input 3x224x224)"),
        ("vit-b-16", ["num_heads=5"], nil,
         "architectures/vit-b-16.yaml:40:17: encoder.layers.encoder_layer_0.self_attention: self_attention: 5 heads do not divide the dimension 768 (network input 3x224x224)"),
    ])
    func badOverride(name: String, set: [String], input: [Int]?, expected: String) {
        let message = buildError(architecturePath(name), set: set, input: input)
        #expect(message == expected.replacingOccurrences(of: "architectures/", with: repositoryRoot.path + "/architectures/"))
    }

    @Test func branchMismatchNotesTheInstantiation() throws {
        do {
            _ = try build(architecturePath("googlenet"), set: ["branch3_kernel=4"])
            Issue.record("expected an error")
        } catch let error as SpecError {
            #expect(error.notes == ["in template 'inception' instantiated as 'inception3a' at \(architecturePath("googlenet")):116:5"])
        }
    }

    /// A billion-laughs file is refused with its error, well within a busy machine's time.
    @Test func aliasBombIsRejectedQuickly() {
        let start = Date()
        let error = buildError(Self.dir + "alias-bomb.yaml")
        #expect(error?.hasPrefix(Self.dir + "alias-bomb.yaml:") == true, "\(error ?? "accepted")")
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
