import Foundation

/// `{{secret:NAME}}` handles: the only way a secret appears outside the broker.
///
/// The agent writes handles into request templates; the broker replaces them with values just
/// before sending and nowhere else.
public enum SecretHandles {
    /// The handle for a secret name, as the agent writes it.
    public static func handle(_ name: String) -> String { "{{secret:\(name)}}" }

    /// Names of the handles in `text`, in order of first appearance.
    public static func names(in text: String) -> [String] {
        var names: [String] = []
        scan(text) { piece in
            if case .handle(let name) = piece, !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// Replaces each handle with `value(name)`; a handle whose value is `nil` is left as written.
    public static func render(_ text: String, _ value: (String) -> String?) -> String {
        var out = ""
        scan(text) { piece in
            switch piece {
            case .text(let text): out += text
            case .handle(let name): out += value(name) ?? handle(name)
            }
        }
        return out
    }

    enum Piece {
        case text(Substring)
        case handle(String)
    }

    /// Splits text into literal runs and handles; whitespace inside the braces is allowed.
    static func scan(_ text: String, _ visit: (Piece) -> Void) {
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inner.hasPrefix("secret:") {
                let name = String(inner.dropFirst("secret:".count)).trimmingCharacters(in: .whitespaces)
                if (try? Secret.validate(name: name)) != nil {
                    visit(.text(rest[..<open.lowerBound]))
                    visit(.handle(name))
                    rest = rest[close.upperBound...]
                    continue
                }
            }
            visit(.text(rest[..<open.upperBound]))
            rest = rest[open.upperBound...]
        }
        visit(.text(rest))
    }
}
