import Foundation

/// How big a chat model is, read from its name ("smollm2-135m", "llama3.1:8b", "Qwen2.5-0.5B-Instruct").
///
/// Used for advice only ("this model is too small to plan on its own"), never to decide what
/// runs: a name without a size is simply unknown.
public struct ModelScale: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Parameters, in millions.
    public var millions: Double

    public init(millions: Double) {
        self.millions = millions
    }

    /// The size a model's name announces, if any: the last `<number>m` or `<number>b` token.
    ///
    /// ```swift
    /// ModelScale(name: "smollm2-135m")?.millions  // 135
    /// ModelScale(name: "llama3.1:8b")?.millions   // 8000
    /// ModelScale(name: "nomic-embed-text")        // nil
    /// ```
    public init?(name: String) {
        let lowered = name.lowercased()
        let pattern = #"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])"#
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        let range = NSRange(lowered.startIndex..., in: lowered)
        guard let match = expression.matches(in: lowered, range: range).last,
            let numberRange = Range(match.range(at: 1), in: lowered), let unitRange = Range(match.range(at: 2), in: lowered),
            let number = Double(lowered[numberRange]), number > 0
        else { return nil }
        millions = lowered[unitRange] == "b" ? number * 1000 : number
    }

    /// Below this a model repeats itself easily and cannot write plans; fine for pinned, one-call steps.
    public static let planningFloor = ModelScale(millions: 1000)

    public var isSmall: Bool { self < Self.planningFloor }

    public static func < (lhs: ModelScale, rhs: ModelScale) -> Bool { lhs.millions < rhs.millions }

    public var description: String {
        millions >= 1000
            ? "\(Self.trim(millions / 1000))B parameters" : "\(Self.trim(millions))M parameters"
    }

    private static func trim(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(format: "%.1f", value)
    }
}
