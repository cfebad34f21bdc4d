import Foundation
import HearthCore
import Logging
import ServiceLifecycle
import Synchronization

/// Performs ready steps from the work ledger, a few runs at a time.
///
/// The ledger makes each step `running` and writes its intent before the executor sees it, and
/// the executor records the outcome after the effect returns. On graceful shutdown it stops
/// claiming, gives in-flight effects `shutdownGrace` to finish and record, then cancels the
/// rest; a step cancelled mid-effect has an intent and no result, which the next start
/// reconciles (re-run if idempotent, else `needsReview`).
public struct LedgerExecutor: Service {
    public struct Options: Sendable {
        public var concurrency: Int
        public var shutdownGrace: Duration
        public var workspace: URL

        public init(concurrency: Int, shutdownGrace: Duration, workspace: URL) {
            self.concurrency = concurrency
            self.shutdownGrace = shutdownGrace
            self.workspace = workspace
        }
    }

    private let ledger: any WorkLedger
    private let effects: EffectRegistry
    private let options: Options
    private let wake: WakeSignal
    private let clock: any WallClock
    private let logger: Logger

    public init(
        ledger: any WorkLedger, effects: EffectRegistry, options: Options, wake: WakeSignal, clock: any WallClock,
        logger: Logger
    ) {
        self.ledger = ledger
        self.effects = effects
        self.options = options
        self.wake = wake
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        let inFlight = InFlightCounter()
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                var backoff = Duration.milliseconds(250)
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    do {
                        while inFlight.value < options.concurrency, let claim = try await ledger.claimNextStep() {
                            inFlight.add(1)
                            group.addTask {
                                await perform(claim)
                                inFlight.add(-1)
                                wake.wake()
                            }
                        }
                        backoff = .milliseconds(250)
                        // Woken by new work; the one-minute re-check covers a CLI nudge that
                        // never arrived (the CLI writes the database directly).
                        await wake.wait(until: clock.now().addingTimeInterval(60), clock: clock)
                    } catch {
                        logger.error("executor: cannot claim a step: \(error); retrying in \(backoff)")
                        await wake.wait(until: clock.now().addingTimeInterval(backoff.inSeconds), clock: clock)
                        backoff = min(backoff * 2, .seconds(30))
                    }
                }
            } onGracefulShutdown: {
                wake.wake()
            }
            guard inFlight.value > 0 else { return }
            logger.notice("executor: waiting up to \(options.shutdownGrace) for \(inFlight.value) in-flight step(s)")
            let deadline = clock.now().addingTimeInterval(options.shutdownGrace.inSeconds)
            while inFlight.value > 0 && clock.now() < deadline {
                await wake.wait(until: deadline, clock: clock)
            }
            if inFlight.value > 0 {
                logger.warning("executor: interrupting \(inFlight.value) step(s); they are reconciled at the next start")
                group.cancelAll()
            }
        }
    }

    private func perform(_ claim: StepClaim) async {
        let step = claim.step
        let started = ContinuousClock.now
        let outcome: StepOutcome
        if let effect = effects[step.effect] {
            let context = EffectContext(
                idempotencyKey: step.idempotencyKey, runID: step.runID, stepID: step.id, attempt: claim.attempt,
                workspace: options.workspace)
            do {
                outcome = .succeeded(try await effect.perform(step.arguments, context: context))
            } catch is CancellationError {
                logger.warning("run \(step.runID) step \(step.id) (\(step.effect)) interrupted; left for recovery")
                return
            } catch {
                outcome = .failed(String(describing: error))
            }
        } else {
            outcome = .failed("unknown effect \"\(step.effect)\"; known effects: \(effects.names.joined(separator: ", "))")
        }
        let elapsed = ContinuousClock.now - started
        // Until the outcome is durable the step stays running with its intent; if the daemon
        // stops first, recovery decides from the intent and the effect's idempotency. During the
        // shutdown grace period recording goes on: that is what the grace period is for.
        let recorded = await retryUntilDurable(
            "record the outcome of run \(step.runID) step \(step.id)", logger: logger, initialDelay: .milliseconds(100),
            maximumDelay: .seconds(10), untilShutdown: false
        ) {
            try await ledger.recordOutcome(outcome, for: claim)
        }
        guard recorded != nil else {
            logger.error("run \(step.runID) step \(step.id): outcome not recorded; left for recovery")
            return
        }
        switch outcome {
        case .succeeded:
            logger.info(
                "run \(step.runID) step \(step.id) \(step.effect) succeeded",
                metadata: ["attempt": "\(claim.attempt)", "ms": "\(Int(elapsed.inMilliseconds))"])
        case .failed(let message):
            logger.warning(
                "run \(step.runID) step \(step.id) \(step.effect) failed: \(message)",
                metadata: ["attempt": "\(claim.attempt)", "ms": "\(Int(elapsed.inMilliseconds))"])
        }
    }
}

/// How many steps are in flight; shared between the claim loop and the step tasks.
private final class InFlightCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add(_ delta: Int) { count.withLock { $0 += delta } }
}
