import Foundation
import Glibc
import HearthProcess
import HearthTesting
import Testing

/// The one launcher every program Hearth starts goes through: what the child gets and what the
/// caller learns, checked on real processes.
@Suite("Starting a program", .timeLimit(.minutes(10)))
struct LaunchedProcessTests {
    /// Runs `script` under /bin/sh and returns its exit status and stdout.
    static func shell(_ script: String) async throws -> (status: Int32, stdout: String) {
        let output = try LaunchedProcess.pipe()
        let process = try await LaunchedProcess.start(
            URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script], output: .descriptor(output.write))
        let handle = FileHandle(fileDescriptor: output.read, closeOnDealloc: true)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return (await process.waitForExit(), text)
    }

    /// A field of /proc/PID/status as its hexadecimal mask.
    static func mask(_ field: String, in status: String) -> UInt64? {
        status.split(separator: "\n").first { $0.hasPrefix(field + ":") }
            .flatMap { UInt64($0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) }
    }

    @Test("the child starts with no signal blocked or ignored, though this process ignores some")
    func cleanSignals() async throws {
        signal(SIGPIPE, SIG_IGN)  // as the daemon (and swift-nio) do
        let mine = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        #expect((Self.mask("SigIgn", in: mine) ?? 0) & (1 << (UInt64(SIGPIPE) - 1)) != 0)
        // cat reads its own status: a shell's would show the mask it sets itself while it waits.
        let output = try LaunchedProcess.pipe()
        let process = try await LaunchedProcess.start(
            URL(fileURLWithPath: "/bin/cat"), arguments: ["/proc/self/status"], output: .descriptor(output.write))
        let child = String(decoding: FileHandle(fileDescriptor: output.read, closeOnDealloc: true).readDataToEndOfFile(), as: UTF8.self)
        let status = await process.waitForExit()
        #expect(status == 0)
        // The standard signals (1–31); glibc keeps 32 and 33 for its threads, out of any program's use.
        let standard: UInt64 = (1 << 31) - 1
        #expect(Self.mask("SigBlk", in: child).map { $0 & standard } == 0, "\(child)")
        #expect(Self.mask("SigIgn", in: child).map { $0 & standard } == 0, "\(child)")
    }

    @Test("the child leads its own process group and holds none of this process's descriptors")
    func groupAndDescriptors() async throws {
        // A descriptor without close-on-exec: a plain spawn would hand it down.
        let leaked = open("/dev/null", O_RDONLY)
        #expect(leaked > 2)
        defer { close(leaked) }
        let (status, stdout) = try await Self.shell("echo $$; cut -d' ' -f5 /proc/$$/stat; ls /proc/$$/fd")
        #expect(status == 0)
        let lines = stdout.split(separator: "\n").map(String.init)
        #expect(lines.count >= 5, "\(stdout)")
        #expect(lines[0] == lines[1], "the shell's process group is its own pid: \(stdout)")
        #expect(Set(lines.dropFirst(2)) == ["0", "1", "2"], "\(stdout)")
    }

    @Test("exit codes and signals are reported as a shell reports them")
    func exitStatus() async throws {
        #expect(try await Self.shell("exit 3").status == 3)
        #expect(try await Self.shell("kill -TERM $$").status == 128 + SIGTERM)
    }

    @Test("a program's exit is reported even when a worker it left behind holds its output open")
    func exitWithWorkerLeft() async throws {
        let output = try LaunchedProcess.pipe()
        defer { close(output.read) }
        let process = try await LaunchedProcess.start(
            URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "(sleep 600 &); exit 4"], output: .descriptor(output.write))
        #expect(await process.exitStatus(within: .seconds(60)) == 4)
        // The worker is in the program's group, so it is stopped with it.
        process.signalGroup(SIGKILL)
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(read(output.read, &buffer, 16) == 0, "the worker is gone, so its end of the pipe closed")
    }

    @Test("stop ends a program that ignores SIGTERM, and every worker it started")
    func stopIgnoringTerm() async throws {
        let marker = "\(Int.random(in: 3000...8999))"
        let output = try LaunchedProcess.pipe()
        let process = try await LaunchedProcess.start(
            URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "trap '' TERM; sleep \(marker) & echo started; wait"],
            output: .descriptor(output.write))
        let handle = FileHandle(fileDescriptor: output.read, closeOnDealloc: true)
        #expect(String(decoding: handle.availableData, as: UTF8.self).hasPrefix("started"))
        await process.stop(grace: .milliseconds(200))
        #expect(process.exitStatus == 128 + SIGKILL)
        #expect(handle.readDataToEndOfFile().isEmpty, "every holder of the pipe is gone")
        #expect(ProcessTable.commandLines().filter { $0.arguments == ["sleep", marker] }.isEmpty)
    }

    @Test("stop called from a cancelled task still gives the grace period and returns once the program is gone")
    func stopWhileCancelled() async throws {
        let process = try await LaunchedProcess.start(URL(fileURLWithPath: "/bin/sleep"), arguments: ["600"])
        let stopper = Task {
            try? await Task.sleep(for: .seconds(3_600))  // ends at once: the task is cancelled
            await process.stop(grace: .seconds(30))
        }
        stopper.cancel()
        await stopper.value
        #expect(process.exitStatus == 128 + SIGTERM, "SIGTERM ended it, not the SIGKILL after the grace")
        #expect(kill(process.pid, 0) != 0, "reaped")
    }

    @Test("a program that cannot be started is a clear error")
    func missingProgram() async throws {
        let error = await #expect(throws: LaunchedProcess.LaunchError.self) {
            try await LaunchedProcess.start(URL(fileURLWithPath: "/nonexistent/tool"), arguments: [])
        }
        #expect(error?.description.contains("could not start /nonexistent/tool") == true, "\(String(describing: error))")
        #expect(error?.reason.lowercased().contains("no such file") == true, "\(String(describing: error))")
    }
}
