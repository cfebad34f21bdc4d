import Foundation

/// How busy the machine's processors were between two readings of `/proc/stat` (every process,
/// the database server's included): where a benchmark stops scaling, this says whether the CPU
/// was the limit.
public struct CPUBusy: Sendable {
    let busy: UInt64
    let total: UInt64

    /// Now's counters; nil where `/proc/stat` cannot be read.
    public static func now() -> CPUBusy? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return nil }
        // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 5 else { return nil }
        let total = fields.prefix(8).reduce(0, +)
        return CPUBusy(busy: total - fields[3] - fields[4], total: total)
    }

    /// The share of processor time that was busy since `earlier` (0 to 1).
    public func share(since earlier: CPUBusy) -> Double {
        guard total > earlier.total else { return 0 }
        return Double(busy - earlier.busy) / Double(total - earlier.total)
    }
}
