import ArchGraph
import ArchTestSupport
import Foundation
import Testing

/// Compares every architecture with its PyTorch model: state_dict names and shapes, parameter
/// count, MACs and output shape. Fixture: Tests/Fixtures/pytorch_architectures.json, written by
/// scripts/reference/architecture_fixtures.py (torch 2.13.0+cpu, torchvision 0.28.0). Exact: no tolerance.
@Suite struct PyTorchReferenceTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var architecture: String
        var set: [String]
        var input: [Int]
        var totalParams: Int
        var macs: Int
        var output: [Int]
        var stateDict: [String: [Int]]
        var testDescription: String { "\(architecture) \(set) \(input)" }
    }

    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: fixturePath("pytorch_architectures.json")),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else { return [] }
        return cases.map { c in
            let sets = (c["set"] as? [String: String] ?? [:]).map { "\($0.key)=\($0.value)" }
            var state: [String: [Int]] = [:]
            for entry in c["state_dict"] as? [[Any]] ?? [] { state[entry[0] as! String] = entry[1] as? [Int] }
            return Case(architecture: c["architecture"] as! String, set: sets, input: c["input"] as! [Int],
                        totalParams: c["total_params"] as! Int, macs: c["macs"] as! Int, output: c["output"] as! [Int],
                        stateDict: state)
        }
    }()

    @Test func fixtureCoversEveryArchitectureFile() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("architectures").path)
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }
        #expect(Self.cases.count >= 30)
        #expect(Set(files).subtracting(Self.cases.map(\.architecture)).isEmpty)
    }

    @Test(arguments: cases)
    func matchesPyTorch(_ c: Case) throws {
        let network = try build(architecturePath(c.architecture), set: c.set, input: c.input)
        let s = NetworkSummary(network)
        #expect(s.totalParams == c.totalParams)
        #expect(s.macs == c.macs)
        #expect(network.output.dims == c.output)
        var ours: [String: [Int]] = [:]
        for layer in network.layers { for t in layer.tensors { ours[layer.stateName(t)] = t.shape } }
        let missing = Set(c.stateDict.keys).subtracting(ours.keys).sorted()
        let unexpected = Set(ours.keys).subtracting(c.stateDict.keys).sorted()
        #expect(missing.isEmpty, "missing: \(missing.prefix(5))")
        #expect(unexpected.isEmpty, "unexpected: \(unexpected.prefix(5))")
        for (name, shape) in c.stateDict where ours[name] != nil {
            #expect(ours[name] == shape, "\(name)")
        }
    }
}
