import Foundation

/// The sample workspace of `hearth demo`: twenty SROIE receipts (text, three scanned images, one
/// broken PDF) and an expense policy, embedded in the binary's resources.
public enum SampleWorkspace {
    /// The flagship goal the demo hands to the agent.
    public static let goal =
        "Audit the Q2 expense receipts in Receipts/ against Policy.md and flag anomalies, including any item over 100."

    public enum SampleError: Error, Sendable, CustomStringConvertible {
        case resourcesMissing(String)
        case notEmpty(String)

        public var description: String {
            switch self {
            case .resourcesMissing(let path):
                "the sample workspace is missing from this build (looked in \(path)); rebuild hearth with 'swift build'"
            case .notEmpty(let path):
                "\(path) exists and holds other files; choose an empty or new directory with --workspace"
            }
        }
    }

    /// The receipt files of the sample, relative to the workspace, sorted (what `create` returns).
    public static var receiptNames: [String] {
        guard let source = try? source(),
            let files = FileManager.default.subpaths(atPath: source.appending(path: "Receipts").path)
        else { return [] }
        return files.filter { !$0.hasPrefix(".") }.map { "Receipts/" + $0 }.sorted()
    }

    /// The embedded sample's folder.
    public static func source() throws -> URL {
        guard let url = Bundle.module.url(forResource: "Sample", withExtension: nil) else {
            throw SampleError.resourcesMissing(Bundle.module.bundlePath)
        }
        return url
    }

    /// Copies the sample into `directory` (created if needed). Files already there with the
    /// sample's names are replaced, so a demo can be run again over its own workspace; a
    /// directory with other content is refused unless `allowOthers`.
    ///
    /// - Returns: the receipt files, relative to the workspace, sorted.
    @discardableResult
    public static func create(at directory: URL, allowOthers: Bool = true) throws -> [String] {
        let source = try source()
        let manager = FileManager.default
        try manager.createDirectory(at: directory, withIntermediateDirectories: true)
        let files = try manager.subpathsOfDirectory(atPath: source.path).filter { path in
            var isDirectory: ObjCBool = false
            return manager.fileExists(atPath: source.appending(path: path).path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        if !allowOthers {
            let existing = (try? manager.contentsOfDirectory(atPath: directory.path)) ?? []
            if !existing.isEmpty { throw SampleError.notEmpty(directory.path) }
        }
        for file in files.sorted() {
            let target = directory.appending(path: file)
            try manager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            if manager.fileExists(atPath: target.path) { try manager.removeItem(at: target) }
            try manager.copyItem(at: source.appending(path: file), to: target)
            // Resources are read-only in some builds; the workspace is the user's to edit.
            try manager.setAttributes([.posixPermissions: 0o644], ofItemAtPath: target.path)
        }
        return files.filter { $0.hasPrefix("Receipts/") }.sorted()
    }
}
