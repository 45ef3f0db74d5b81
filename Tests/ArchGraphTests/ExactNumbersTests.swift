import ArchGraph
import Testing

/// The exact numbers of issue 2 at 3x224x224 with 1000 classes (torchvision's published counts).
@Suite struct ExactNumbersTests {
    @Test(arguments: [
        ("alexnet", [String](), 61_100_840),
        ("vgg11", [], 132_863_336),
        ("vgg11-bn", [], 132_868_840),
        ("vgg16", [], 138_357_544),
        ("vgg19", [], 143_667_240),
        ("resnet18", [], 11_689_512),
        ("resnet34", [], 21_797_672),
        ("resnet50", [], 25_557_032),
        ("resnet101", [], 44_549_160),
        ("resnet152", [], 60_192_808),
        ("googlenet-torchvision", ["aux_logits=false"], 6_624_904),
        ("googlenet-torchvision", [], 13_004_888),
    ])
    func parameters(name: String, set: [String], expected: Int) throws {
        let s = try summary(name, set: set)
        #expect(s.totalParams == expected)
        #expect(s.trainableParams == expected)
    }

    @Test func googlenetTorchvisionMACsAreExact() throws {
        let s = try summary("googlenet-torchvision")
        #expect(s.macs == 1_498_376_192)
        #expect(s.flops == 2 * 1_498_376_192)
        // Aux heads are excluded from inference MACs but their parameters count.
        #expect(try summary("googlenet-torchvision", set: ["aux_logits=false"]).macs == 1_498_376_192)
    }

    @Test(arguments: [
        ("resnet18", 1.814e9), ("resnet50", 4.089e9), ("vgg16", 15.47e9), ("alexnet", 0.714e9),
    ])
    func approximateMACs(name: String, giga: Double) throws {
        let macs = Double(try summary(name).macs)
        #expect(abs(macs - giga) / giga < 0.0005, "\(name): \(macs)")
    }

    @Test func printedNumbersAreExactWithSeparators() throws {
        let table = try summary("googlenet-torchvision").render(.table)
        #expect(table.contains("total params: 13,004,888"))
        #expect(table.contains("MACs: 1,498,376,192"))
        #expect(table.contains("FLOPs (2 x MACs): 2,996,752,384"))
        #expect(table.contains("in aux heads (training only): 6,379,984"))
    }
}
