import Foundation
import Yams

/// Reads YAML text into a located `YNode` tree, with limits that keep hostile input harmless.
///
/// Guards, each reported as a located `SpecError` rather than a crash:
/// - files larger than `maxBytes`, empty files, text that is not UTF-8;
/// - nesting deeper than `maxDepth` (checked on the raw text before the YAML parser recurses);
/// - documents whose anchors and aliases expand to more than `maxNodes` nodes ("billion laughs");
/// - duplicate keys, syntax errors, multiple documents.
public struct YAMLLoader: Sendable {
    public var maxBytes = 4 << 20
    public var maxDepth = 100
    public var maxNodes = 200_000

    public init() {}

    /// For a missing file: the YAML file beside it that its name most likely meant (`.yml` for
    /// `.yaml` and back, or a close spelling), as a note.
    public static func similarFiles(to path: String) -> [String] {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else {
            return ["the folder \(directory.path) does not exist either"]
        }
        let yaml = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        let stem = url.deletingPathExtension().lastPathComponent
        let sameStem = yaml.filter { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent == stem }
        let beside = (path as NSString).deletingLastPathComponent
        func shown(_ name: String) -> String { beside.isEmpty ? name : beside + "/" + name }
        if let match = sameStem.first { return ["did you mean \(shown(match))?"] }
        if let close = Suggestion.closest(to: url.lastPathComponent, in: yaml) { return ["did you mean \(shown(close))?"] }
        return []
    }

    /// Loads and parses a file. A missing or unreadable file is an error located at the file itself.
    public func load(file path: String) throws -> YNode {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SpecError("no such file", at: SourceLocation(file: path, line: 1, column: 1), notes: Self.similarFiles(to: path))
        }
        guard !isDirectory.boolValue else {
            throw SpecError("is a directory, expected a YAML file", at: SourceLocation(file: path, line: 1, column: 1))
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SpecError("cannot open the file for reading", at: SourceLocation(file: path, line: 1, column: 1))
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        guard data.count <= maxBytes else {
            throw SpecError("file is larger than \(maxBytes) bytes; architecture and experiment files are small text files",
                            at: SourceLocation(file: path, line: 1, column: 1))
        }
        guard let text = String(data: data, encoding: .utf8), !data.contains(0) else {
            throw SpecError("file is not UTF-8 text", at: SourceLocation(file: path, line: 1, column: 1))
        }
        return try parse(text, file: path)
    }

    /// Parses YAML text; `file` names it in locations.
    public func parse(_ text: String, file: String) throws -> YNode {
        let start = SourceLocation(file: file, line: 1, column: 1)
        if text.utf8.count > maxBytes {
            throw SpecError("text is larger than \(maxBytes) bytes", at: start)
        }
        if let deep = NestingScanner.firstLocationDeeper(than: maxDepth, in: text) {
            throw SpecError("nesting deeper than \(maxDepth) levels", at: SourceLocation(file: file, line: deep.line, column: deep.column))
        }
        let composed = try composeOnLargeStack(text, file: file)
        guard let root = composed else {
            throw SpecError("empty file: expected a YAML mapping", at: start)
        }
        var budget = maxNodes
        let node = try convert(root, file: file, budget: &budget)
        if let s = node.scalar, s.isNull {
            throw SpecError("empty file: expected a YAML mapping", at: start)
        }
        return node
    }

    private func composeOnLargeStack(_ text: String, file: String) throws -> Node? {
        // handed over, not shared: the thread writes it before `signal()`, this one reads it after `wait()`
        final class Box: @unchecked Sendable { var result: Result<Node?, Error> = .success(nil) }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Result { try Yams.compose(yaml: text) }
            done.signal()
        }
        thread.stackSize = 256 << 20
        thread.start()
        done.wait()
        do {
            return try box.result.get()
        } catch let error as YamlError {
            throw Self.located(error, file: file)
        }
    }

    private func convert(_ node: Node, file: String, budget: inout Int) throws -> YNode {
        budget -= 1
        func location(_ mark: Mark?) -> SourceLocation {
            SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }
        if budget < 0 {
            throw SpecError("document expands to more than \(maxNodes) nodes (anchors and aliases used to multiply content?)",
                            at: location(node.mark))
        }
        switch node {
        case let .scalar(s):
            let quoted = !(s.style == .plain || s.style == .any)
            return .scalar(YScalar(s.string, quoted: quoted, at: location(s.mark)))
        case let .sequence(seq):
            var items: [YNode] = []
            items.reserveCapacity(seq.count)
            for child in seq { items.append(try convert(child, file: file, budget: &budget)) }
            return .list(items, location(seq.mark))
        case let .mapping(map):
            var entries: [YEntry] = []
            var seen: [String: SourceLocation] = [:]
            for (k, v) in map {
                let keyNode = try convert(k, file: file, budget: &budget)
                guard case let .scalar(key) = keyNode else {
                    throw SpecError("mapping keys must be plain names, found \(keyNode.kindDescription)", at: keyNode.location)
                }
                if let first = seen[key.text] {
                    throw SpecError("duplicate key '\(key.text)' (first defined at line \(first.line), column \(first.column))",
                                    at: key.location)
                }
                seen[key.text] = key.location
                entries.append(YEntry(key: key, value: try convert(v, file: file, budget: &budget)))
            }
            return .map(entries, location(map.mark))
        case let .alias(alias):
            throw SpecError("unresolved alias '*\(alias.anchor.rawValue)'", at: location(alias.mark))
        }
    }

    static func located(_ error: YamlError, file: String) -> SpecError {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let suffix = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return SpecError("YAML syntax error: \(problem)\(suffix)", at: at(mark))
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.first ?? ""
            if let again = repeatedKey(key, after: context.mark, in: context.text) {
                return SpecError("duplicate key '\(key)' (first at line \(context.mark.line), column \(context.mark.column)); a key may appear once in a mapping",
                                 at: SourceLocation(file: file, line: again.line, column: again.column))
            }
            return SpecError("duplicate key '\(key)'; a key may appear once in a mapping", at: at(context.mark))
        case let .reader(problem, offset, _, _):
            return SpecError("cannot read the text: \(problem)\(offset.map { " at byte \($0)" } ?? "")",
                             at: SourceLocation(file: file, line: 1, column: 1))
        default:
            return SpecError("YAML error: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }
}

/// The next `key:` at the same column as the first occurrence (block mappings), if any.
private func repeatedKey(_ key: String, after mark: Mark, in text: String) -> (line: Int, column: Int)? {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard mark.line >= 1, mark.line <= lines.count else { return nil }
    for (offset, line) in lines[mark.line...].enumerated() {
        let chars = Array(line)
        guard chars.count >= mark.column - 1 + key.count else { continue }
        let indent = chars.prefix(mark.column - 1)
        if indent.allSatisfy({ $0 == " " || $0 == "-" }), String(chars[(mark.column - 1)...]).hasPrefix(key + ":") {
            return (mark.line + 1 + offset, mark.column)
        }
    }
    return nil
}

/// A conservative estimate of YAML nesting depth on raw text, so that absurdly deep documents are
/// rejected before a recursive parser sees them.
enum NestingScanner {
    /// The location where the estimated depth first exceeds `limit`, or nil.
    static func firstLocationDeeper(than limit: Int, in text: String) -> (line: Int, column: Int)? {
        var indents: [Int] = [] // open block levels by indentation
        var flow = 0
        var line = 1
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            defer { line += 1 }
            let bytes = Array(rawLine.utf8)
            var i = 0
            while i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
            let indent = i
            let blank = i >= bytes.count || bytes[i] == UInt8(ascii: "#") || bytes[i] == UInt8(ascii: "\r")
            if flow == 0, !blank {
                while let last = indents.last, last > indent { indents.removeLast() }
                if indents.last != indent { indents.append(indent) }
            }
            var inline = 0
            var quote: UInt8? = nil
            var j = i
            while j < bytes.count {
                let c = bytes[j]
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == UInt8(ascii: "#"), j == 0 || bytes[j - 1] == UInt8(ascii: " ") {
                    break
                } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                    quote = c
                } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                    flow += 1
                } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                    flow = max(0, flow - 1)
                } else if flow == 0, c == UInt8(ascii: "-") || c == UInt8(ascii: ":") || c == UInt8(ascii: "?"),
                          j + 1 >= bytes.count || bytes[j + 1] == UInt8(ascii: " ") {
                    inline += 1
                }
                if indents.count + inline + flow > limit { return (line, j + 1) }
                j += 1
            }
        }
        return nil
    }
}
