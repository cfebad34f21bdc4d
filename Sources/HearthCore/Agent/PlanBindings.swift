import Foundation

/// Values a plan fixes before it runs but that are known only when a task starts: `{{run}}` (the
/// run's id) and `{{sha256:PATH}}` (the SHA-256 of a workspace file as it is at that moment). A
/// publication step bound to `{{sha256:Reports/compliance-{{run}}.md}}` is asked about — and its
/// approval's hash bound — with the report's content as the task found it.
public enum PlanBindings {
    /// `bindings` with the placeholders filled in; `hash` gives a workspace file's SHA-256 (hex),
    /// nil when it cannot be read ("unreadable" then stands in, which no file matches).
    public static func resolve(_ bindings: [String: String], runID: Int64, hash: (String) -> String?) -> [String: String] {
        bindings.mapValues { value in
            var text = value.replacingOccurrences(of: "{{run}}", with: "\(runID)")
            while let match = text.firstMatch(of: /\{\{sha256:([^{}]+)\}\}/) {
                text.replaceSubrange(match.range, with: hash(String(match.output.1)) ?? "unreadable")
            }
            return text
        }
    }
}
