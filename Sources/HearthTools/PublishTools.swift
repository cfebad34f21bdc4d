import Foundation
import HearthCore
import HearthSandbox
import HearthVault

/// Where an approved report goes (`[publish]`).
public struct PublishTarget: Sendable, Hashable {
    /// The documentation portal: a git repository.
    public var portal: URL?
    /// The portal's folder for reports.
    public var folder: String
    /// The remote to push the branch to.
    public var remote: String?
    /// The project channel's webhook URL, its secret part a `{{secret:NAME}}` handle.
    public var channel: String?

    public init(portal: URL?, folder: String = "compliance", remote: String? = nil, channel: String? = nil) {
        self.portal = portal
        self.folder = folder
        self.remote = remote
        self.channel = channel
    }

    /// The branch a report of this content is published on: "hearth/compliance-7-3f2a9c1d".
    public static func branch(report: String, sha256: String) -> String {
        "hearth/\(((report as NSString).lastPathComponent as NSString).deletingPathExtension)-\(sha256.prefix(8))"
    }
}

/// The report exactly as approved: its bytes must hash to the approved SHA-256, so a report
/// edited after its approval is refused and needs a new approval.
enum ApprovedReport {
    static let shaProperty: JSONValue = [
        "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "the SHA-256 of the report as approved",
    ]

    static func read(_ arguments: JSONValue, context: ToolContext, tool: String) throws(ToolError) -> (path: String, text: String) {
        let path = requiredString(arguments, "report")
        let approved = requiredString(arguments, "sha256")
        let (root, relative) = try context.locate(path, tool: tool, writing: false)
        let data = try confined(tool) { () throws(WorkspaceError) in try WorkspaceFiles.read(relative, in: root, limit: 16 << 20) }
        let actual = SHA256.hex(data)
        guard actual == approved else {
            throw .refused(
                tool: tool,
                reason:
                    "\(path) changed after it was approved (approved SHA-256 \(approved.prefix(12))…, now \(actual.prefix(12))…); nothing was "
                    + "published: publish it again ('hearth publish RUN') to approve this version")
        }
        return (path, try decodeText(data, path: path, tool: tool))
    }

    /// "- 7-3 NG-014.md line 18: Change "400 days" to …" for every violation the report drafts a remediation for.
    static func remediations(in report: String) -> [String] {
        var heading: String?
        var found: [String] = []
        for line in report.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### ") { heading = String(line.dropFirst(4)) }
            if line.hasPrefix("Remediation: "), let heading { found.append("- \(heading): \(line.dropFirst("Remediation: ".count))") }
        }
        return found
    }

    /// The report's title and its opening sentence, without markup.
    static func summary(of report: String) -> String {
        let lines = report.split(separator: "\n").map(String.init)
        let title = lines.first { $0.hasPrefix("# ") }.map { String($0.dropFirst(2)) } ?? "Report"
        let opening = lines.first { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? ""
        return "\(title): \(opening)".replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "`", with: "")
            .replacingOccurrences(of: "\\", with: "")
    }
}

/// `publish_portal`: commits an approved report and its remediation texts to the documentation
/// portal on a branch of their own. The commit is built with git's plumbing (a private index),
/// so the portal's working tree and current branch are never touched; the branch appears only
/// when the commit is whole, and a push that fails takes it away again.
public struct PublishPortalTool: Tool {
    public let spec = ToolSpec(
        name: "publish_portal",
        description: "Commit an approved report and its remediation texts to the documentation portal (a git repository) on a new branch.",
        parameters: objectSchema(
            [
                ("report", stringProperty("the report in the workspace, e.g. Reports/compliance-7.md")),
                ("sha256", ApprovedReport.shaProperty),
            ],
            required: ["report", "sha256"]))
    public let risk = ToolRisk.sendExternal
    public let idempotent = true
    let target: PublishTarget

    public init(target: PublishTarget) { self.target = target }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        guard let portal = target.portal else {
            throw ToolError.refused(tool: name, reason: "no documentation portal is configured: set [publish] portal to a git repository")
        }
        let writable = [context.workspace] + context.mounts.filter(\.writable).map(\.url)
        guard writable.contains(where: { portal.standardizedFileURL.path.hasPrefix($0.standardizedFileURL.path) }) else {
            throw ToolError.refused(
                tool: name,
                reason:
                    "the portal \(portal.path) is outside the workspace and the writable mounts; add it to [paths] mounts as \"\(portal.path):rw\""
            )
        }
        let (path, text) = try ApprovedReport.read(arguments, context: context, tool: name)
        let sha = requiredString(arguments, "sha256")
        let git = Git(directory: portal, tool: name)
        guard (try? await git.run(["rev-parse", "--git-dir"])) != nil else {
            throw ToolError.refused(
                tool: name, reason: "the portal \(portal.path) is not a git repository ('git init' it, or fix [publish] portal)")
        }
        let dirty = try await git.run(["status", "--porcelain", "--untracked-files=no"])
        guard dirty.isEmpty else {
            throw ToolError.refused(
                tool: name,
                reason:
                    "the portal \(portal.path) has uncommitted changes (\(dirty.split(separator: "\n").count) file(s)); commit or stash them "
                    + "first — nothing was published")
        }
        let branch = PublishTarget.branch(report: path, sha256: sha)
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let files = ["\(target.folder)/\(name).md", "\(target.folder)/\(name)-remediation.md"]
        if let existing = try? await git.run(["rev-parse", "--verify", "--quiet", "refs/heads/\(branch)"]), !existing.isEmpty {
            // A replay after a crash, or the same approved content again: already done.
            let message = try await git.run(["log", "-1", "--format=%B", existing])
            guard message.contains(sha) else {
                throw ToolError.failed(
                    tool: self.name, message: "the portal already has a branch \(branch) with other content; nothing was published")
            }
            return output(branch: branch, commit: existing, files: files, pushed: nil, again: true)
        }
        let remediations = ApprovedReport.remediations(in: text)
        let remediation =
            "# Remediation texts: \(name)\n\nDrafted by Hearth from \(path) (SHA-256 \(sha)).\n\n"
            + (remediations.isEmpty ? "No violation needs one.\n" : remediations.joined(separator: "\n") + "\n")
        let commit = try await git.commit(
            files: [(files[0], Data(text.utf8)), (files[1], Data(remediation.utf8))],
            message:
                "Compliance report \(name) from \(path)\n\nApproved content SHA-256 \(sha); run \(context.runID.map(String.init) ?? "-").")
        _ = try await git.run(["update-ref", "refs/heads/\(branch)", commit, String(repeating: "0", count: 40)])
        var pushed: String?
        if let remote = target.remote {
            do {
                _ = try await git.run(["push", "--porcelain", remote, "refs/heads/\(branch):refs/heads/\(branch)"], timeout: .seconds(120))
                pushed = remote
            } catch {
                _ = try? await git.run(["update-ref", "-d", "refs/heads/\(branch)", commit])
                throw ToolError.failed(
                    tool: self.name,
                    message: "the push to \(remote) failed (\(error.description)); the branch was removed again, nothing is published")
            }
        }
        return output(branch: branch, commit: commit, files: files, pushed: pushed, again: false)
    }

    func output(branch: String, commit: String, files: [String], pushed: String?, again: Bool) -> ToolOutput {
        ToolOutput(
            text: (again ? "already published: " : "committed ")
                + "\(files.joined(separator: " and ")) on branch \(branch) (\(commit.prefix(10)))"
                + (pushed.map { ", pushed to \($0)" } ?? ""),
            data: [
                "branch": .string(branch), "commit": .string(commit), "files": .array(files.map(JSONValue.string)),
                "pushed": pushed.map(JSONValue.string) ?? .null,
            ])
    }
}

/// `post_summary`: posts an approved report's summary to the project channel, a Slack- or
/// Mattermost-compatible incoming webhook, through the credential broker (the webhook's secret is
/// injected there, never seen here). Retried on a server error; a rejection fails the step.
public struct PostSummaryTool: Tool {
    public let spec = ToolSpec(
        name: "post_summary",
        description: "Post an approved report's summary to the project channel (an incoming webhook).",
        parameters: objectSchema(
            [("report", stringProperty("the report in the workspace")), ("sha256", ApprovedReport.shaProperty)],
            required: ["report", "sha256"]))
    public let risk = ToolRisk.sendExternal
    public let idempotent = false
    let target: PublishTarget
    let broker: VaultClient
    let attempts: Int
    let backoff: Duration

    public init(target: PublishTarget, broker: VaultClient, attempts: Int = 3, backoff: Duration = .seconds(1)) {
        self.target = target
        self.broker = broker
        self.attempts = attempts
        self.backoff = backoff
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        guard let channel = target.channel else {
            throw ToolError.refused(tool: name, reason: "no project channel is configured: set [publish] channel to the webhook's URL")
        }
        let (path, text) = try ApprovedReport.read(arguments, context: context, tool: name)
        var message = ApprovedReport.summary(of: text)
        if target.portal != nil {
            message +=
                " The report is on branch \(PublishTarget.branch(report: path, sha256: requiredString(arguments, "sha256"))) of the portal."
        }
        let body = (["text": .string(message)] as JSONValue).jsonText
        let template = RequestTemplate(
            method: "POST", url: channel, headers: [.init(name: "Content-Type", value: "application/json")], body: body, timeoutSeconds: 30)
        let caller = context.runID.map { "run:\($0)/\(context.taskID ?? "-")" } ?? "hearth"
        var said: [String] = []
        for attempt in 1...max(1, attempts) {
            if attempt > 1 { try await Task.sleep(for: backoff * (1 << (attempt - 2))) }
            do {
                let response = try await broker.request(template, caller: caller)
                if (200..<300).contains(response.status) {
                    return ToolOutput(
                        text: "posted the summary of \(path) to the project channel (HTTP \(response.status), attempt \(attempt))",
                        data: ["status": .number(Double(response.status)), "attempts": .number(Double(attempt)), "text": .string(message)])
                }
                said.append("HTTP \(response.status): \(response.body.prefix(200))")
                // A client error will not change by asking again.
                if response.status < 500 && response.status != 429 { break }
            } catch .brokerRefused(let code, let reason) where code != "transport" {
                throw ToolError.refused(tool: name, reason: reason)
            } catch {
                said.append(error.description)
            }
        }
        throw ToolError.failed(
            tool: name,
            message:
                "the project channel did not take the post after \(said.count) attempt(s) (\(said.joined(separator: "; "))); it was not posted"
        )
    }
}

/// git on a repository, one command at a time.
struct Git {
    let directory: URL
    let tool: String

    /// Runs git with `arguments` (and `environment` added); stdout, trimmed.
    @discardableResult
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)) async throws(ToolError)
        -> String
    {
        guard let git = ProgramRunner.locate("git") else {
            throw .failed(tool: tool, message: ProgramError.notInstalled(program: "git", package: "git").description)
        }
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let output: ProgramRunner.Output
        do {
            output = try await ProgramRunner.run(
                executable: URL(fileURLWithPath: "/usr/bin/env"),
                arguments: assignments + [git.path, "-C", directory.path, "-c", "core.hooksPath=/dev/null"] + arguments, timeout: timeout,
                maxOutput: 1 << 20)
        } catch {
            throw .failed(tool: tool, message: "git \(arguments.first ?? ""): \(error)")
        }
        guard output.status == 0 else {
            throw .failed(
                tool: tool,
                message: "git \(arguments.first ?? "") failed: \(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(300))"
            )
        }
        return String(decoding: output.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A commit of HEAD's tree with `files` added or replaced, made in a private index: the
    /// working tree, the real index and every ref stay as they are. Returns the commit's id.
    func commit(files: [(path: String, data: Data)], message: String) async throws(ToolError) -> String {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "hearth-publish-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .failed(tool: tool, message: "cannot prepare the commit: \(error)")
        }
        defer { try? FileManager.default.removeItem(at: scratch) }
        let index = ["GIT_INDEX_FILE": scratch.appending(path: "index").path]
        let parent = try? await run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        if let parent, !parent.isEmpty { try await run(["read-tree", parent], environment: index) }
        for (number, file) in files.enumerated() {
            let copy = scratch.appending(path: "file-\(number)")
            do { try file.data.write(to: copy) } catch { throw .failed(tool: tool, message: "cannot prepare the commit: \(error)") }
            let blob = try await run(["hash-object", "-w", copy.path])
            try await run(["update-index", "--add", "--cacheinfo", "100644,\(blob),\(file.path)"], environment: index)
        }
        let tree = try await run(["write-tree"], environment: index)
        let identity = [
            "GIT_AUTHOR_NAME": "Hearth", "GIT_AUTHOR_EMAIL": "hearth@localhost", "GIT_COMMITTER_NAME": "Hearth",
            "GIT_COMMITTER_EMAIL": "hearth@localhost",
        ]
        let parents = parent.map { $0.isEmpty ? [] : ["-p", $0] } ?? []
        return try await run(["commit-tree", tree] + parents + ["-m", message], environment: identity)
    }
}
