import Foundation
import Testing

@testable import HearthAgent

@Suite("Mail parsing", .timeLimit(.minutes(10)))
struct MailMessageTests {
    func parse(_ text: String, maxBody: Int = 65_536) throws -> MailMessage {
        try MailMessage.parse(Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8), maxBodyBytes: maxBody)
    }

    @Test("a plain message: headers, folded subject, body")
    func plain() throws {
        let message = try parse(
            """
            From: Alice Example <alice@example.com>
            To: me@example.org
            Subject: Quarterly receipts are
             ready for review
            Date: Tue, 3 Jun 2025 10:15:00 +0200
            Message-ID: <abc@example.com>

            Hello,
            the receipts are in Receipts/.
            """)
        #expect(message.from == "Alice Example <alice@example.com>")
        #expect(message.fromAddress == "alice@example.com")
        #expect(message.subject == "Quarterly receipts are ready for review")
        #expect(message.date == Date(timeIntervalSince1970: 1_748_938_500))
        #expect(message.messageID == "<abc@example.com>")
        #expect(message.body == "Hello,\r\nthe receipts are in Receipts/.")
        #expect(message.warnings.isEmpty)
    }

    @Test("multipart/alternative prefers text/plain; attachments are listed by name")
    func multipart() throws {
        let message = try parse(
            """
            From: bob@example.com
            Subject: =?UTF-8?B?UmVjaWJvIGRlIGNvbXByYSDigqw=?=
            Content-Type: multipart/mixed; boundary="outer"

            --outer
            Content-Type: multipart/alternative; boundary=inner

            --inner
            Content-Type: text/html; charset=utf-8

            <p>HTML version</p>
            --inner
            Content-Type: text/plain; charset=iso-8859-1
            Content-Transfer-Encoding: quoted-printable

            Caf=E9 total: 12=2C50 =E2=82=AC=
             soft break
            --inner--
            --outer
            Content-Type: application/pdf; name="receipt.pdf"
            Content-Disposition: attachment; filename="receipt.pdf"
            Content-Transfer-Encoding: base64

            JVBERi0xLjQK
            --outer--
            """)
        #expect(message.subject == "Recibo de compra €")
        #expect(message.body.hasPrefix("Café total: 12,50"))
        #expect(message.attachments == ["receipt.pdf"])
    }

    @Test("an HTML-only message becomes readable text")
    func htmlOnly() throws {
        let message = try parse(
            """
            From: news@example.com
            Content-Type: text/html
            Content-Transfer-Encoding: base64

            \(Data("<html><head><style>p{}</style></head><body><p>Fish &amp; chips</p><script>x()</script>Total<br>5</body></html>".utf8).base64EncodedString())
            """)
        #expect(message.body == "Fish & chips\nTotal\n5")
    }

    @Test("encoded words in Q form, adjacent words joined, mbox From_ line tolerated")
    func encodedWords() throws {
        let message = try parse(
            """
            From nobody Mon Jan  1 00:00:00 2024
            From: =?iso-8859-1?Q?Andr=E9?= <andre@example.com>
            Subject: =?utf-8?q?Hello_?= =?utf-8?q?world?=

            body
            """)
        #expect(message.from == "André <andre@example.com>")
        #expect(message.subject == "Hello world")
    }

    @Test("long bodies are cut at a character boundary and flagged")
    func truncation() throws {
        let message = try parse("From: a@b.c\n\n" + String(repeating: "é", count: 1000), maxBody: 101)
        #expect(message.bodyTruncated)
        #expect(message.body.utf8.count <= 101)
        #expect(message.body.allSatisfy { $0 == "é" })
    }

    @Test("sloppy mail is read with warnings, not refused")
    func warnings() throws {
        let message = try parse(
            """
            From: x@example.com
            Date: sometime last week
            Content-Type: text/plain; charset=x-klingon

            qapla'
            """)
        #expect(message.body == "qapla'")
        #expect(message.dateText == "sometime last week")
        #expect(message.warnings.contains("unparsable Date header"))
        #expect(message.warnings.contains { $0.contains("unknown charset") })
    }

    @Test(
        "dates in the forms seen in the wild",
        arguments: [
            ("Tue, 3 Jun 2025 10:15:00 +0200", 1_748_938_500.0),
            ("3 Jun 2025 08:15 GMT", 1_748_938_500.0),
            ("Tue, 03 Jun 25 04:15:00 EDT", 1_748_938_500.0),
            ("Tue,  3 Jun 2025 08:15:00 +0000 (UTC)", 1_748_938_500.0),
        ])
    func dates(text: String, expected: Double) {
        #expect(MailDate.parse(text) == Date(timeIntervalSince1970: expected))
    }

    @Test(
        "input that is not mail is refused with a reason",
        arguments: [
            (Data(), "the file is empty"),
            (Data([0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01, 0x02]), "NUL bytes"),
            (Data("just some notes\nwithout headers\n".utf8), "line 1 is not a header field"),
            (Data("X-Custom: 1\nX-Other: 2\n\nbody".utf8), "no From, To, Subject, Date or Message-ID header"),
            (Data(" continuation first\nFrom: a@b\n".utf8), "continuation line"),
        ])
    func notMail(data: Data, reason: String) {
        #expect {
            try MailMessage.parse(data, maxBodyBytes: 1000)
        } throws: { error in
            String(describing: error).contains(reason)
        }
    }
}
