import ArchGraph
import Foundation
import Testing

@Suite struct FormatTests {
    @Test func jsonHasTheContractFields() throws {
        let text = try summary("googlenet-torchvision", input: [3, 96, 96]).render(.json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "googlenet-torchvision")
        #expect(object["input"] as? [Int] == [3, 96, 96])
        #expect(object["total_params"] as? Int == 13_004_888)
        #expect(object["trainable_params"] as? Int == 13_004_888)
        #expect(object["macs"] as? Int == 276_047_872)
        #expect(object["flops"] as? Int == 552_095_744)
        let layers = try #require(object["layers"] as? [[String: Any]])
        let first = try #require(layers.first)
        #expect(first["path"] as? String == "conv1.conv")
        #expect(first["type"] as? String == "conv2d")
        #expect(first["output_shape"] as? [Int] == [64, 48, 48])
        #expect(first["params"] as? Int == 9408)
        #expect(first["macs"] as? Int == 9408 * 48 * 48)
        // Leaf layers in forward order: aux1 comes right after inception4a.
        let paths = layers.compactMap { $0["path"] as? String }
        let aux = try #require(paths.firstIndex(of: "aux1.avgpool"))
        #expect(paths[aux - 1] == "inception4a")
        #expect(layers.reduce(0) { $0 + ($1["params"] as? Int ?? 0) } == 13_004_888)
    }

    @Test func csvHasOneRowPerLayer() throws {
        let s = try summary("lenet")
        let lines = s.render(.csv).split(separator: "\n")
        #expect(lines.first == "path,type,output,params,macs,other_ops,aux")
        #expect(lines.count == s.rows.count + 1)
        #expect(lines[1] == "conv1,conv2d,16x28x28,1216,940800,0,false")
    }

    @Test func markdownTable() throws {
        let md = try summary("lenet").render(.markdown)
        #expect(md.contains("| `fc3` | linear | 10 | 850 | 840 | 0 |"))
        #expect(md.contains("| 121,182 | 121,182 | 0 | 2,327,720 | 4,655,440 |"))
    }

    @Test func paperLayoutFollowsTable1() throws {
        let paper = try summary("googlenet").render(.paper)
        let lines = paper.split(separator: "\n").map(String.init)
        let header = try #require(lines.first { $0.hasPrefix("type") })
        let columns = ["type", "patch size/stride", "output size", "depth", "#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5",
                       "pool proj", "params", "ops"]
        var position = header.startIndex
        for column in columns {
            let found = try #require(header.range(of: column, range: position..<header.endIndex), "\(column)")
            position = found.upperBound
        }
        let conv1 = try #require(lines.first { $0.hasPrefix("convolution (conv1)") })
        #expect(conv1.contains("7×7/2") && conv1.contains("112×112×64") && conv1.contains("9,472") && conv1.contains("118,013,952"))
        let i3a = try #require(lines.first { $0.hasPrefix("inception (3a)") })
        #expect(i3a.split(separator: " ").map(String.init).suffix(9) == ["2", "64", "96", "128", "16", "32", "32", "163,696", "128,049,152"])
        #expect(i3a.contains("28×28×256"))
        #expect(lines.contains { $0.hasPrefix("max pool (maxpool4)") && $0.contains("3×3/2") && $0.contains("7×7×832") })
        #expect(lines.contains { $0.hasPrefix("aux classifier (aux1), training only") })
    }

    @Test func tableHasTotals() throws {
        let table = try summary("resnet18").render(.table)
        #expect(table.contains("total params: 11,689,512   trainable: 11,689,512"))
        #expect(table.contains("MACs: 1,814,073,344   FLOPs (2 x MACs): 3,628,146,688"))
        #expect(table.contains("layer2.0.downsample.0"))
    }
}
