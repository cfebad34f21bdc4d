import CHearthSystem
import Foundation
import Glibc

/// Why a workspace path was refused or could not be used.
public enum WorkspaceError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidPath(String, reason: String)
    case symlink(String)
    case notADirectory(String)
    case notARegularFile(String)
    case multipleLinks(String)
    case io(path: String, code: Int32, action: String)

    public var description: String {
        switch self {
        case .invalidPath(let path, let reason): "invalid workspace path \"\(path)\": \(reason)"
        case .symlink(let path): "refused \"\(path)\": it goes through a symbolic link, which workspace effects never follow"
        case .notADirectory(let path): "refused \"\(path)\": a parent is not a directory"
        case .notARegularFile(let path): "refused \"\(path)\": not a regular file"
        case .multipleLinks(let path): "refused \"\(path)\": the file has other hard links (it may be a file outside the workspace)"
        case .io(let path, let code, let action):
            code == ENOSPC
                ? "cannot \(action) \"\(path)\": no space left on device; free some space and resume the run"
                : "cannot \(action) \"\(path)\": \(String(cString: strerror(code)))"
        }
    }
}

/// Opens files inside the workspace without ever leaving it.
///
/// The walk goes one component at a time from a descriptor held on the workspace root, with
/// `O_NOFOLLOW`, so neither `..`, an absolute path, nor a symbolic link (planted before or during
/// the walk) can lead outside. A file with several hard links is refused, since one of its names
/// may be outside. (The safety issue replaces this walk with `openat2(RESOLVE_BENEATH)` where the
/// kernel offers it.)
public enum WorkspacePath {
    /// The validated components of a relative workspace path.
    public static func components(of path: String) throws(WorkspaceError) -> [String] {
        guard !path.isEmpty else { throw .invalidPath(path, reason: "it is empty") }
        guard !path.hasPrefix("/") else { throw .invalidPath(path, reason: "it must be relative to the workspace") }
        guard !path.contains("\0") else { throw .invalidPath(path, reason: "it contains a NUL byte") }
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
        guard !parts.isEmpty else { throw .invalidPath(path, reason: "it names the workspace itself") }
        guard !parts.contains("..") else { throw .invalidPath(path, reason: "\"..\" is not allowed") }
        guard path.utf8.count <= 4000, parts.allSatisfy({ $0.utf8.count <= 255 }) else {
            throw .invalidPath(path, reason: "it is too long")
        }
        return parts
    }

    /// Opens a regular file at `path` under `workspace`, creating parent directories as needed.
    ///
    /// - Returns: an open descriptor the caller closes.
    public static func open(_ path: String, in workspace: URL, flags: Int32, mode: mode_t = 0o644) throws(WorkspaceError) -> Int32 {
        let (directory, name) = try openParent(of: path, in: workspace, create: flags & O_CREAT != 0)
        defer { close(directory) }
        let fd = openat(directory, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode)
        guard fd >= 0 else {
            let code = errno
            throw code == ELOOP ? .symlink(path) : .io(path: path, code: code, action: "open")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .io(path: path, code: code, action: "inspect")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw .notARegularFile(path)
        }
        guard info.st_nlink <= 1 else {
            close(fd)
            throw .multipleLinks(path)
        }
        // O_NONBLOCK only guarded the open against FIFOs; regular-file I/O ignores it, but clear it anyway.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// Opens the directory that holds `path`, walking from the workspace root one component at a
    /// time without following links.
    ///
    /// - Parameter create: create missing parent directories.
    /// - Returns: the parent's descriptor (the caller closes it) and the last component.
    public static func openParent(of path: String, in workspace: URL, create: Bool) throws(WorkspaceError) -> (Int32, String) {
        let parts = try components(of: path)
        let directory = try openDirectory(parts.dropLast(), path: path, in: workspace, create: create)
        return (directory, parts.last!)
    }

    /// Opens a directory of the workspace (`nil` or `""` is the root itself).
    public static func openDirectory(_ path: String?, in workspace: URL) throws(WorkspaceError) -> Int32 {
        guard let path, !path.isEmpty, path != "." else {
            return try openDirectory([][...], path: ".", in: workspace, create: false)
        }
        return try openDirectory(components(of: path)[...], path: path, in: workspace, create: false)
    }

    private static func openDirectory(_ parts: ArraySlice<String>, path: String, in workspace: URL, create: Bool) throws(WorkspaceError)
        -> Int32
    {
        var directory = Glibc.open(workspace.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw .io(path: workspace.path, code: errno, action: "open the workspace") }
        // The kernel's own confinement first: openat2 resolves the whole path beneath the held
        // workspace descriptor, following no link of any kind, atomically (no rename race).
        // Missing directories (to create) and kernels without openat2 take the walk below.
        if !parts.isEmpty {
            let fd = hearth_openat2(
                directory, parts.joined(separator: "/"), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, hearth_resolve_confined())
            if fd >= 0 {
                close(directory)
                return fd
            }
            let code = errno
            switch code {
            case ELOOP, EXDEV:
                close(directory)
                throw code == ELOOP ? .symlink(path) : .invalidPath(path, reason: "it resolves outside the workspace")
            case ENOTDIR:
                close(directory)
                throw .notADirectory(path)
            default: break  // ENOENT (to create), ENOSYS, EAGAIN: the walk decides
            }
        }
        for component in parts {
            var next = openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                if mkdirat(directory, component, 0o755) != 0 && errno != EEXIST {
                    let code = errno
                    close(directory)
                    throw .io(path: path, code: code, action: "create a directory for")
                }
                next = openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let code = errno
                let symlink = code == ELOOP || (code == ENOTDIR && Self.isSymlink(at: component, in: directory))
                close(directory)
                if symlink { throw .symlink(path) }
                if code == ENOTDIR { throw .notADirectory(path) }
                throw .io(path: path, code: code, action: "open")
            }
            close(directory)
            directory = next
        }
        return directory
    }

    private static func isSymlink(at name: String, in directory: Int32) -> Bool {
        var info = stat()
        return fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }
}
