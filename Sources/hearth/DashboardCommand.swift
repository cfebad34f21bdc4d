import ArgumentParser
import Foundation
import HearthCore
import HearthDaemon
import HearthProcess
import HearthSandbox
import HearthServer

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "The web dashboard: prints a one-time login link (and opens it where a desktop browser exists).",
        discussion: """
            The dashboard is served by the running daemon on its loopback port. The link signs one browser in \
            (an HttpOnly session cookie) and works once, for ten minutes; run the command again for another.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .customLong("print-url"), help: "Print the link and exit, without opening a browser.")
    var printURL = false

    func run() async throws {
        let context = try common.load()
        guard let running = DaemonState.running(context.paths), let state = running.state,
            let token = try? DataDirectory.readToken(context.paths)
        else {
            throw CLIError("no daemon is running: start it with 'hearth daemon', then run 'hearth dashboard' again")
        }
        let reply = try await DaemonClient(port: state.port, token: token, timeout: .seconds(10)).post("/v1/dashboard/link", [:])
        guard reply.status == 200, let login = reply.body["token"]?.stringValue else {
            throw CLIError(
                "the daemon did not make a login link (\(reply.status)): \(reply.body["error"]?.stringValue ?? reply.body.jsonText)")
        }
        let url = "http://127.0.0.1:\(state.port)/login?token=\(login)"
        print(url)
        let environment = ProcessInfo.processInfo.environment
        guard !printURL, environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil,
            let opener = ProgramRunner.locate("xdg-open")
        else { return }
        _ = try? await LaunchedProcess.start(opener, arguments: [url])
    }
}
