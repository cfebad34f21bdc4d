import GRDB

/// A WHERE clause assembled from optional conditions, with its arguments in order.
///
/// ```swift
/// var conditions = SQLConditions()
/// conditions.add("id > ?", afterID)
/// if let kind { conditions.add("kind = ?", kind) }
/// let rows = try Row.fetchAll(db, sql: "SELECT * FROM event \(conditions.whereClause)", arguments: conditions.arguments)
/// ```
struct SQLConditions {
    private var clauses: [String] = []
    private(set) var arguments = StatementArguments()

    mutating func add(_ clause: String, _ values: (any DatabaseValueConvertible)?...) {
        clauses.append(clause)
        _ = arguments.append(contentsOf: StatementArguments(values))
    }

    /// A condition with a list of arguments (`state IN (?, ?, …)`).
    mutating func add(_ clause: String, arguments values: [any DatabaseValueConvertible]) {
        clauses.append(clause)
        _ = arguments.append(contentsOf: StatementArguments(values))
    }

    /// `WHERE a AND b`, or nothing when there are no conditions.
    var whereClause: String { clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ") }
}
