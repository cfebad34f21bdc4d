import Foundation

/// A plan as the planner model writes it: a small tree of tasks, before fan-out.
///
/// A task with `forEach` (a workspace glob such as `Receipts/*`) stands for one task per matching
/// file; the runtime expands it, so a plan over 50 files costs one planning call, not 50.
public struct PlanDraft: Sendable, Hashable, Codable {
    public struct Task: Sendable, Hashable, Codable {
        public var id: String
        public var title: String
        /// What the task's agent loop is asked to do; `{{item}}` is replaced by the file of a fan-out task.
        public var instructions: String
        public var dependsOn: [String]
        public var expectedOutput: String
        /// Tools the task may use (a subset of the tool box).
        public var tools: [String]
        /// A workspace glob: one task per matching file.
        public var forEach: String?
        /// Arguments fixed by the plan (e.g. `{"policy": "Policy.md"}`): every tool of the task
        /// that takes one gets this value, pinned in its schema, so the model cannot change it.
        public var bindings: [String: String]?
        /// The completion check: the task is done when this tool succeeds (no further model call).
        public var completesWith: String?
        /// A task that collects its dependencies' results in code (no model call, no tools).
        public var collect: Bool?

        public init(
            id: String, title: String, instructions: String, dependsOn: [String] = [], expectedOutput: String = "",
            tools: [String], forEach: String? = nil, bindings: [String: String]? = nil, completesWith: String? = nil, collect: Bool? = nil
        ) {
            self.collect = collect
            self.id = id
            self.title = title
            self.instructions = instructions
            self.dependsOn = dependsOn
            self.expectedOutput = expectedOutput
            self.tools = tools
            self.forEach = forEach
            self.bindings = bindings
            self.completesWith = completesWith
        }
    }

    public var tasks: [Task]

    public init(tasks: [Task]) {
        self.tasks = tasks
    }

    /// Limits that keep a plan reviewable and its run bounded.
    public struct Limits: Sendable, Hashable {
        public var maxTasks: Int
        public var maxItemsPerFanOut: Int

        public init(maxTasks: Int = 6, maxItemsPerFanOut: Int = 500) {
            self.maxTasks = maxTasks
            self.maxItemsPerFanOut = maxItemsPerFanOut
        }
    }

    /// The JSON schema the planner's answer is constrained to; tool names are an enum, so a
    /// constrained decoder cannot name a tool that does not exist.
    public static func schema(tools: [String], limits: Limits = Limits()) -> JSONValue {
        let id: JSONValue = ["type": "string", "pattern": "^[a-z][a-z0-9_-]{0,31}$"]
        return [
            "type": "object",
            "properties": [
                "tasks": [
                    "type": "array", "minItems": 1, "maxItems": .number(Double(limits.maxTasks)),
                    "items": [
                        "type": "object",
                        "properties": [
                            "id": id,
                            "title": ["type": "string", "minLength": 1, "maxLength": 60],
                            "instructions": ["type": "string", "minLength": 1, "maxLength": 240],
                            "dependsOn": ["type": "array", "items": id, "maxItems": 3],
                            "expectedOutput": ["type": "string", "maxLength": 80],
                            "tools": ["type": "array", "items": ["enum": .array(tools.map(JSONValue.string))], "maxItems": 4],
                            "forEach": ["type": "string", "maxLength": 40],
                        ],
                        "required": ["id", "title", "instructions", "dependsOn", "expectedOutput", "tools"],
                        "additionalProperties": false,
                    ],
                ]
            ],
            "required": ["tasks"],
            "additionalProperties": false,
        ]
    }

    /// Everything wrong with the plan, in words the planner (on a repair round) or a user can act on.
    ///
    /// Checks: at least one task and at most `limits.maxTasks`; unique ids; known dependencies,
    /// none on itself, no cycles; known tools; a relative `forEach` glob without `..`.
    public func problems(knownTools: Set<String>, limits: Limits = Limits()) -> [String] {
        var problems: [String] = []
        if tasks.isEmpty { problems.append("the plan has no tasks") }
        if tasks.count > limits.maxTasks { problems.append("the plan has \(tasks.count) tasks; at most \(limits.maxTasks) are allowed") }
        var seen: Set<String> = []
        for task in tasks {
            if task.id.isEmpty { problems.append("a task has an empty id") }
            if !seen.insert(task.id).inserted { problems.append("task id \"\(task.id)\" is used twice") }
            if task.instructions.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                problems.append("task \"\(task.id)\" has no instructions")
            }
        }
        let ids = Set(tasks.map(\.id))
        for task in tasks {
            for dependency in task.dependsOn {
                if dependency == task.id {
                    problems.append("task \"\(task.id)\" depends on itself")
                } else if !ids.contains(dependency) {
                    problems.append("task \"\(task.id)\" depends on \"\(dependency)\", which is not in the plan")
                }
            }
            for tool in task.tools where !knownTools.contains(tool) {
                problems.append("task \"\(task.id)\" names the unknown tool \"\(tool)\"")
            }
            if task.collect == true && !task.tools.isEmpty {
                problems.append("task \"\(task.id)\" collects results in code, so it takes no tools")
            }
            if let tool = task.completesWith, !task.tools.contains(tool) {
                problems.append("task \"\(task.id)\" completes with \"\(tool)\", which is not one of its tools")
            }
            if let glob = task.forEach {
                if glob.hasPrefix("/") || glob.split(separator: "/").contains("..") || glob.isEmpty {
                    problems.append("task \"\(task.id)\": forEach \"\(glob)\" must be a glob relative to the workspace, without \"..\"")
                }
            }
        }
        if let cycle = findCycle() {
            problems.append("the dependencies form a cycle: \(cycle.joined(separator: " → "))")
        }
        // A model that repeats one mistake gets it reported once.
        return problems.reduce(into: []) { unique, problem in if !unique.contains(problem) { unique.append(problem) } }
    }

    /// One dependency cycle, if any (ids in order, the first repeated at the end).
    func findCycle() -> [String]? {
        let byID = Dictionary(tasks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var state: [String: Int] = [:]  // 1 = on the current path, 2 = done
        var path: [String] = []
        func visit(_ id: String) -> [String]? {
            if state[id] == 2 { return nil }
            if state[id] == 1 {
                let start = path.firstIndex(of: id) ?? 0
                return Array(path[start...]) + [id]
            }
            state[id] = 1
            path.append(id)
            for dependency in byID[id]?.dependsOn ?? [] where byID[dependency] != nil {
                if let cycle = visit(dependency) { return cycle }
            }
            path.removeLast()
            state[id] = 2
            return nil
        }
        for task in tasks {
            if let cycle = visit(task.id) { return cycle }
        }
        return nil
    }
}

/// One task of an expanded plan, as the executor runs it.
public struct PlanTask: Sendable, Hashable, Codable {
    /// Unique in the run: the draft id, or `id[item]` for a fan-out item.
    public var id: String
    /// The draft task this came from.
    public var group: String
    /// The workspace file of a fan-out item.
    public var item: String?
    public var title: String
    public var instructions: String
    /// Draft ids (groups) this task waits for.
    public var dependsOn: [String]
    public var expectedOutput: String
    public var tools: [String]
    /// Arguments pinned for every tool that takes them (see `PlanDraft.Task.bindings`).
    public var bindings: [String: String]
    public var completesWith: String?
    /// Collects the results of the tasks it depends on in code (see `PlanDraft.Task.collect`).
    public var collect: Bool {
        get { collects ?? false }
        set { collects = newValue ? true : nil }
    }
    /// Optional in storage: plans saved before this field existed decode without it.
    private var collects: Bool?

    public init(
        id: String, group: String, item: String?, title: String, instructions: String, dependsOn: [String], expectedOutput: String,
        tools: [String], bindings: [String: String] = [:], completesWith: String? = nil, collect: Bool = false
    ) {
        self.collects = collect ? true : nil
        self.bindings = bindings
        self.completesWith = completesWith
        self.id = id
        self.group = group
        self.item = item
        self.title = title
        self.instructions = instructions
        self.dependsOn = dependsOn
        self.expectedOutput = expectedOutput
        self.tools = tools
    }
}

/// Why a plan cannot be expanded.
public enum PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid([String])
    case tooManyItems(task: String, glob: String, count: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalid(let problems): "the plan is not valid:\n- " + problems.joined(separator: "\n- ")
        case .tooManyItems(let task, let glob, let count, let limit):
            "task \"\(task)\": \"\(glob)\" matches \(count) files, more than the \(limit) one plan may fan out over; narrow the goal"
        }
    }
}

extension PlanDraft {
    /// Validates the plan and expands every `forEach` over the files `matches` returns for its glob.
    ///
    /// Deterministic: items come in sorted order and task ids carry the item, so the same plan
    /// over the same workspace always yields the same tasks.
    ///
    /// - Parameter matches: the workspace files (relative paths) a glob matches.
    /// - Throws: `PlanError`.
    public func expand(knownTools: Set<String>, limits: Limits = Limits(), matches: (String) throws -> [String]) throws -> [PlanTask] {
        let problems = problems(knownTools: knownTools, limits: limits)
        guard problems.isEmpty else { throw PlanError.invalid(problems) }
        var result: [PlanTask] = []
        for task in topologicallyOrdered() {
            guard let glob = task.forEach else {
                result.append(
                    PlanTask(
                        id: task.id, group: task.id, item: nil, title: task.title, instructions: task.instructions,
                        dependsOn: task.dependsOn, expectedOutput: task.expectedOutput, tools: task.tools, bindings: task.bindings ?? [:],
                        completesWith: task.completesWith, collect: task.collect ?? false))
                continue
            }
            let items = try matches(glob).sorted()
            guard items.count <= limits.maxItemsPerFanOut else {
                throw PlanError.tooManyItems(task: task.id, glob: glob, count: items.count, limit: limits.maxItemsPerFanOut)
            }
            for item in items {
                let instructions =
                    task.instructions.contains("{{item}}")
                    ? task.instructions.replacingOccurrences(of: "{{item}}", with: item)
                    : task.instructions + "\nThe file: \(item)"
                result.append(
                    PlanTask(
                        id: "\(task.id)[\(item)]", group: task.id, item: item, title: "\(task.title): \(item)",
                        instructions: instructions, dependsOn: task.dependsOn, expectedOutput: task.expectedOutput, tools: task.tools,
                        bindings: task.bindings ?? [:], completesWith: task.completesWith))
            }
        }
        return result
    }

    /// Tasks with every dependency before its dependents, otherwise in the planner's order.
    func topologicallyOrdered() -> [Task] {
        var placed: Set<String> = []
        var remaining = tasks
        var ordered: [Task] = []
        while !remaining.isEmpty {
            let index = remaining.firstIndex { $0.dependsOn.allSatisfy(placed.contains) } ?? 0
            let task = remaining.remove(at: index)
            placed.insert(task.id)
            ordered.append(task)
        }
        return ordered
    }
}

/// Matches workspace-relative paths against a glob: `*` and `?` within one path component,
/// `**` across components.
public enum WorkspaceGlob {
    public static func matches(_ path: String, glob: String) -> Bool {
        let pathParts = path.split(separator: "/").map(String.init)
        let globParts = glob.split(separator: "/").map(String.init)
        return match(pathParts[...], globParts[...])
    }

    private static func match(_ path: ArraySlice<String>, _ glob: ArraySlice<String>) -> Bool {
        guard let head = glob.first else { return path.isEmpty }
        if head == "**" {
            if match(path, glob.dropFirst()) { return true }
            return !path.isEmpty && match(path.dropFirst(), glob)
        }
        guard let component = path.first, matchComponent(Array(component), Array(head)) else { return false }
        return match(path.dropFirst(), glob.dropFirst())
    }

    private static func matchComponent(_ text: [Character], _ pattern: [Character]) -> Bool {
        var memo: [Int: Bool] = [:]
        func go(_ t: Int, _ p: Int) -> Bool {
            let key = t * (pattern.count + 1) + p
            if let known = memo[key] { return known }
            let result: Bool
            if p == pattern.count {
                result = t == text.count
            } else if pattern[p] == "*" {
                // A leading "*" does not match hidden files, as in a shell.
                if t == 0 && p == 0 && text.first == "." {
                    result = false
                } else {
                    result = go(t, p + 1) || (t < text.count && go(t + 1, p))
                }
            } else if t < text.count && (pattern[p] == "?" || pattern[p] == text[t]) {
                result = go(t + 1, p + 1)
            } else {
                result = false
            }
            memo[key] = result
            return result
        }
        return go(0, 0)
    }
}
