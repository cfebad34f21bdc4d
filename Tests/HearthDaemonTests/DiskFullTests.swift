import Foundation
import HearthBench
import HearthCore
import HearthTesting
import Testing

/// Whether `unshare -rm` works here (it needs unprivileged user namespaces).
let userNamespacesWork: Bool = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
    process.arguments = ["-rm", "true"]
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}()

/// A real full disk: a 1 MiB tmpfs mounted in a private user+mount namespace (`unshare -rm`), so
/// no root and no machine-wide change is needed. Skipped where user namespaces are unavailable.
@Suite("Full disk", .timeLimit(.minutes(2)), .enabled(if: Preconditions.run(if: userNamespacesWork)))
struct DiskFullTests {
    @Test("event add on a full disk fails with one line saying so, and earlier events survive")
    func eventAddOnFullDisk() async throws {
        let root = try TemporaryDirectory(prefix: "full")
        let mount = root.appending("mnt")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let hearth = HearthBinary.url.path
        let data = mount.path + "/data"
        // Inside the namespace: mount, record one event, fill the disk, try another, show the journal.
        let script = """
            set -u
            mount -t tmpfs -o size=1m tmpfs '\(mount.path)' || exit 90
            '\(hearth)' event add --data-dir '\(data)' --workspace '\(mount.path)/ws' --kind before --key before >/dev/null || exit 91
            dd if=/dev/zero of='\(mount.path)/filler' bs=4k 2>/dev/null
            '\(hearth)' event add --data-dir '\(data)' --workspace '\(mount.path)/ws' --kind after --payload '{"pad": "\(String(repeating: "x", count: 8000))"}' 2>'\(root.path)/stderr.txt'
            echo "status=$?" > '\(root.path)/status.txt'
            rm -f '\(mount.path)/filler'
            '\(hearth)' events --json --data-dir '\(data)' --workspace '\(mount.path)/ws' > '\(root.path)/events.json'
            """
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/unshare"), ["-rm", "sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let status = try String(contentsOf: root.appending("status.txt"), encoding: .utf8)
        #expect(status == "status=1\n")
        let stderr = try String(contentsOf: root.appending("stderr.txt"), encoding: .utf8)
        #expect(stderr.lines.count == 1, "\(stderr)")
        #expect(stderr.contains("disk full") || stderr.contains("no space left on device"), "\(stderr)")
        let events = try JSONValue(parsing: try Data(contentsOf: root.appending("events.json")))
        #expect(events.arrayValue?.map { $0["kind"] } == ["before"])
    }

    @Test("vault add on a full disk fails with one clear line, and the vault keeps its earlier secret")
    func vaultAddOnFullDisk() async throws {
        let root = try TemporaryDirectory(prefix: "full")
        let mount = root.appending("mnt")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let hearth = HearthBinary.url.path
        let flags = "--data-dir '\(mount.path)/data' --key-file '\(root.path)/vault.key'"
        let script = """
            set -u
            mount -t tmpfs -o size=1m tmpfs '\(mount.path)' || exit 90
            printf first | '\(hearth)' vault add first --host api.example.com \(flags) >/dev/null || exit 91
            dd if=/dev/zero of='\(mount.path)/filler' bs=4k 2>/dev/null
            head -c 300000 /dev/zero | tr '\\0' 'x' | '\(hearth)' vault add second --host api.example.com \(flags) 2>'\(root.path)/stderr.txt'
            echo "status=$?" > '\(root.path)/status.txt'
            rm -f '\(mount.path)/filler'
            '\(hearth)' vault list --json \(flags) > '\(root.path)/list.json'
            """
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/unshare"), ["-rm", "sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOf: root.appending("status.txt"), encoding: .utf8) == "status=1\n")
        let stderr = try String(contentsOf: root.appending("stderr.txt"), encoding: .utf8)
        #expect(stderr.lines.count == 1 && stderr.contains("No space left on device") && stderr.contains("unchanged"), "\(stderr)")
        let list = try JSONValue(parsing: try Data(contentsOf: root.appending("list.json")))
        #expect(list["secrets"]?.arrayValue?.map { $0["name"] } == ["first"])
    }
}
