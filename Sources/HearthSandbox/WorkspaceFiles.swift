import Foundation
import Glibc

/// Whole-file operations inside the workspace, every one through `WorkspacePath`'s confined walk.
public enum WorkspaceFiles {
    /// Reads a regular file, refusing anything larger than `limit` bytes.
    public static func read(_ path: String, in workspace: URL, limit: Int = 32 << 20) throws(WorkspaceError) -> Data {
        let fd = try WorkspacePath.open(path, in: workspace, flags: O_RDONLY)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, code: errno, action: "inspect") }
        guard Int(info.st_size) <= limit else {
            throw .invalidPath(path, reason: "the file is \(info.st_size) bytes, more than the \(limit)-byte limit")
        }
        var data = Data(count: Int(info.st_size))
        var filled = 0
        while filled < data.count {
            let count = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, code: errno, action: "read")
            }
            if count == 0 { break }
            filled += count
        }
        return data.prefix(filled)
    }

    /// Writes a file atomically: a temporary file beside it, flushed, then renamed over it.
    ///
    /// - Parameter replace: whether an existing file may be replaced.
    public static func write(_ data: Data, to path: String, in workspace: URL, replace: Bool) throws(WorkspaceError) {
        let (directory, name) = try WorkspacePath.openParent(of: path, in: workspace, create: true)
        defer { close(directory) }
        var existing = stat()
        if fstatat(directory, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 {
            guard existing.st_mode & S_IFMT == S_IFREG else {
                throw existing.st_mode & S_IFMT == S_IFLNK ? .symlink(path) : .notARegularFile(path)
            }
            // Another name of this file may be outside: never touch it, even by replacing the name.
            guard existing.st_nlink <= 1 else { throw .multipleLinks(path) }
            guard replace else { throw .invalidPath(path, reason: "the file exists; pass \"overwrite\": true to replace it") }
        }
        let temporary = ".\(name).hearth-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, code: errno, action: "create") }
        var failure: Int32?
        data.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let count = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                written += count
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == nil && renameat(directory, temporary, directory, name) != 0 { failure = errno }
        if let failure {
            unlinkat(directory, temporary, 0)
            throw .io(path: path, code: failure, action: "write")
        }
    }

    /// Moves a regular file within the workspace; refuses to replace an existing destination.
    ///
    /// - Returns: `false` when the move had already happened (the source is gone and the
    ///   destination exists), so repeating it after a crash is harmless.
    @discardableResult
    public static func move(_ source: String, to destination: String, in workspace: URL) throws(WorkspaceError) -> Bool {
        let (from, fromName) = try WorkspacePath.openParent(of: source, in: workspace, create: false)
        defer { close(from) }
        let (to, toName) = try WorkspacePath.openParent(of: destination, in: workspace, create: true)
        defer { close(to) }
        var info = stat()
        let sourceExists = fstatat(from, fromName, &info, AT_SYMLINK_NOFOLLOW) == 0
        var target = stat()
        let destinationExists = fstatat(to, toName, &target, AT_SYMLINK_NOFOLLOW) == 0
        if !sourceExists && destinationExists { return false }
        guard sourceExists else { throw .io(path: source, code: ENOENT, action: "move") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw info.st_mode & S_IFMT == S_IFLNK ? .symlink(source) : .notARegularFile(source)
        }
        guard info.st_nlink <= 1 else { throw .multipleLinks(source) }
        guard !destinationExists else { throw .invalidPath(destination, reason: "the destination exists; nothing was moved") }
        guard renameat(from, fromName, to, toName) == 0 else { throw .io(path: source, code: errno, action: "move") }
        return true
    }

    /// Regular files under a workspace directory (relative to the workspace), sorted; hidden
    /// entries and symbolic links are left out and never followed.
    public static func list(under directory: String?, in workspace: URL, limit: Int = 10_000) throws(WorkspaceError) -> [String] {
        let root = try WorkspacePath.openDirectory(directory, in: workspace)
        var result: [String] = []
        let prefix = (directory.map { $0.split(separator: "/").filter { $0 != "." }.joined(separator: "/") } ?? "")
        walk(root, prefix: prefix, into: &result, limit: limit)
        return result.sorted()
    }

    /// Takes ownership of `fd` (closed when done).
    private static func walk(_ fd: Int32, prefix: String, into result: inout [String], limit: Int) {
        guard let stream = fdopendir(fd) else {
            close(fd)
            return
        }
        defer { closedir(stream) }
        var directories: [String] = []
        while let entry = readdir(stream), result.count < limit {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasPrefix(".") { continue }
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let relative = prefix.isEmpty ? name : "\(prefix)/\(name)"
            switch info.st_mode & S_IFMT {
            case S_IFREG: result.append(relative)
            case S_IFDIR: directories.append(name)
            default: continue
            }
        }
        for name in directories where result.count < limit {
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { continue }
            walk(child, prefix: prefix.isEmpty ? name : "\(prefix)/\(name)", into: &result, limit: limit)
        }
    }
}
