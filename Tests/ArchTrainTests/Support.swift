import ArchTestSupport
import ArchGraph
import ArchSpec
import ArchTensor
import Foundation



func build(_ path: String, set: [String] = [], input: [Int]? = nil) throws -> Network {
    try Builder().build(try ArchitectureLoader().load(path, overrides: try set.map(Override.parse(commandLine:)), input: input))
}

func json(_ path: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: path) ?? Data())) as? [String: Any] ?? [:]
}

