import Foundation

/// A fresh directory under the system temp dir, removed when the value is deinitialised.
///
/// Each test gets its own, so tests can run in parallel and never see each other's files.
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public init(prefix: String = "hearth-test") throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory())
        let url = base.appending(path: "\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        // Resolve symlinks (e.g. /tmp on some systems) so paths compare equal to what the daemon reports.
        self.url = url.resolvingSymlinksInPath()
    }

    public var path: String { url.path }

    /// A path inside the directory (not created).
    public func appending(_ component: String) -> URL { url.appending(path: component) }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
