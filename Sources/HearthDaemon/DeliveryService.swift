import AsyncHTTPClient
import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthSandbox
import HearthStore
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Somewhere an interruption is delivered. `deliver` returns only when the channel confirmed it
/// (an HTTP 2xx, the notification daemon's reply) and throws otherwise.
protocol NotificationChannel: Sendable {
    var name: String { get }
    func deliver(_ item: AttentionItem) async throws
}

struct ChannelError: Error, CustomStringConvertible {
    let description: String
}

/// An HTTP webhook: our JSON, ntfy's JSON publish, or Slack's `{"text"}`.
struct WebhookChannel: NotificationChannel {
    let url: String
    let format: Configuration.Notify.Format
    var name: String { "webhook" }

    func deliver(_ item: AttentionItem) async throws {
        var target = url
        let body: JSONValue
        let why = item.decision.reasons.filter { $0.weight > 0 && !$0.signal.hasPrefix("base.") }.map(\.detail).joined(separator: "; ")
        switch format {
        case .json:
            body = [
                "event": .number(Double(item.eventID)), "text": .string(item.decision.headline), "why": .string(why),
                "source": .string(item.source),
            ]
        case .slack:
            body = ["text": .string("*\(item.decision.headline)*\n\(why)")]
        case .ntfy:
            // ntfy's JSON publishing goes to the server root and names the topic in the body.
            guard let parsed = URL(string: url), let host = parsed.host else { throw ChannelError(description: "bad ntfy URL") }
            let topic = parsed.lastPathComponent
            target = "\(parsed.scheme ?? "https")://\(host)\(parsed.port.map { ":\($0)" } ?? "")/"
            body = [
                "topic": .string(topic), "title": .string(item.decision.headline),
                "message": .string(why.isEmpty ? item.decision.headline : why), "priority": 4,
            ]
        }
        var request = HTTPClientRequest(url: target)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        guard (200..<300).contains(Int(response.status.code)) else {
            throw ChannelError(description: "\(target) answered \(response.status.code) \(response.status.reasonPhrase)")
        }
    }
}

/// A desktop notification through `notify-send`, which exits 0 once the notification daemon took it.
struct DesktopChannel: NotificationChannel {
    var name: String { "desktop" }

    static var available: Bool {
        ProcessInfo.processInfo.environment["DBUS_SESSION_BUS_ADDRESS"] != nil && ProgramRunner.locate("notify-send") != nil
    }

    func deliver(_ item: AttentionItem) async throws {
        guard let program = ProgramRunner.locate("notify-send") else {
            throw ChannelError(description: "notify-send is not installed (libnotify-bin)")
        }
        var environment = ["PATH": "/usr/bin:/bin"]
        environment["DBUS_SESSION_BUS_ADDRESS"] = ProcessInfo.processInfo.environment["DBUS_SESSION_BUS_ADDRESS"]
        let output = try await ProgramRunner.run(
            executable: program, arguments: ["--app-name=Hearth", "--urgency=critical", "Hearth", item.decision.headline],
            environment: environment,
            timeout: .seconds(10))
        guard output.status == 0 else { throw ChannelError(description: "notify-send: \(output.stderr.prefix(200))") }
    }
}

/// Delivers interruptions to every channel until each confirms, retrying with backoff (15 s,
/// doubling, at most an hour apart). Nothing counts as sent before the channel said so; the
/// inbox shows each delivery's state and last error.
struct DeliveryService: Service {
    let store: any DeliveryBook
    let attention: any AttentionStore
    let channels: [any NotificationChannel]
    let wake: WakeSignal
    let clock: any WallClock
    let logger: Logger

    static func channels(_ configuration: Configuration) -> [any NotificationChannel] {
        var channels: [any NotificationChannel] = []
        if let webhook = configuration.notify.webhook { channels.append(WebhookChannel(url: webhook, format: configuration.notify.format)) }
        if configuration.notify.desktop && DesktopChannel.available { channels.append(DesktopChannel()) }
        return channels
    }

    static func backoff(attempts: Int) -> TimeInterval { min(3_600, 15 * pow(2, Double(max(0, attempts - 1)))) }

    func run() async throws {
        let byName = Dictionary(uniqueKeysWithValues: channels.map { ($0.name, $0) })
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    for delivery in try await store.due(at: clock.now(), limit: 50) {
                        guard let channel = byName[delivery.channel], let item = try await attention.item(eventID: delivery.eventID) else {
                            try await store.failed(
                                delivery, error: "the channel is no longer configured", retryAt: clock.now().addingTimeInterval(86_400))
                            continue
                        }
                        do {
                            try await channel.deliver(item)
                            try await store.delivered(delivery, at: clock.now())
                        } catch {
                            let retry = clock.now().addingTimeInterval(Self.backoff(attempts: delivery.attempts + 1))
                            try await store.failed(delivery, error: "\(error)", retryAt: retry)
                            logger.warning(
                                "delivery of event \(delivery.eventID) to \(delivery.channel) failed (attempt \(delivery.attempts + 1)): \(error)"
                            )
                        }
                    }
                    let next = try await store.nextAttempt()
                    await wake.wait(
                        until: next.map { min($0, clock.now().addingTimeInterval(3_600)) } ?? clock.now().addingTimeInterval(3_600),
                        clock: clock)
                } catch {
                    logger.error("delivery: \(error); retrying in 15 s")
                    await wake.wait(until: clock.now().addingTimeInterval(15), clock: clock)
                }
            }
        } onGracefulShutdown: {
            wake.wake()
        }
    }
}
