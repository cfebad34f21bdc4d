import Foundation
import HearthCore
import HearthDemo
import HearthSandbox
import HearthTesting
import HearthTools
import Testing

/// The SROIE data beside the checkout (tests may read it; the product never does).
let sroie = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../../shared/bench/sroie").standardized

func context(_ workspace: URL) -> ToolContext { ToolContext(workspace: workspace, idempotencyKey: "test-key") }

@Suite("Built-in tools", .timeLimit(.minutes(10)))
struct ToolsTests {
    let tools = BuiltinTools.all()

    @Test("file tools read, write, move and list inside the workspace")
    func fileRoundTrip() async throws {
        let workspace = try TemporaryDirectory()
        let ctx = context(workspace.url)
        let written = try await tools.invoke("write_file", arguments: ["path": "notes/a.txt", "content": "hello\nworld"], context: ctx)
        #expect(written.data["written"] == true)
        let again = try await tools.invoke("write_file", arguments: ["path": "notes/a.txt", "content": "hello\nworld"], context: ctx)
        #expect(again.data["written"] == false)
        await #expect(throws: ToolError.self) {
            try await tools.invoke("write_file", arguments: ["path": "notes/a.txt", "content": "other"], context: ctx)
        }
        let read = try await tools.invoke("read_file", arguments: ["path": "notes/a.txt"], context: ctx)
        #expect(read.data["text"] == "hello\nworld")
        #expect(read.untrusted)
        let moved = try await tools.invoke("move_file", arguments: ["from": "notes/a.txt", "to": "done/a.txt"], context: ctx)
        #expect(moved.data["moved"] == true)
        let repeated = try await tools.invoke("move_file", arguments: ["from": "notes/a.txt", "to": "done/a.txt"], context: ctx)
        #expect(repeated.data["moved"] == false)
        let listed = try await tools.invoke("list_files", arguments: ["pattern": "done/*.txt"], context: ctx)
        #expect(listed.data["files"] == ["done/a.txt"])
        let found = try await tools.invoke("search_text", arguments: ["query": "WORLD"], context: ctx)
        #expect(found.data["matches"]?.arrayValue?.first?["line"] == 2)
    }

    @Test("paths that leave the workspace are refused", arguments: ["../outside.txt", "/etc/passwd", "link/passwd", "a/../../x"])
    func escapesRefused(path: String) async throws {
        let workspace = try TemporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: workspace.appending("link").path, withDestinationPath: "/etc")
        await #expect {
            try await tools.invoke("read_file", arguments: ["path": .string(path)], context: context(workspace.url))
        } throws: { error in
            guard case .refused(let tool, _) = error as? ToolError else { return false }
            return tool == "read_file"
        }
    }

    @Test("unknown tools, bad arguments and binary files get clear errors")
    func badInput() async throws {
        let workspace = try TemporaryDirectory()
        let ctx = context(workspace.url)
        await #expect(throws: ToolError.unknownTool("read_fil", known: tools.names)) {
            try await tools.invoke("read_fil", arguments: ["path": "x"], context: ctx)
        }
        await #expect {
            try await tools.invoke("read_file", arguments: ["path": 3, "extra": true], context: ctx)
        } throws: { error in
            guard case .invalidArguments(_, let problems) = error as? ToolError else { return false }
            return problems.count >= 2
        }
        try Data([0x7F, 0x45, 0x00, 0x01]).write(to: workspace.appending("blob.bin"))
        await #expect {
            try await tools.invoke("read_file", arguments: ["path": "blob.bin"], context: ctx)
        } throws: { error in
            String(describing: error).contains("not a text file")
        }
    }

    @Test("pdf_text reads pages, and a damaged PDF fails with the file named")
    func pdfText() async throws {
        let workspace = try TemporaryDirectory()
        try Data(Self.twoPagePDF.utf8).write(to: workspace.appending("doc.pdf"))
        let output = try await tools.invoke("pdf_text", arguments: ["path": "doc.pdf"], context: context(workspace.url))
        let pages = output.data["pages"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(pages.count == 2)
        #expect(pages.first?.contains("First page") == true)
        #expect(output.text.contains("[page 2]"))
        try SampleWorkspace.create(at: workspace.url)
        await #expect {
            try await tools.invoke("pdf_text", arguments: ["path": "Receipts/099.pdf"], context: context(workspace.url))
        } throws: { error in
            guard case .failed(_, let message) = error as? ToolError else { return false }
            return message.contains("Receipts/099.pdf") && message.contains("damaged")
        }
    }

    @Test("ocr_image reads a scanned receipt", .timeLimit(.minutes(2)))
    func ocr() async throws {
        let workspace = try TemporaryDirectory()
        try SampleWorkspace.create(at: workspace.url)
        let output = try await tools.invoke(
            "check_receipt", arguments: ["path": "Receipts/000.jpg", "policy": "Policy.md"], context: context(workspace.url))
        #expect(output.data["total"] == 9)
        #expect(output.data["date"] == "2018-12-25")
        #expect(output.data["source"] == "image")
    }

    @Test("check_receipt flags exactly the sample's text receipts that break the policy")
    func receiptsAgainstGroundTruth() async throws {
        let workspace = try TemporaryDirectory()
        let receipts = try SampleWorkspace.create(at: workspace.url)
        for path in receipts where path.hasSuffix(".txt") {
            let id = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let key = try JSONValue(parsing: Data(contentsOf: sroie.appending(path: "key/\(id).json")))
            let total = Double(key["total"]!.stringValue!.filter { $0.isNumber || $0 == "." })!
            let output = try await tools.invoke(
                "check_receipt", arguments: ["path": .string(path), "policy": "Policy.md"], context: context(workspace.url))
            #expect(output.data["total"]?.doubleValue == total, "\(id)")
            let date = output.data["date"]?.stringValue ?? ""
            let expected = (total > 100 ? 1 : 0) + ("2018-04-01"..."2018-06-30" ~= date ? 0 : 1)
            #expect(output.data["flags"]?.arrayValue?.count == expected, "\(id): \(output.text)")
        }
    }

    @Test("the receipt parser reads most SROIE totals right, and flags over 100 without a miss in the set")
    func receiptParserAccuracy() throws {
        let keys = try FileManager.default.contentsOfDirectory(atPath: sroie.appending(path: "key").path).sorted()
        var exact = 0
        var counted = 0
        var missedOver100 = 0
        for file in keys {
            let key = try JSONValue(parsing: Data(contentsOf: sroie.appending(path: "key/\(file)")))
            guard let total = Double(key["total"]?.stringValue?.filter({ $0.isNumber || $0 == "." }) ?? "") else { continue }
            let csv = try String(
                contentsOf: sroie.appending(path: "box/" + file.replacingOccurrences(of: ".json", with: ".csv")), encoding: .utf8)
            let text = csv.split(whereSeparator: \.isNewline).compactMap { line in
                line.split(separator: ",", maxSplits: 8, omittingEmptySubsequences: false).dropFirst(8).first.map(String.init)
            }.joined(separator: "\n")
            let parsed = ReceiptFields.parse(text).total
            counted += 1
            if let parsed, abs(parsed - total) < 0.005 { exact += 1 }
            if total > 100 && (parsed ?? 0) <= 100 { missedOver100 += 1 }
        }
        #expect(counted > 600)
        #expect(Double(exact) / Double(counted) > 0.85, "exact totals \(exact)/\(counted)")
        #expect(missedOver100 <= 2)
    }

    @Test("an expense policy in prose yields its limit and period, or says what it needs")
    func policyParsing() throws {
        let policy = try ExpensePolicy.parse("Flag any receipt over RM 250.50. This claim covers Q3 2019.")
        #expect(policy.amountLimit == 250.5)
        #expect(policy.period == "2019-07-01"..."2019-09-30")
        #expect(throws: ExpensePolicy.ParseError.self) { try ExpensePolicy.parse("Be reasonable.") }
    }

    @Test("CSV with quotes and markdown repairs")
    func csvAndMarkdown() {
        #expect(CSV.parse("a,\"b, c\",\"say \"\"hi\"\"\"\r\n1,2,3\n") == [["a", "b, c", "say \"hi\""], ["1", "2", "3"]])
        let (fixed, changes) = MarkdownNormalizer.normalize("\u{FEFF}#Title\r\n\r\n\r\n\r\ntext  \n```\ncode")
        #expect(fixed == "# Title\n\ntext\n```\ncode\n```\n")
        #expect(changes.count == 6)
    }

    /// Two pages of text, written by hand (pdftotext rebuilds the cross-reference table).
    static let twoPagePDF = """
        %PDF-1.4
        1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
        2 0 obj << /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >> endobj
        3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R /Resources << /Font << /F1 7 0 R >> >> >> endobj
        4 0 obj << /Length 44 >> stream
        BT /F1 18 Tf 20 100 Td (First page) Tj ET
        endstream endobj
        5 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 6 0 R /Resources << /Font << /F1 7 0 R >> >> >> endobj
        6 0 obj << /Length 45 >> stream
        BT /F1 18 Tf 20 100 Td (Second page) Tj ET
        endstream endobj
        7 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
        trailer << /Root 1 0 R >>
        %%EOF
        """
}
