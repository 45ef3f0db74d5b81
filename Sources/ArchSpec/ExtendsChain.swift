import Foundation

/// `extends: base.yaml`, for architecture and experiment files alike: the base is loaded first
/// (its own `extends` before it), cycles and chains deeper than `maxDepth` are errors at the
/// `extends` value, a missing base is reported there too, and each file is merged over its base
/// by the caller's rule.
public struct ExtendsChain {
    public var yaml: YAMLLoader
    public var maxDepth: Int
    /// Combines a file's tree (`child`) over its base's merged tree.
    public var merge: (_ base: YNode, _ child: YNode) -> YNode
    /// Runs on each file's result (merged over its base, or alone), with the file's own tree:
    /// removes keys that do not carry over, applies per-file sections.
    public var finish: (_ merged: YNode, _ own: YNode) throws -> YNode

    public init(yaml: YAMLLoader = YAMLLoader(), maxDepth: Int = 32, merge: @escaping (YNode, YNode) -> YNode,
                finish: @escaping (YNode, YNode) throws -> YNode = { merged, _ in merged }) {
        self.yaml = yaml
        self.maxDepth = maxDepth
        self.merge = merge
        self.finish = finish
    }

    /// The tree of `path` merged over its chain of bases.
    public func load(_ path: String) throws -> YNode { try load(path, chain: []) }

    func load(_ path: String, chain: [String]) throws -> YNode {
        let tree = try yaml.load(file: path)
        guard let ext = tree.entry("extends") else { return try finish(tree, tree) }
        guard let s = ext.value.scalar, !s.isNull else {
            throw SpecError("'extends' must be a file path, found \(ext.value.kindDescription)", at: ext.value.location)
        }
        let base = ArchitectureLoader.resolve(s.text, relativeTo: path)
        let chainCanonical = (chain + [path]).map(ArchitectureLoader.canonical)
        if let cycleStart = chainCanonical.firstIndex(of: ArchitectureLoader.canonical(base)) {
            let cycle = (chain + [path])[cycleStart...] + [base]
            throw SpecError("'extends' cycle: \(cycle.joined(separator: " -> "))", at: s.location)
        }
        guard chain.count < maxDepth else { throw SpecError("'extends' chain longer than \(maxDepth) files", at: s.location) }
        let baseTree: YNode
        do {
            baseTree = try load(base, chain: chain + [path])
        } catch var error as SpecError where error.location?.file == base && error.location?.line == 1
                    && ["no such file", "is a directory, expected a YAML file"].contains(error.message) {
            error.location = s.location
            error.message = "extends '\(s.text)': \(error.message) (looked for \(base))"
            throw error
        }
        return try finish(merge(baseTree, tree), tree)
    }
}
