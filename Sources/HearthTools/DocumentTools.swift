import Foundation
import Glibc
import HearthCore
import HearthSandbox

/// The text of a document, whatever its format: text files as they are, PDFs through
/// `pdftotext` (page by page), images through `tesseract`.
public enum DocumentText {
    public enum Kind: String, Sendable { case text, pdf, image }

    public struct Extracted: Sendable {
        public var kind: Kind
        /// One entry per page (a single entry for text and images).
        public var pages: [String]
        public var text: String { pages.joined(separator: "\n") }
    }

    public static func kind(of path: String) -> Kind {
        switch (path as NSString).pathExtension.lowercased() {
        case "pdf": .pdf
        case "jpg", "jpeg", "png", "tif", "tiff", "bmp", "gif", "webp", "pnm": .image
        default: .text
        }
    }

    public static func extract(_ path: String, context: ToolContext, tool: String) async throws(ToolError) -> Extracted {
        let (root, relative) = try context.locate(path, tool: tool, writing: false)
        let data = try confined(tool) { () throws(WorkspaceError) in try WorkspaceFiles.read(relative, in: root) }
        switch kind(of: path) {
        case .text:
            return Extracted(kind: .text, pages: [try decodeText(data, path: path, tool: tool)])
        case .pdf:
            let output = try await runOnCopy(data, suffix: "pdf", tool: tool, path: path) { file in
                ("pdftotext", "poppler-utils", ["-layout", "-enc", "UTF-8", file, "-"])
            }
            return Extracted(kind: .pdf, pages: PDFText.pages(fromPdftotext: output))
        case .image:
            let output = try await runOnCopy(data, suffix: (path as NSString).pathExtension, tool: tool, path: path) { file in
                ("tesseract", "tesseract-ocr", [file, "-", "--psm", "4"])
            }
            return Extracted(kind: .image, pages: [String(decoding: output, as: UTF8.self)])
        }
    }

    /// Copies the bytes (read through the confined walk) into a private temporary directory and
    /// runs the converter on the copy, so the external program never resolves a workspace path itself.
    private static func runOnCopy(
        _ data: Data, suffix: String, tool: String, path: String, command: (String) -> (String, String, [String])
    ) async throws(ToolError) -> Data {
        var template = Array((FileManager.default.temporaryDirectory.path + "/hearth-doc-XXXXXX").utf8CString)
        guard let directory = mkdtemp(&template).map({ String(cString: $0) }) else {
            throw .failed(tool: tool, message: "cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/input." + suffix
        guard FileManager.default.createFile(atPath: file, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw .failed(tool: tool, message: "cannot write a temporary copy of \"\(path)\"")
        }
        let (program, package, arguments) = command(file)
        do {
            return try await ProgramRunner.run(program, package: package, arguments: arguments, timeout: .seconds(120)).stdout
        } catch let error as ProgramError {
            switch error {
            case .failed(_, _, let stderr):
                // Converters repeat themselves ("Syntax Error: …" per attempt): each line once.
                var lines: [String] = []
                for line in stderr.split(whereSeparator: \.isNewline).map(String.init) where !lines.contains(line) { lines.append(line) }
                throw .failed(
                    tool: tool,
                    message:
                        "\"\(path)\" could not be read by \(program) (damaged or not a \(suffix) file): \(lines.joined(separator: "; "))")
            default: throw .failed(tool: tool, message: error.description)
            }
        } catch {
            throw .failed(tool: tool, message: "\(program): \(error)")
        }
    }
}

public struct PDFTextTool: Tool {
    public let spec = ToolSpec(
        name: "pdf_text", description: "Extract the text of a PDF in the workspace, page by page.",
        parameters: objectSchema([("path", pathProperty)], required: ["path"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        guard DocumentText.kind(of: path) == .pdf else {
            throw ToolError.invalidArguments(tool: name, problems: ["\"\(path)\" is not a .pdf file"])
        }
        let pages = try await DocumentText.extract(path, context: context, tool: name).pages
        let text = pages.enumerated().map { "[page \($0.offset + 1)]\n\($0.element)" }.joined(separator: "\n")
        return ToolOutput(
            text: clipped(text, 8000), data: ["path": .string(path), "pages": .array(pages.map(JSONValue.string))], untrusted: true)
    }
}

public struct OCRImageTool: Tool {
    public let spec = ToolSpec(
        name: "ocr_image", description: "Read the text in an image (a scanned receipt, a photo of a page) with OCR.",
        parameters: objectSchema([("path", pathProperty)], required: ["path"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        guard DocumentText.kind(of: path) == .image else {
            throw ToolError.invalidArguments(tool: name, problems: ["\"\(path)\" is not an image (.jpg, .png, .tif, …)"])
        }
        let text = try await DocumentText.extract(path, context: context, tool: name).text
        return ToolOutput(text: clipped(text, 8000), data: ["path": .string(path), "text": .string(text)], untrusted: true)
    }
}

public struct ReadCSVTool: Tool {
    public let spec = ToolSpec(
        name: "read_csv", description: "Read a CSV file of the workspace as rows (the first row is the header).",
        parameters: objectSchema(
            [("path", pathProperty), ("limit", ["type": "integer", "minimum": 1, "maximum": 10000, "description": "rows to return"])],
            required: ["path"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        let (root, relative) = try context.locate(path, tool: name, writing: false)
        let data = try confined(name) { () throws(WorkspaceError) in try WorkspaceFiles.read(relative, in: root) }
        let rows = CSV.parse(try decodeText(data, path: path, tool: name))
        let limit = arguments["limit"]?.intValue ?? 200
        let shown = rows.prefix(limit)
        let text = shown.map { $0.joined(separator: " | ") }.joined(separator: "\n")
        return ToolOutput(
            text: clipped(text, 6000) + (rows.count > limit ? "\n… \(rows.count - limit) more rows" : ""),
            data: [
                "path": .string(path), "rows": .array(shown.map { .array($0.map(JSONValue.string)) }), "total": .number(Double(rows.count)),
            ],
            untrusted: true)
    }
}

/// RFC 4180 CSV: quoted fields with doubled quotes, commas and line breaks inside quotes.
public enum CSV {
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var characters = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let value = pending {
                pending = nil
                return value
            }
            return characters.next()
        }
        while let character = next() {
            if quoted {
                if character == "\"" {
                    let following = next()
                    if following == "\"" {
                        field.append("\"")
                    } else {
                        quoted = false
                        pending = following
                    }
                } else {
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"" where field.isEmpty: quoted = true
            case ",":
                row.append(field)
                field = ""
            case "\n", "\r\n", "\r":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            default: field.append(character)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}

public struct NormalizeMarkdownTool: Tool {
    public let spec = ToolSpec(
        name: "normalize_markdown",
        description: "Repair a markdown file that other tools cannot parse: line endings, headings, blank lines, unclosed code fences.",
        parameters: objectSchema(
            [("path", pathProperty), ("write", ["type": "boolean", "description": "write the repaired text back to the file"])],
            required: ["path"]))
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        let (root, relative) = try context.locate(path, tool: name, writing: arguments["write"]?.boolValue == true)
        let data = try confined(name) { () throws(WorkspaceError) in try WorkspaceFiles.read(relative, in: root) }
        let original: String
        if let text = String(data: data, encoding: .utf8), !data.contains(0) {
            original = text
        } else {
            // Salvage what can be read: markdown in another encoding is still mostly text.
            original = String(decoding: data.filter { $0 != 0 }, as: UTF8.self)
        }
        let (normalized, changes) = MarkdownNormalizer.normalize(original)
        if arguments["write"]?.boolValue == true && normalized != original {
            try confined(name) { () throws(WorkspaceError) in
                try WorkspaceFiles.write(Data(normalized.utf8), to: relative, in: root, replace: true)
            }
        }
        return ToolOutput(
            text: changes.isEmpty ? "already normal" : "repaired: " + changes.joined(separator: "; ") + "\n\n" + clipped(normalized, 6000),
            data: ["path": .string(path), "changes": .array(changes.map(JSONValue.string)), "text": .string(normalized)], untrusted: true)
    }
}

/// Mechanical markdown repairs, each reported.
public enum MarkdownNormalizer {
    public static func normalize(_ text: String) -> (String, [String]) {
        var changes: [String] = []
        var source = text
        if source.hasPrefix("\u{FEFF}") {
            source.removeFirst()
            changes.append("removed a byte-order mark")
        }
        if source.contains("\r") {
            source = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            changes.append("converted line endings to LF")
        }
        if source.contains("\u{FFFD}") { changes.append("kept \(source.filter { $0 == "\u{FFFD}" }.count) undecodable byte(s) as �") }
        var lines: [String] = []
        var fenceOpen = false
        var headingFixes = 0
        var trailing = 0
        var blankRuns = 0
        for raw in source.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(raw)
            let trimmed = line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            if trimmed != line {
                trailing += 1
                line = trimmed
            }
            if line.hasPrefix("```") { fenceOpen.toggle() }
            if !fenceOpen, let match = line.range(of: "^#{1,6}(?=[^#\\s])", options: .regularExpression) {
                line.insert(" ", at: match.upperBound)
                headingFixes += 1
            }
            if line.isEmpty, lines.last?.isEmpty == true, !fenceOpen {
                blankRuns += 1
                continue
            }
            lines.append(line)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        if fenceOpen {
            lines.append("```")
            changes.append("closed an unclosed code fence")
        }
        if headingFixes > 0 { changes.append("added the space after # in \(headingFixes) heading(s)") }
        if trailing > 0 { changes.append("removed trailing whitespace on \(trailing) line(s)") }
        if blankRuns > 0 { changes.append("collapsed \(blankRuns) extra blank line(s)") }
        return (lines.joined(separator: "\n") + "\n", changes)
    }
}
