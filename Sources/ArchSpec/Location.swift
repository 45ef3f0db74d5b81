/// A position in a source text: a file path (or a pseudo-file such as `--set`), line and column from 1.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// A location on the command line (`--set name=value`), shown without line and column.
    public static func commandLine(_ argument: String) -> SourceLocation {
        SourceLocation(file: argument, line: 0, column: 0)
    }

    /// `path:line:column`, the prefix every located message starts with (just the argument for
    /// command-line locations).
    public var description: String { line == 0 ? file : "\(file):\(line):\(column)" }
}

/// An error in an architecture or experiment file, located like a compiler diagnostic.
///
/// Rendered as `file:line:column: message`, optionally followed by notes (for example where a
/// template was instantiated). Tests assert `description`, the first line, exactly.
public struct SpecError: Error, CustomStringConvertible, Sendable, Equatable {
    public var location: SourceLocation?
    public var message: String
    public var notes: [String]

    public init(_ message: String, at location: SourceLocation?, notes: [String] = []) {
        self.location = location
        self.message = message
        self.notes = notes
    }

    /// The one-line form: `file:line:column: message`.
    public var description: String {
        guard let location else { return message }
        return "\(location): \(message)"
    }

    /// The message with its notes, one per line, for printing to standard error.
    public var fullDescription: String {
        ([description] + notes.map { "  note: \($0)" }).joined(separator: "\n")
    }

    /// The same error with a `path: ` prefix added to the message (for layer paths).
    public func prefixed(_ prefix: String) -> SpecError {
        guard !prefix.isEmpty else { return self }
        return SpecError("\(prefix): \(message)", at: location, notes: notes)
    }
}

/// Suggests the closest candidate to a misspelled name ("did you mean ...?").
public enum Suggestion {
    /// The candidate with the smallest edit distance, if it is close enough to be a plausible typo.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        for candidate in candidates.sorted() {
            let d = distance(word.lowercased(), candidate.lowercased())
            if d <= max(2, candidate.count / 3), d < best?.1 ?? .max { best = (candidate, d) }
        }
        return best?.0
    }

    /// `; did you mean 'x'?` or the empty string.
    public static func didYouMean(_ word: String, in candidates: [String]) -> String {
        closest(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
