// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "hearth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hearth", targets: ["hearth"]),
        .executable(name: "hearth-sandbox", targets: ["hearth-sandbox"]),
        .executable(name: "hearth-vault", targets: ["hearth-vault"]),
        .library(name: "HearthCore", targets: ["HearthCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Domain values, pure state machines and the seams every backend meets. Foundation only.
        .target(name: "HearthCore", swiftSettings: swiftSettings),

        // A few Linux calls Swift's Glibc module does not expose (malloc tuning, openat2, Landlock probes).
        .target(name: "CHearthSystem"),

        // Every program Hearth starts, started one way (posix_spawn): a clean signal mask, its own
        // process group, no descriptor of ours but the ones handed to it, its exit always seen.
        .target(name: "HearthProcess", dependencies: ["CHearthSystem"], swiftSettings: swiftSettings),

        // Hot loops needing instructions past the x86-64 baseline (POPCNT), chosen at run time.
        .target(name: "CHearthKernels"),

        // Reading and validating config.toml; XDG path resolution.
        .target(name: "HearthConfig", dependencies: ["HearthCore"], swiftSettings: swiftSettings),

        // SQLite through GRDB: the one place SQL lives.
        .target(
            name: "HearthStore",
            dependencies: ["HearthCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),

        // Memory: the in-process vector index, hybrid retrieval, fact rules, extraction, consolidation.
        .target(
            name: "HearthMemory",
            dependencies: [
                "HearthCore", "CHearthKernels",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Inference: OpenAI-compatible and Ollama clients, structured output, tool calling,
        // token accounting and budgets, llama-server supervision.
        .target(
            name: "HearthModels",
            dependencies: [
                "HearthCore", "HearthProcess",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Path confinement to the workspace and the runner for external programs.
        .target(name: "HearthSandbox", dependencies: ["HearthCore", "CHearthSystem", "HearthProcess"], swiftSettings: swiftSettings),

        // The credential vault: its sealed file format, secret handles, response scrubbing, the
        // broker's rules and wire protocol, and the client the agent uses. No HTTP library here:
        // the broker executable brings its own transport.
        .target(
            name: "HearthVault",
            dependencies: [
                "HearthCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // Built-in tools: workspace files, documents (PDF text, OCR), CSV, markdown, reports, receipts.
        .target(name: "HearthTools", dependencies: ["HearthCore", "HearthSandbox", "HearthVault"], swiftSettings: swiftSettings),

        // The sample workspace of `hearth demo` (SROIE receipts and a policy), embedded as resources.
        .target(
            name: "HearthDemo", dependencies: ["HearthCore", "HearthSandbox"], resources: [.copy("Sample")], swiftSettings: swiftSettings),

        // The runtime: triggers (cron, file watcher, maildir), the ledger executor, planner and goal executor.
        .target(
            name: "HearthAgent",
            dependencies: [
                "HearthCore", "HearthSandbox", "HearthMemory",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The loopback HTTP API (Hummingbird) and its client.
        .target(
            name: "HearthServer",
            dependencies: [
                "HearthCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Hearth as an MCP server (stdio and streamable HTTP on the daemon's port), through the
        // official Swift SDK; the stores reach it as hooks.
        .target(
            name: "HearthMCP",
            dependencies: [
                "HearthCore", "HearthSandbox", "HearthProcess", "HearthVault",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // The shared store of a fleet on PostgreSQL (postgres-nio), a sibling of HearthStore
        // behind the same Core protocols.
        .target(
            name: "HearthPostgres",
            dependencies: [
                "HearthCore", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // A fleet's agent identities: Ed25519 key pairs, signed agent-to-agent messages.
        .target(
            name: "HearthFleet",
            dependencies: ["HearthCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // Data-dir layout, init, the daemon's lock, logging and its one ServiceGroup.
        // The web dashboard: server-rendered pages on the daemon's port, one-time login links,
        // sessions and CSRF tokens, escaping everywhere.
        .target(
            name: "HearthDashboard",
            dependencies: [
                "HearthCore", "HearthSandbox", "HearthMemory", "HearthAgent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HearthDaemon",
            dependencies: [
                "HearthCore", "HearthConfig", "HearthStore", "HearthAgent", "HearthServer", "HearthModels", "HearthMemory",
                "HearthTools", "HearthVault", "HearthDashboard", "HearthMCP", "HearthPostgres", "CHearthSystem", "HearthProcess",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Benchmarks and the crash harness, shared by `hearth bench` and the test suite.
        .target(
            name: "HearthBench",
            dependencies: [
                "HearthCore", "HearthAgent", "HearthStore", "HearthServer", "HearthDaemon", "HearthModels", "HearthConfig", "HearthMemory",
                "HearthPostgres", "HearthProcess", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Helpers shared by tests: temp directories, the built binary, child processes.
        .target(
            name: "HearthTesting",
            dependencies: [
                "HearthCore", "HearthPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // The confined runner for shell commands (C: Landlock and namespaces apply to the calling
        // process before exec, which Foundation's Process cannot do).
        .executableTarget(name: "hearth-sandbox"),

        // The credential broker: owns vault.enc, answers on a Unix socket, injects secrets into
        // outgoing requests and scrubs them from responses. Nothing else runs in this process.
        .executableTarget(
            name: "hearth-vault",
            dependencies: [
                "HearthVault", "HearthConfig", "HearthCore", "CHearthSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "hearth",
            dependencies: [
                "HearthCore", "HearthConfig", "HearthStore", "HearthAgent", "HearthServer", "HearthDaemon",
                "HearthBench", "HearthModels", "HearthMemory", "HearthTools", "HearthDemo", "HearthSandbox", "HearthVault", "HearthMCP",
                "HearthProcess",
                "HearthFleet", "HearthPostgres", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "HearthCoreTests", dependencies: ["HearthCore", "HearthTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HearthPostgresTests",
            dependencies: [
                "HearthPostgres", "HearthStore", "HearthCore", "HearthTesting", .product(name: "PostgresNIO", package: "postgres-nio"),
                "HearthMemory", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthConfigTests",
            dependencies: ["HearthConfig", "HearthCore", "HearthTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthStoreTests",
            dependencies: ["HearthStore", "HearthCore", "HearthTesting", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthAgentTests",
            dependencies: [
                "HearthAgent", "HearthCore", "HearthStore", "HearthSandbox", "HearthTesting", "HearthModels", "HearthTools", "HearthDemo",
                "HearthMemory", "HearthPostgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthToolsTests",
            dependencies: ["HearthTools", "HearthCore", "HearthSandbox", "HearthDemo", "HearthTesting", "HearthProcess"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthVaultTests",
            dependencies: [
                "HearthVault", "HearthFleet", "HearthCore", "HearthTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthModelsTests",
            dependencies: [
                "HearthModels", "HearthCore", "HearthStore", "HearthTesting", "HearthMemory",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthMemoryTests",
            dependencies: [
                "HearthMemory", "HearthCore", "HearthStore", "HearthModels", "HearthTesting", "CHearthKernels",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthServerTests",
            dependencies: [
                "HearthServer", "HearthCore", "HearthStore", "HearthTesting", "HearthAgent",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HearthDaemonTests",
            dependencies: [
                "HearthDaemon", "HearthBench", "HearthCore", "HearthConfig", "HearthStore", "HearthServer",
                "HearthTesting", "HearthDemo", "HearthVault", "HearthDashboard", "HearthModels", "HearthPostgres", "HearthMCP",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
