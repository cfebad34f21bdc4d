import Foundation

/// A document's opening, as a stand-in summary written by code: its title and first sentences.
///
/// Used where a model's summary looped: marked as the file's own words, never passed off as a summary.
enum ExtractiveSummary {
    /// The first heading (if any) and the first `sentences` sentences of body text; nil for a text without any.
    static func of(_ text: String, sentences: Int = 2) -> String? {
        var title: String?
        var body: [String] = []
        var inFence = false
        for raw in text.components(separatedBy: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") || line.hasPrefix("~~~") {
                inFence.toggle()
                continue
            }
            if inFence || line.isEmpty || line.hasPrefix("[page ") || line == "---" { continue }
            if line.hasPrefix("#") {
                if title == nil { title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces) }
                continue
            }
            body.append(line.hasPrefix("- ") || line.hasPrefix("* ") ? String(line.dropFirst(2)) : line)
            if body.joined(separator: " ").count > 600 { break }
        }
        var found: [String] = []
        var current = ""
        for character in body.joined(separator: " ") {
            current.append(character)
            if ".!?".contains(character) {
                let sentence = current.trimmingCharacters(in: .whitespaces)
                if sentence.count > 1 { found.append(sentence) }
                current = ""
                if found.count == sentences { break }
            }
        }
        if found.count < sentences, !current.trimmingCharacters(in: .whitespaces).isEmpty {
            found.append(String(current.trimmingCharacters(in: .whitespaces).prefix(200)))
        }
        let opening = found.map { $0.count > 240 ? String($0.prefix(240)) + "…" : $0 }.joined(separator: " ")
        switch (title, opening.isEmpty) {
        case (nil, true): return nil
        case (let title?, true): return title
        case (nil, false): return opening
        case (let title?, false): return "\(title): \(opening)"
        }
    }
}
