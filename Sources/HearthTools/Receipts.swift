import Foundation
import HearthCore

/// What a receipt says, read deterministically from its text (parsing a total is not a job for a
/// language model).
public struct ReceiptFields: Sendable, Hashable {
    public var vendor: String?
    /// ISO `yyyy-MM-dd`.
    public var date: String?
    public var total: Double?

    public init(vendor: String?, date: String?, total: Double?) {
        self.vendor = vendor
        self.date = date
        self.total = total
    }

    /// Reads the fields from OCR or PDF text, one printed line per text line.
    public static func parse(_ text: String) -> ReceiptFields {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return ReceiptFields(vendor: vendor(lines), date: date(lines), total: total(lines))
    }

    /// The first line among the top few that reads like a business name (receipts often print
    /// the owner's name first), else the first line with words.
    static func vendor(_ lines: [String]) -> String? {
        let top = lines.prefix(6)
        let markers = [
            "SDN", "BHD", "S/B", "ENTERPRISE", "TRADING", "RESTAURANT", "STORE", "MART", "SHOP", "HARDWARE", "CO.", "LTD", "PLT", "BOOK",
        ]
        return top.first { line in markers.contains(where: line.uppercased().contains) } ?? top.first { $0.filter(\.isLetter).count >= 3 }
    }

    // MARK: total

    private static let amount = try! NSRegularExpression(
        pattern: #"(?<![\d.])(-)?\s*(?:RM|\$)?\s*(\d{1,3}(?:,\d{3})+|\d+)[.,](\d{2})(?!\d)"#)
    private static let priorities: [(String, Int)] = [
        ("GRAND TOTAL", 0), ("TOTAL ROUNDED", 1), ("ROUNDED TOTAL", 1), ("NETT TOTAL", 1), ("NET TOTAL", 1), ("TOTAL AMOUNT", 2),
        ("TOTAL (RM)", 2), ("TOTAL INCL", 2), ("AMOUNT DUE", 2), ("TOTAL", 3),
    ]
    private static let notTheTotal = [
        "SUB TOTAL", "SUBTOTAL", "SUB-TOTAL", "TOTAL QTY", "TOTAL ITEM", "TOTAL QUANTITY", "TOTAL GST", "GST TOTAL", "TOTAL TAX",
        "TOTAL EXCL", "TOTAL DISCOUNT", "TOTAL SAVING", "TOTAL NO", "EXCLUDING",
    ]

    static func amounts(in line: String) -> [Double] {
        let range = NSRange(line.startIndex..., in: line)
        return amount.matches(in: line, range: range).compactMap { match in
            guard let whole = Range(match.range(at: 2), in: line), let cents = Range(match.range(at: 3), in: line),
                let value = Double(line[whole].replacingOccurrences(of: ",", with: "") + "." + line[cents])
            else { return nil }
            return match.range(at: 1).location == NSNotFound ? value : -value
        }
    }

    /// The amount on a line labelled as the total (the label's priority decides between several;
    /// a value printed on the next lines counts, since receipts put columns on lines of their
    /// own), adjusted by a printed rounding; the largest amount when no line is labelled.
    static func total(_ lines: [String]) -> Double? {
        var candidates: [(priority: Int, value: Double)] = []
        for (index, line) in lines.enumerated() {
            let upper = line.uppercased()
            guard upper.contains("TOTAL") || upper.contains("AMOUNT DUE") else { continue }
            guard !notTheTotal.contains(where: upper.contains) else { continue }
            guard let priority = priorities.first(where: { upper.contains($0.0) })?.1 else { continue }
            var values = amounts(in: line).filter { $0 > 0 }
            var next = index + 1
            while values.isEmpty && next < min(lines.count, index + 4) {
                values = amounts(in: lines[next]).filter { $0 > 0 }
                next += 1
            }
            if let last = values.last { candidates.append((priority, last)) }
        }
        guard let best = candidates.map(\.priority).min() else {
            return lines.flatMap(amounts(in:)).filter { $0 > 0 }.max()
        }
        var total = candidates.filter { $0.priority == best }.map(\.value).max()!
        // Cash totals are rounded to 5 sen; a printed rounding adjustment turns 60.31 into 60.30.
        let inCents = (total * 100).rounded()
        if Int(inCents) % 5 != 0, let adjustment = rounding(lines) {
            total = ((total + adjustment) * 100).rounded() / 100
        }
        return total
    }

    static func rounding(_ lines: [String]) -> Double? {
        for (index, line) in lines.enumerated() {
            let upper = line.uppercased()
            guard upper.contains("ROUND"), !upper.contains("TOTAL") else { continue }
            for candidate in lines[index..<min(lines.count, index + 3)] {
                if let value = amounts(in: candidate).first {
                    return abs(value) < 0.05 ? value : nil
                }
            }
        }
        return nil
    }

    // MARK: date

    private static let dayFirst = try! NSRegularExpression(pattern: #"(?<!\d)(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4}|\d{2})(?!\d)"#)
    private static let yearFirst = try! NSRegularExpression(pattern: #"(?<!\d)(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})(?!\d)"#)
    private static let monthName = try! NSRegularExpression(
        pattern: #"(?<!\d)(\d{1,2})[\s\-]*(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*[\s\-,]*(\d{4}|\d{2})(?!\d)"#,
        options: .caseInsensitive)
    private static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    /// The first date on a line that mentions a date, else the first date anywhere; day first
    /// (as these receipts print it) unless that is impossible.
    static func date(_ lines: [String]) -> String? {
        let labelled = lines.filter { $0.uppercased().contains("DATE") }
        for line in labelled + lines {
            if let found = firstDate(in: line) { return found }
        }
        return nil
    }

    public static func firstDate(in line: String) -> String? {
        let range = NSRange(line.startIndex..., in: line)
        func group(_ match: NSTextCheckingResult, _ index: Int) -> String { String(line[Range(match.range(at: index), in: line)!]) }
        var found: [(Int, String)] = []
        if let m = yearFirst.firstMatch(in: line, range: range), let iso = iso(Int(group(m, 1)), Int(group(m, 2)), Int(group(m, 3))) {
            found.append((m.range.location, iso))
        }
        if let m = dayFirst.firstMatch(in: line, range: range) {
            let (a, b, year) = (Int(group(m, 1)) ?? 0, Int(group(m, 2)) ?? 0, Int(group(m, 3)) ?? 0)
            let fullYear = year < 100 ? 2000 + year : year
            if let iso = iso(fullYear, b, a) ?? iso(fullYear, a, b) { found.append((m.range.location, iso)) }
        }
        if let m = monthName.firstMatch(in: line, range: range) {
            let month = (months.firstIndex(of: group(m, 2).uppercased()) ?? -1) + 1
            let year = Int(group(m, 3)) ?? 0
            if let iso = iso(year < 100 ? 2000 + year : year, month, Int(group(m, 1))) { found.append((m.range.location, iso)) }
        }
        return found.min { $0.0 < $1.0 }?.1
    }

    private static func iso(_ year: Int?, _ month: Int?, _ day: Int?) -> String? {
        guard let year, let month, let day, (1990...2100).contains(year), (1...12).contains(month), (1...31).contains(day) else {
            return nil
        }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }
}

/// The checkable rules of an expense policy written in prose: an amount limit ("over 100") and
/// a claim period ("2018-04-01 to 2018-06-30" or "Q2 2018").
public struct ExpensePolicy: Sendable, Hashable {
    public var amountLimit: Double?
    /// ISO dates, inclusive.
    public var period: ClosedRange<String>?

    public enum ParseError: Error, Sendable, CustomStringConvertible {
        case noRules
        public var description: String {
            "the policy states no rule that can be checked: write an amount limit (\"any receipt over 100\") or a claim period "
                + "(\"2018-04-01 to 2018-06-30\" or \"Q2 2018\")"
        }
    }

    public static func parse(_ text: String) throws(ParseError) -> ExpensePolicy {
        var policy = ExpensePolicy()
        let limit = try! NSRegularExpression(
            pattern: #"(?:over|above|more than|exceeding|greater than)\s+(?:RM\s*|\$\s*|EUR\s*|€\s*)?(\d+(?:\.\d+)?)"#,
            options: .caseInsensitive)
        let range = NSRange(text.startIndex..., in: text)
        if let match = limit.firstMatch(in: text, range: range), let value = Range(match.range(at: 1), in: text) {
            policy.amountLimit = Double(text[value])
        }
        let explicit = try! NSRegularExpression(pattern: #"(\d{4}-\d{2}-\d{2})\s*(?:to|until|through|–|—|-)\s*(\d{4}-\d{2}-\d{2})"#)
        let quarter = try! NSRegularExpression(pattern: #"\bQ([1-4])\s*(\d{4})\b"#)
        if let match = explicit.firstMatch(in: text, range: range), let from = Range(match.range(at: 1), in: text),
            let to = Range(match.range(at: 2), in: text), text[from] <= text[to]
        {
            policy.period = String(text[from])...String(text[to])
        } else if let match = quarter.firstMatch(in: text, range: range), let q = Range(match.range(at: 1), in: text),
            let y = Range(match.range(at: 2), in: text), let number = Int(text[q])
        {
            let ends = ["03-31", "06-30", "09-30", "12-31"]
            let year = String(text[y])
            policy.period = String(format: "%@-%02d-01", year, (number - 1) * 3 + 1)...("\(year)-\(ends[number - 1])")
        }
        guard policy.amountLimit != nil || policy.period != nil else { throw .noRules }
        return policy
    }

    /// Why a receipt breaks the policy (empty when it does not).
    public func flags(for receipt: ReceiptFields) -> [String] {
        var flags: [String] = []
        if let limit = amountLimit {
            if let total = receipt.total {
                if total > limit { flags.append("total \(String(format: "%.2f", total)) is over the limit of \(Self.format(limit))") }
            } else {
                flags.append("no readable total; check it by hand")
            }
        }
        if let period {
            if let date = receipt.date {
                if !period.contains(date) {
                    flags.append("dated \(date), outside the claim period \(period.lowerBound) to \(period.upperBound)")
                }
            } else {
                flags.append("no readable date; check it by hand")
            }
        }
        return flags
    }

    private static func format(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }
}

/// Reads a receipt (text, PDF or image) and checks it against the policy file.
public struct CheckReceiptTool: Tool {
    public let spec = ToolSpec(
        name: "check_receipt",
        description:
            "Read one receipt (text, PDF or image) and check it against an expense policy file; returns vendor, date, total and flags.",
        parameters: objectSchema(
            [
                ("path", stringProperty("the receipt, relative to the workspace")),
                ("policy", stringProperty("the policy file, e.g. Policy.md")),
            ],
            required: ["path", "policy"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    /// A receipt's id: its file name without the extension (the SROIE file number, e.g. "007").
    public static func receiptID(_ path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        let policyPath = requiredString(arguments, "policy")
        let policyText = try await DocumentText.extract(policyPath, context: context, tool: name).text
        let policy: ExpensePolicy
        do {
            policy = try ExpensePolicy.parse(policyText)
        } catch {
            throw ToolError.failed(tool: name, message: "\(policyPath): \(error)")
        }
        let document = try await DocumentText.extract(path, context: context, tool: name)
        guard !document.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ToolError.failed(tool: name, message: "\"\(path)\" contains no readable text")
        }
        let fields = ReceiptFields.parse(document.text)
        let flags = policy.flags(for: fields)
        let id = Self.receiptID(path)
        var data: [String: JSONValue] = [
            "id": .string(id), "path": .string(path), "source": .string(document.kind.rawValue),
            "flags": .array(flags.map(JSONValue.string)),
        ]
        data["vendor"] = fields.vendor.map(JSONValue.string) ?? .null
        data["date"] = fields.date.map(JSONValue.string) ?? .null
        data["total"] = fields.total.map(JSONValue.number) ?? .null
        let summary =
            "\(id): \(fields.vendor ?? "unknown vendor"), \(fields.date ?? "no date"), total \(fields.total.map { String(format: "%.2f", $0) } ?? "unreadable")"
            + (flags.isEmpty ? "; within policy" : "; FLAGGED: " + flags.joined(separator: "; "))
        return ToolOutput(text: summary, data: .object(data), untrusted: true)
    }
}
