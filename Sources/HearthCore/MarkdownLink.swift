import Foundation

/// Links between files of one tree, as a markdown report writes them.
public enum MarkdownLink {
    /// `[label](../path/to/file)`: a link to workspace file `file` from a report stored at
    /// `reportPath` (both relative to the same root), each path component percent-encoded.
    public static func relative(to file: String, from reportPath: String, label: String? = nil) -> String {
        let depth = reportPath.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth) + file.split(separator: "/").map(percentEncoded).joined(separator: "/")
        return "[\(label ?? file)](\(target))"
    }

    private static func percentEncoded(_ component: Substring) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "()[]")))
            ?? String(component)
    }
}
