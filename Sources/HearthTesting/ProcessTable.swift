import Foundation

/// The processes running on this machine, as `/proc` lists them: for tests that check what
/// survived a kill.
public enum ProcessTable {
    /// Each running process's pid and command line (empty for kernel threads).
    public static func commandLines() -> [(pid: Int32, arguments: [String])] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return (pid, data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
        }
    }
}
