import Foundation
import HearthCore
import HearthSandbox

/// Why a configured repository cannot be followed.
public struct GitSourceError: Error, Sendable, CustomStringConvertible {
    public let repository: String
    public let reason: String
    public var description: String { "git source \(repository): \(reason)" }
}

/// One repository read with the `git` program: its branch tips, and the commits between two sets
/// of tips with author, message, files and size.
public struct GitRepository: Sendable {
    /// The name events carry (the configured path's last component, or the path).
    public let name: String
    public let worktree: URL
    public let gitDirectory: URL

    /// Opens `path`; throws when it is not a repository or git cannot read it.
    public static func open(_ path: URL, name: String) async throws -> GitRepository {
        guard FileManager.default.fileExists(atPath: path.path) else {
            throw GitSourceError(repository: name, reason: "\(path.path) does not exist")
        }
        let output = try await run(["-C", path.path, "rev-parse", "--absolute-git-dir"], repository: name)
        let directory = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !directory.isEmpty else { throw GitSourceError(repository: name, reason: "\(path.path) is not a git repository") }
        return GitRepository(name: name, worktree: path, gitDirectory: URL(fileURLWithPath: directory))
    }

    /// Branch and remote-branch tips: ref name → commit.
    public func tips() async throws -> [String: String] {
        let output = try await Self.run(
            [
                "--git-dir", gitDirectory.path, "for-each-ref", "--format=%(refname)%09%(objectname)%09%(objecttype)", "refs/heads",
                "refs/remotes",
            ],
            repository: name)
        var tips: [String: String] = [:]
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "\t").map(String.init)
            guard parts.count == 3, parts[2] == "commit", !parts[0].hasSuffix("/HEAD") else { continue }
            tips[parts[0]] = parts[1]
        }
        return tips
    }

    /// Commits reachable from `new` tips but not from `old` ones, oldest first (at most `limit`).
    public func commits(new: [String: String], old: [String: String], limit: Int = 2_000) async throws -> [GitCommit] {
        let heads = Set(new.values).subtracting(old.values)
        guard !heads.isEmpty else { return [] }
        var arguments = ["--git-dir", gitDirectory.path, "rev-list", "--reverse", "--topo-order", "--max-count=\(limit)"] + heads.sorted()
        // Tips that vanished (a force-push) or a commit git no longer has are skipped, not fatal.
        let known = try await existing(Set(old.values))
        if !known.isEmpty { arguments += ["--not"] + known.sorted() }
        let list = String(decoding: try await Self.run(arguments, repository: name), as: UTF8.self).split(separator: "\n").map(String.init)
        var commits: [GitCommit] = []
        for chunk in stride(from: 0, to: list.count, by: 100) {
            commits += try await details(Array(list[chunk..<min(list.count, chunk + 100)]))
        }
        let branchOf = Dictionary(new.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
        return commits.map { commit in
            var commit = commit
            commit.branch = branchOf[commit.sha].map { $0.replacingOccurrences(of: "refs/heads/", with: "") }
            return commit
        }
    }

    private func existing(_ shas: Set<String>) async throws -> Set<String> {
        var found: Set<String> = []
        for sha in shas {
            if (try? await Self.run(["--git-dir", gitDirectory.path, "cat-file", "-e", "\(sha)^{commit}"], repository: name)) != nil {
                found.insert(sha)
            }
        }
        return found
    }

    func details(_ shas: [String]) async throws -> [GitCommit] {
        guard !shas.isEmpty else { return [] }
        let output = try await Self.run(
            [
                "--git-dir", gitDirectory.path, "show", "--no-walk=unsorted", "--format=%x1e%H%x1f%aN <%aE>%x1f%aI%x1f%B%x1f", "--numstat",
                "--no-renames",
            ] + shas,
            repository: name)
        return Self.parse(String(decoding: output, as: UTF8.self))
    }

    /// Parses `git show --format=%x1e%H%x1f%aN <%aE>%x1f%aI%x1f%B%x1f --numstat` output.
    static func parse(_ text: String) -> [GitCommit] {
        text.split(separator: "\u{1E}").compactMap { record in
            let fields = record.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5 else { return nil }
            var files: [String] = []
            var insertions = 0
            var deletions = 0
            for line in fields[4].split(separator: "\n") {
                let parts = line.split(separator: "\t", maxSplits: 2).map(String.init)
                guard parts.count == 3 else { continue }
                insertions += Int(parts[0]) ?? 0
                deletions += Int(parts[1]) ?? 0
                files.append(parts[2])
            }
            return GitCommit(
                sha: fields[0].trimmingCharacters(in: .whitespacesAndNewlines), author: fields[1], date: Timestamp.parse(fields[2]),
                message: fields[3].trimmingCharacters(in: .whitespacesAndNewlines), files: files, insertions: insertions,
                deletions: deletions)
        }
    }

    static func run(_ arguments: [String], repository: String) async throws -> Data {
        guard let git = ProgramRunner.locate("git") else {
            throw GitSourceError(repository: repository, reason: "git is not installed (apt-get install git)")
        }
        // safe.directory: the repository may belong to another user (a mount); reading it is the point.
        let output = try await ProgramRunner.run(
            executable: git, arguments: ["-c", "safe.directory=*", "-c", "core.quotePath=false"] + arguments,
            environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "GIT_TERMINAL_PROMPT": "0"], timeout: .seconds(60),
            maxOutput: 64 << 20)
        guard output.status == 0 else {
            let reason = output.stderr.split(separator: "\n").first.map(String.init) ?? "git exited with \(output.status)"
            throw GitSourceError(repository: repository, reason: reason.replacingOccurrences(of: "fatal: ", with: ""))
        }
        return output.stdout
    }
}

/// One commit, as the git source journals it.
public struct GitCommit: Sendable, Hashable {
    public var sha: String
    public var author: String
    public var date: Date?
    public var message: String
    public var files: [String]
    public var insertions: Int
    public var deletions: Int
    public var branch: String? = nil

    public func event(repository: String, now: Date) -> NewEvent {
        var payload: [String: JSONValue] = [
            "repository": .string(repository), "commit": .string(sha), "author": .string(author), "message": .string(message),
            "files": .array(files.prefix(500).map(JSONValue.string)), "insertions": .number(Double(insertions)),
            "deletions": .number(Double(deletions)),
        ]
        if let branch { payload["branch"] = .string(branch) }
        if files.count > 500 { payload["filesTruncated"] = .number(Double(files.count)) }
        return NewEvent(
            source: "git", kind: "commit", key: "git:\(EventKeys.compact(repository)):\(sha)", payload: .object(payload),
            occurredAt: date ?? now,
            provenance: .untrusted)
    }
}
