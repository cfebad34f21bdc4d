import Foundation
import HearthCore

/// A mail message reduced to what an agent reads: who, when, about what, and the text.
///
/// Parsing is lenient where real mail is sloppy (unknown charsets, bad encodings, missing
/// headers become `warnings`) and strict only where the input is not mail at all
/// (`MailParseError`), which the maildir trigger journals as a malformed event.
public struct MailMessage: Sendable, Equatable {
    public var from: String?
    public var fromAddress: String?
    public var to: String?
    public var cc: String?
    public var subject: String?
    public var date: Date?
    /// The `Date` header as written, when it could not be parsed.
    public var dateText: String?
    public var messageID: String?
    /// The text body: the first `text/plain` part, else the first `text/html` part as text.
    public var body: String
    public var bodyTruncated: Bool
    /// File names of attached parts.
    public var attachments: [String]
    /// Problems that did not stop parsing (an unknown charset, a bad base64 part).
    public var warnings: [String]
    /// The headers that say whether a message is bulk and how urgent its sender thinks it is
    /// (`list-id`, `precedence`, `list-unsubscribe`, `auto-submitted`, `importance`, `x-priority`,
    /// `priority`), names lower-cased: what attention scoring reads.
    public var attentionHeaders: [String: String] = [:]

    /// The header names kept in `attentionHeaders`.
    public static let attentionHeaderNames = [
        "list-id", "precedence", "list-unsubscribe", "auto-submitted", "importance", "x-priority", "priority", "x-auto-response-suppress",
    ]
}

/// Why a file is not a mail message.
public struct MailParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

extension MailMessage {
    /// Parses an RFC 5322 message.
    ///
    /// - Parameter maxBodyBytes: longer text bodies are cut at a character boundary.
    /// - Throws: `MailParseError` when the data is not a mail message at all.
    public static func parse(_ data: Data, maxBodyBytes: Int) throws(MailParseError) -> MailMessage {
        guard !data.isEmpty else { throw MailParseError(reason: "the file is empty") }
        let bytes = [UInt8](data)
        let (headerBytes, bodyBytes) = MIME.splitHeaderAndBody(bytes)
        if headerBytes.contains(0) { throw MailParseError(reason: "the header contains NUL bytes (binary data, not mail)") }
        var warnings: [String] = []
        let headers = try MIME.parseHeaders(headerBytes, isTopLevel: true, warnings: &warnings)
        let standard = ["from", "to", "subject", "date", "message-id", "sender", "cc"]
        guard headers.contains(where: { standard.contains($0.name.lowercased()) }) else {
            throw MailParseError(reason: "no From, To, Subject, Date or Message-ID header")
        }
        func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map { MIME.decodeEncodedWords($0.value) }
        }

        var extraction = MIME.BodyExtraction()
        MIME.extract(headers: headers, body: bodyBytes, into: &extraction, depth: 0)
        warnings += extraction.warnings
        var body = extraction.plain ?? extraction.html.map(MIME.textFromHTML) ?? ""
        var truncated = false
        if body.utf8.count > maxBodyBytes {
            body = String(body.prefix(utf8Bytes: maxBodyBytes))
            truncated = true
        }
        let dateHeader = header("Date")
        let parsedDate = dateHeader.flatMap(MailDate.parse)
        if dateHeader != nil && parsedDate == nil { warnings.append("unparsable Date header") }
        let from = header("From")
        var attentionHeaders: [String: String] = [:]
        for name in attentionHeaderNames { if let value = header(name) { attentionHeaders[name] = String(value.prefix(256)) } }
        return MailMessage(
            from: from,
            fromAddress: from.flatMap(MIME.address),
            to: header("To"),
            cc: header("Cc"),
            subject: header("Subject"),
            date: parsedDate,
            dateText: parsedDate == nil ? dateHeader : nil,
            messageID: header("Message-ID")?.trimmingCharacters(in: .whitespaces),
            body: body,
            bodyTruncated: truncated,
            attachments: extraction.attachments,
            warnings: warnings,
            attentionHeaders: attentionHeaders)
    }
}

/// MIME plumbing: headers, parameters, transfer encodings, charsets, multipart.
enum MIME {
    struct Header: Equatable {
        var name: String
        var value: String
    }

    struct BodyExtraction {
        var plain: String?
        var html: String?
        var attachments: [String] = []
        var warnings: [String] = []
    }

    /// Splits at the first empty line (CRLF or LF).
    static func splitHeaderAndBody(_ bytes: [UInt8]) -> ([UInt8], [UInt8]) {
        var index = 0
        var lineStart = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                let line = bytes[lineStart..<index]
                if line.isEmpty || line == [0x0D] {
                    return (Array(bytes[..<lineStart]), Array(bytes[(index + 1)...]))
                }
                lineStart = index + 1
            }
            index += 1
        }
        return (bytes, [])
    }

    static func parseHeaders(_ bytes: [UInt8], isTopLevel: Bool, warnings: inout [String]) throws(MailParseError) -> [Header] {
        let text = String(validating: bytes, as: UTF8.self) ?? String(decoding: bytes, as: Unicode.ASCII.self)
        // "\r\n" is one Character in Swift, so split on both forms.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        if isTopLevel, let first = lines.first, first.hasPrefix("From ") { lines.removeFirst() }  // mbox separator
        var headers: [Header] = []
        for (number, line) in lines.enumerated() where !line.isEmpty {
            if line.first == " " || line.first == "\t" {
                guard !headers.isEmpty else {
                    if isTopLevel { throw MailParseError(reason: "the message starts with a continuation line, not a header") }
                    continue
                }
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon > line.startIndex,
                line[..<colon].allSatisfy({ $0.isASCII && $0 != " " && !$0.isWhitespace && $0.asciiValue! > 32 && $0.asciiValue! < 127 })
            else {
                if isTopLevel && headers.isEmpty {
                    throw MailParseError(reason: "line \(number + 1) is not a header field (\"\(line.prefix(40))\")")
                }
                warnings.append("ignored a malformed header line")
                continue
            }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append(Header(name: name, value: value))
        }
        return headers
    }

    /// `type/subtype` (lower-cased) and parameters (names lower-cased) of a Content-Type-like header.
    static func parseParameterized(_ value: String) -> (String, [String: String]) {
        var parts: [String] = []
        var current = ""
        var inQuotes = false
        for character in value {
            if character == "\"" { inQuotes.toggle() }
            if character == ";" && !inQuotes {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        let main = parts.removeFirst().trimmingCharacters(in: .whitespaces).lowercased()
        var parameters: [String: String] = [:]
        for part in parts {
            guard let equals = part.firstIndex(of: "=") else { continue }
            var name = part[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var parameter = part[part.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if parameter.hasPrefix("\"") && parameter.hasSuffix("\"") && parameter.count >= 2 {
                parameter = String(parameter.dropFirst().dropLast())
            }
            if name.hasSuffix("*") {
                // RFC 2231: charset'language'percent-encoded
                name.removeLast()
                let pieces = parameter.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if pieces.count == 3 { parameter = String(pieces[2]).removingPercentEncoding ?? String(pieces[2]) }
            }
            parameters[name] = parameter
        }
        return (main, parameters)
    }

    static func extract(headers: [Header], body: [UInt8], into extraction: inout BodyExtraction, depth: Int) {
        func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        let (type, parameters) = parseParameterized(header("Content-Type") ?? "text/plain; charset=us-ascii")
        let (disposition, dispositionParameters) = parseParameterized(header("Content-Disposition") ?? "")
        let fileName = (dispositionParameters["filename"] ?? parameters["name"]).map(decodeEncodedWords)

        if type.hasPrefix("multipart/") {
            guard depth < 8 else {
                extraction.warnings.append("multipart nesting deeper than 8 levels was skipped")
                return
            }
            guard let boundary = parameters["boundary"], !boundary.isEmpty else {
                extraction.warnings.append("multipart message without a boundary; read as text")
                if extraction.plain == nil { extraction.plain = decodeText(body, charset: nil, warnings: &extraction.warnings) }
                return
            }
            for part in splitMultipart(body, boundary: boundary) {
                let (partHeaderBytes, partBody) = splitHeaderAndBody(part)
                var ignored: [String] = []
                // A part with no headers at all starts with the empty line: its body is everything.
                let partHeaders = (try? parseHeaders(partHeaderBytes, isTopLevel: false, warnings: &ignored)) ?? []
                extract(headers: partHeaders, body: partBody, into: &extraction, depth: depth + 1)
            }
            return
        }
        if disposition == "attachment" || (fileName != nil && !type.hasPrefix("text/")) {
            extraction.attachments.append(fileName ?? "(unnamed \(type))")
            return
        }
        guard type.hasPrefix("text/") || type.isEmpty else {
            if let fileName { extraction.attachments.append(fileName) }
            return
        }
        let decoded = decodeTransfer(body, encoding: header("Content-Transfer-Encoding"), warnings: &extraction.warnings)
        let text = decodeText(decoded, charset: parameters["charset"], warnings: &extraction.warnings)
        if type == "text/html" {
            if extraction.html == nil { extraction.html = text }
        } else if extraction.plain == nil {
            extraction.plain = text
        } else if let fileName {
            extraction.attachments.append(fileName)
        }
    }

    static func splitMultipart(_ body: [UInt8], boundary: String) -> [[UInt8]] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [[UInt8]] = []
        var current: [UInt8]?
        var lineStart = 0
        func handleLine(_ range: Range<Int>) -> Bool {
            var line = body[range]
            if line.last == 0x0D { line = line.dropLast() }
            if line.starts(with: delimiter) {
                let rest = line.dropFirst(delimiter.count)
                if let part = current { parts.append(part) }
                current = nil
                if rest.starts(with: [0x2D, 0x2D]) { return false }  // closing delimiter
                current = []
                return true
            }
            if current != nil {
                current!.append(contentsOf: body[range])
                current!.append(0x0A)
            }
            return true
        }
        var index = 0
        while index < body.count {
            if body[index] == 0x0A {
                if !handleLine(lineStart..<index) { return parts }
                lineStart = index + 1
            }
            index += 1
        }
        if lineStart < body.count { _ = handleLine(lineStart..<body.count) }
        if let part = current { parts.append(part) }  // unterminated: keep what we have
        return parts
    }

    static func decodeTransfer(_ body: [UInt8], encoding: String?, warnings: inout [String]) -> [UInt8] {
        switch encoding?.trimmingCharacters(in: .whitespaces).lowercased() {
        case "base64":
            let cleaned = body.filter { !($0 == 0x0A || $0 == 0x0D || $0 == 0x20 || $0 == 0x09) }
            var text = String(decoding: cleaned, as: UTF8.self)
            while text.count % 4 != 0 { text += "=" }
            if let data = Data(base64Encoded: text) { return [UInt8](data) }
            warnings.append("invalid base64 body; kept as is")
            return body
        case "quoted-printable":
            return decodeQuotedPrintable(body, underscoreIsSpace: false)
        default:
            return body
        }
    }

    static func decodeQuotedPrintable(_ bytes: [UInt8], underscoreIsSpace: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "=") {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A {
                    index += 2
                    continue
                }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A {
                    index += 3
                    continue
                }
                if index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                    out.append(high << 4 | low)
                    index += 3
                    continue
                }
            }
            out.append(underscoreIsSpace && byte == UInt8(ascii: "_") ? 0x20 : byte)
            index += 1
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Decodes text in a declared charset; never fails (falls back to Latin-1, which maps every byte).
    static func decodeText(_ bytes: [UInt8], charset: String?, warnings: inout [String]) -> String {
        let name = charset?.lowercased().trimmingCharacters(in: .whitespaces) ?? "utf-8"
        let encoding: String.Encoding? =
            switch name {
            case "utf-8", "utf8", "us-ascii", "ascii", "": .utf8
            case "iso-8859-1", "latin1", "iso8859-1", "l1": .isoLatin1
            case "windows-1252", "cp1252": .windowsCP1252
            case "iso-8859-2", "latin2": .isoLatin2
            case "windows-1250", "cp1250": .windowsCP1250
            case "utf-16": .utf16
            default: nil
            }
        if encoding == nil { warnings.append("unknown charset \"\(name)\"; read as UTF-8") }
        if let text = String(data: Data(bytes), encoding: encoding ?? .utf8) { return text }
        if encoding != .utf8, let text = String(validating: bytes, as: UTF8.self) { return text }
        warnings.append("text is not valid \(name); read as Latin-1")
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }

    /// RFC 2047 `=?charset?B|Q?text?=` words; whitespace between adjacent encoded words is dropped.
    static func decodeEncodedWords(_ value: String) -> String {
        guard value.contains("=?") else { return value }
        var result = ""
        var rest = Substring(value)
        var previousWasEncoded = false
        while let start = rest.range(of: "=?") {
            let before = rest[..<start.lowerBound]
            let afterStart = rest[start.upperBound...]
            let pieces = afterStart.split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
            guard pieces.count == 4, pieces[3].hasPrefix("="), ["b", "q"].contains(pieces[1].lowercased()) else {
                result += before + "=?"
                rest = afterStart
                previousWasEncoded = false
                continue
            }
            if !(previousWasEncoded && before.allSatisfy(\.isWhitespace)) { result += before }
            let charset = String(pieces[0]).split(separator: "*").first.map(String.init)  // drop RFC 2231 language
            let payload = Array(pieces[2].utf8)
            var ignored: [String] = []
            let decoded: [UInt8] =
                if pieces[1].lowercased() == "b" {
                    Data(
                        base64Encoded: String(decoding: payload, as: UTF8.self).padding(
                            toLength: (payload.count + 3) / 4 * 4, withPad: "=", startingAt: 0)
                    ).map { [UInt8]($0) } ?? payload
                } else {
                    decodeQuotedPrintable(payload, underscoreIsSpace: true)
                }
            result += decodeText(decoded, charset: charset, warnings: &ignored)
            rest = pieces[3].dropFirst()
            previousWasEncoded = true
        }
        return result + rest
    }

    /// The bare address of `Name <addr>` or `addr`.
    static func address(_ value: String) -> String? {
        if let open = value.lastIndex(of: "<"), let close = value.lastIndex(of: ">"), open < close {
            return String(value[value.index(after: open)..<close]).trimmingCharacters(in: .whitespaces)
        }
        return value.split(whereSeparator: { $0 == " " || $0 == "," }).first { $0.contains("@") }.map(String.init)
    }

    /// Readable text from HTML: scripts and styles dropped, tags removed, common entities decoded.
    static func textFromHTML(_ html: String) -> String {
        var text = html
        for block in ["script", "style", "head"] {
            while let open = text.range(of: "<\(block)", options: .caseInsensitive),
                let close = text.range(of: "</\(block)>", options: .caseInsensitive, range: open.upperBound..<text.endIndex)
            {
                text.removeSubrange(open.lowerBound..<close.upperBound)
            }
        }
        for lineBreak in ["<br>", "<br/>", "<br />", "</p>", "</div>", "</tr>", "</li>"] {
            text = text.replacingOccurrences(of: lineBreak, with: "\n", options: .caseInsensitive)
        }
        var stripped = ""
        var inTag = false
        for character in text {
            if character == "<" {
                inTag = true
            } else if character == ">" && inTag {
                inTag = false
            } else if !inTag {
                stripped.append(character)
            }
        }
        let entities = ["&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#39;": "'", "&apos;": "'"]
        for (entity, replacement) in entities { stripped = stripped.replacingOccurrences(of: entity, with: replacement) }
        let lines = stripped.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
        }
        var collapsed: [String] = []
        for line in lines where !(line.isEmpty && collapsed.last?.isEmpty == true) { collapsed.append(line) }
        return collapsed.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// RFC 5322 dates: `[Day,] DD Mon YYYY HH:MM[:SS] zone`, with obsolete zone names and 2-digit years.
enum MailDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let zones: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300,
        "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
    ]

    static func parse(_ text: String) -> Date? {
        // Drop comments like "(CET)" and the optional day name.
        var cleaned = text
        while let open = cleaned.firstIndex(of: "("), let close = cleaned[open...].firstIndex(of: ")") {
            cleaned.removeSubrange(open...close)
        }
        var tokens = cleaned.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
        if let first = tokens.first, Int(first) == nil { tokens.removeFirst() }
        guard tokens.count >= 4, let day = Int(tokens[0]),
            let monthIndex = months.firstIndex(of: String(tokens[1].prefix(3)).lowercased()),
            var year = Int(tokens[2])
        else { return nil }
        if year < 50 { year += 2000 } else if year < 1000 { year += 1900 }
        let timeParts = tokens[3].split(separator: ":").compactMap { Int($0) }
        guard timeParts.count >= 2 else { return nil }
        var offsetMinutes = 0
        if tokens.count >= 5 {
            let zone = tokens[4]
            if let sign = zone.first, sign == "+" || sign == "-", zone.count == 5, let value = Int(zone.dropFirst()) {
                offsetMinutes = (value / 100 * 60 + value % 100) * (sign == "-" ? -1 : 1)
            } else if let named = zones[zone.lowercased()] {
                offsetMinutes = named
            }
        }
        var components = DateComponents()
        components.timeZone = TimeZone(secondsFromGMT: offsetMinutes * 60)
        components.year = year
        components.month = monthIndex + 1
        components.day = day
        components.hour = timeParts[0]
        components.minute = timeParts[1]
        components.second = timeParts.count > 2 ? timeParts[2] : 0
        guard (1...31).contains(day), (0...23).contains(timeParts[0]), (0...59).contains(timeParts[1]) else { return nil }
        return Calendar(identifier: .gregorian).date(from: components)
    }
}
