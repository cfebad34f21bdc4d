import Foundation

/// Text of PDFs as poppler's `pdftotext` writes it.
public enum PDFText {
    /// `pdftotext` output split into pages (it ends each page with a form feed).
    public static func pages(fromPdftotext output: Data) -> [String] {
        var pages = String(decoding: output, as: UTF8.self).components(separatedBy: "\u{0C}")
        if pages.count > 1 && pages.last?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == true { pages.removeLast() }
        return pages
    }
}
