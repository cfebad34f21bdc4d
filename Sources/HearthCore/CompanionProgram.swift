import Foundation

/// Hearth's helper executables (`hearth-sandbox`, `hearth-vault`) are installed beside `hearth`.
public enum CompanionProgram {
    /// The executable `name` beside the running program, or `nil`.
    public static func locate(_ name: String) -> URL? {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [Bundle.main.executableURL?.deletingLastPathComponent().appending(path: name), beside.appending(path: name)]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
