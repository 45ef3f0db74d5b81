import Foundation
import ArchGraph
import ArchSpec
import FuzzSupport

/// YAML -> located document -> architecture loader -> builder: any input must end in a value or a
/// SpecError, never a trap (integer overflow, index out of range, runaway recursion).
exit(runFuzzer { input, size in
    guard let data = input else { return 0 }
    let path = Scratch.file("architecture.yaml", data, size)
    do {
        let document = try ArchitectureLoader().load(path)
        _ = try Builder().build(document)
    } catch {}
    return 0
})
