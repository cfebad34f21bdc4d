import CHearthSystem
import Foundation
import Glibc

/// Which confinement mechanisms this machine offers, each with what to do when it is missing.
public struct SandboxProbe: Sendable {
    public struct Check: Sendable {
        public var name: String
        public var available: Bool
        public var detail: String
        /// What to do when it is not available (empty when it is).
        public var remedy: String
    }

    public var checks: [Check]

    public static func run(workspace: URL) -> SandboxProbe {
        var checks: [Check] = []

        // openat2: the kernel resolves workspace paths beneath the workspace, following no link.
        let root = open(workspace.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if root >= 0 {
            let fd = hearth_openat2(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, hearth_resolve_confined())
            let code = errno
            if fd >= 0 { close(fd) }
            close(root)
            checks.append(
                Check(
                    name: "openat2", available: fd >= 0,
                    detail: fd >= 0 ? "RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS" : String(cString: strerror(code)),
                    remedy: fd >= 0
                        ? "" : "a Linux kernel ≥ 5.6 adds it; until then file tools use a component-by-component O_NOFOLLOW walk"))
        } else {
            checks.append(
                Check(
                    name: "openat2", available: false, detail: "the workspace \(workspace.path) cannot be opened",
                    remedy: "create it ('hearth init') or pass --workspace"))
        }

        // Landlock: what the shell helper confines itself with.
        let abi = hearth_landlock_abi()
        let landlockError = errno
        checks.append(
            Check(
                name: "landlock", available: abi > 0,
                detail: abi > 0
                    ? "ABI \(abi)"
                    : landlockError == EOPNOTSUPP
                        ? "built into the kernel but disabled at boot" : "not in this kernel (\(String(cString: strerror(landlockError))))",
                remedy: abi > 0
                    ? ""
                    : landlockError == EOPNOTSUPP
                        ? "add landlock to the kernel's lsm= boot parameter (e.g. lsm=landlock,lockdown,yama,apparmor)"
                        : "a kernel ≥ 5.13 with CONFIG_SECURITY_LANDLOCK=y; without it the shell tool is refused"))

        // User namespaces: for a private network namespace (no network for shell commands).
        let userns = hearth_user_namespaces_work() == 1
        checks.append(
            Check(
                name: "user namespaces", available: userns,
                detail: userns ? "unprivileged user namespaces can be created" : "creating a user namespace was refused",
                remedy: userns ? "" : "sysctl -w kernel.unprivileged_userns_clone=1 (Debian), or install bubblewrap setuid"))

        // bubblewrap: the shell helper's fallback where Landlock or user namespaces are missing.
        let bwrap = ProgramRunner.locate("bwrap")
        checks.append(
            Check(
                name: "bubblewrap", available: bwrap != nil, detail: bwrap?.path ?? "bwrap is not installed",
                remedy: bwrap == nil ? "apt-get install bubblewrap (optional when Landlock and user namespaces work)" : ""))

        // Document tools.
        for (program, package) in [("pdftotext", "poppler-utils"), ("tesseract", "tesseract-ocr")] {
            let found = ProgramRunner.locate(program)
            checks.append(
                Check(
                    name: program, available: found != nil, detail: found?.path ?? "not installed",
                    remedy: found == nil ? "scripts/setup (or apt-get install \(package))" : ""))
        }
        return SandboxProbe(checks: checks)
    }
}
