import Foundation

/// Removes secret values from bytes that leave the broker, in every form a server is likely to
/// echo them: raw, base64 (standard and URL-safe, at any alignment inside a longer encoding), hex,
/// percent-encoded and JSON-escaped.
///
/// Each occurrence becomes `[secret:NAME]`.
public struct SecretScrubber: Sendable {
    private let patterns: [(bytes: [UInt8], replacement: [UInt8])]

    /// Forms shorter than this are not scrubbed (they would match ordinary text).
    static let minimumLength = 6

    public init(_ secrets: [(name: String, value: String)]) {
        var patterns: [(bytes: [UInt8], replacement: [UInt8])] = []
        for (name, value) in secrets {
            for form in Self.encodings(of: value) where form.utf8.count >= Self.minimumLength {
                patterns.append((Array(form.utf8), Array("[secret:\(name)]".utf8)))
            }
        }
        // Longest first, so a long encoding is replaced whole before a shorter form inside it.
        self.patterns = patterns.sorted { $0.bytes.count > $1.bytes.count }
    }

    public init(secrets: [Secret]) { self.init(secrets.map { ($0.name, $0.value) }) }

    public var isEmpty: Bool { patterns.isEmpty }

    /// The bytes with every known form replaced, and how many replacements were made.
    public func scrub(_ bytes: [UInt8]) -> (bytes: [UInt8], count: Int) {
        var current = bytes
        var total = 0
        for pattern in patterns {
            let (next, count) = Self.replace(pattern.bytes, with: pattern.replacement, in: current)
            if count > 0 {
                current = next
                total += count
            }
        }
        return (current, total)
    }

    public func scrub(_ text: String) -> (text: String, count: Int) {
        let (bytes, count) = scrub(Array(text.utf8))
        return (count == 0 ? text : String(decoding: bytes, as: UTF8.self), count)
    }

    /// Whether any form of a secret occurs in `text`.
    public func contains(_ text: String) -> Bool { scrub(text).count > 0 }

    /// The forms a value is scrubbed in. The base64 forms are the parts of the encoding that
    /// depend on the value alone, at each of the three alignments it can have in a longer stream.
    public static func encodings(of value: String) -> [String] {
        let bytes = Array(value.utf8)
        var forms: [String] = [value]
        for shift in 0..<3 {
            let encoded = Data(Array(repeating: 0, count: shift) + bytes).base64EncodedString()
            let total = shift + bytes.count
            let certain = total / 3 * 4 + [0, 1, 2][total % 3]
            let skip = [0, 2, 3][shift]
            guard certain > skip else { continue }
            let characters = Array(encoded)
            let core = String(characters[skip..<certain])
            forms.append(core)
            forms.append(core.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
        }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        forms += [hex, hex.uppercased()]
        // RFC 3986 encoders keep unreserved characters; stricter ones escape all but letters and digits.
        let letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        for keep in [Set((letters + "-._~").utf8), Set(letters.utf8)] {
            for format in ["%%%02X", "%%%02x"] {
                let encoded = bytes.map { keep.contains($0) ? String(UnicodeScalar($0)) : String(format: format, $0) }.joined()
                forms += [encoded, encoded.replacingOccurrences(of: "%20", with: "+")]
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        if let json = try? encoder.encode(value), let text = String(data: json, encoding: .utf8) {
            let escaped = String(text.dropFirst().dropLast())
            forms += [escaped, escaped.replacingOccurrences(of: "/", with: "\\/")]
        }
        let unicodeEscaped = value.unicodeScalars.map { scalar -> String in
            scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\"
                ? String(scalar) : String(format: "\\u%04x", scalar.value)
        }.joined()
        forms.append(unicodeEscaped)
        var seen = Set<String>()
        return forms.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    static func replace(_ pattern: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) -> ([UInt8], Int) {
        guard let first = pattern.first, bytes.count >= pattern.count else { return (bytes, 0) }
        var out: [UInt8] = []
        var count = 0
        var index = 0
        let last = bytes.count - pattern.count
        while index < bytes.count {
            if index <= last, bytes[index] == first, bytes[index..<index + pattern.count].elementsEqual(pattern) {
                if count == 0 {
                    out.reserveCapacity(bytes.count)
                    out.append(contentsOf: bytes[..<index])
                }
                out.append(contentsOf: replacement)
                count += 1
                index += pattern.count
            } else {
                if count > 0 { out.append(bytes[index]) }
                index += 1
            }
        }
        return count == 0 ? (bytes, 0) : (out, count)
    }
}
