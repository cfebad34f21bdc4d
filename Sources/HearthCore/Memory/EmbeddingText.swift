import Foundation

/// What a record's vectors are computed from. An embedding model reads a few hundred word pieces
/// at most, and its cost grows with every piece it reads, so each text is cut to a budget of word
/// pieces, estimated the way WordPiece splits text — close for English (MiniLM's tokenizer counts
/// 134 pieces in a 128-piece cut of prose), short where its vocabulary splits words finely (235 for
/// Dutch, ~150 for tables and code): a cost bound, not an exact count, and at the default far
/// inside the model's 512 (a text the model still refuses is halved until it fits):
/// - the text vector reads the record's own words from the start;
/// - the context vector reads the record *centred* between the end of the turn before and the
///   start of the turn after. The record keeps at least half the budget; its neighbours share the
///   rest, and a short record lends its unused share to them. A long answer is read with the
///   question it answers; a short "yes, that one" with what it agrees to.
///
/// Pure: the memory engine applies it to the store's work list; benchmarks apply the same.
public struct EmbeddingText: Sendable, Hashable {
    /// Word pieces per embedded text, the model's two special tokens included.
    public var tokens: Int

    /// 128 pieces: all-MiniLM-L6-v2 was trained on 128-piece inputs (its reference implementation
    /// cuts at 256), and a text's cost grows with its length.
    public init(tokens: Int = 128) {
        self.tokens = max(8, tokens)
    }

    /// The text a record's own vector is computed from.
    public func text(_ own: String) -> String {
        Self.head(own, tokens: tokens - Self.specialTokens)
    }

    /// The text a record's context vector is computed from: the end of `before`, the record,
    /// the start of `after`, one per line.
    public func context(before: String?, own: String, after: String?) -> String {
        let budget = tokens - Self.specialTokens
        let ownNeed = Self.estimate(own)
        let neighbours = [before, after].compactMap { $0 }.filter { !$0.isEmpty }
        let lent = budget - min(ownNeed, budget / 2)
        let share = neighbours.isEmpty ? 0 : lent / neighbours.count
        let start = before.flatMap { $0.isEmpty ? nil : Self.tail($0, tokens: share) } ?? ""
        let end = after.flatMap { $0.isEmpty ? nil : Self.head($0, tokens: share) } ?? ""
        let middle = Self.head(own, tokens: budget - Self.estimate(start) - Self.estimate(end))
        return [start, middle, end].filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// The text embedded for one work item.
    public func text(for work: VectorWork) -> String {
        switch work.field {
        case .text: text(work.text)
        case .context: context(before: work.before, own: work.text, after: work.after)
        }
    }

    /// `[CLS]` and `[SEP]` (or a BPE model's begin and end markers).
    static let specialTokens = 2

    // MARK: Counting word pieces

    /// Estimated word pieces in `text` (without the special tokens).
    public static func estimate(_ text: String) -> Int {
        pieces(text).reduce(0) { $0 + $1.tokens }
    }

    /// The longest start of `text` that fits `tokens`, cut between pieces (whole words where they
    /// fit; a word longer than what is left — a script written without spaces, a pasted blob — is
    /// cut inside, in proportion).
    public static func head(_ text: String, tokens: Int) -> String {
        let scalars = text.unicodeScalars
        var used = 0
        var end = scalars.startIndex
        for piece in pieces(text) {
            guard used + piece.tokens <= tokens else {
                end = scalars.index(piece.start, offsetBy: fitting(piece, in: scalars, tokens: tokens - used))
                // On a character's boundary: not between a letter and its marks.
                while end > piece.start, end.samePosition(in: text) == nil { end = scalars.index(before: end) }
                break
            }
            used += piece.tokens
            end = piece.end
        }
        return String(scalars[..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The longest end of `text` that fits `tokens` (a word longer than what is left is cut inside).
    public static func tail(_ text: String, tokens: Int) -> String {
        let scalars = text.unicodeScalars
        var used = 0
        var start = scalars.endIndex
        for piece in pieces(text).reversed() {
            guard used + piece.tokens <= tokens else {
                start = scalars.index(piece.end, offsetBy: -fitting(piece, in: scalars, tokens: tokens - used))
                while start < piece.end, start.samePosition(in: text) == nil { start = scalars.index(after: start) }
                break
            }
            used += piece.tokens
            start = piece.start
        }
        return String(scalars[start...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A combining mark (a vowel sign, a tone mark, an accent written apart): it belongs to the letter before it.
    private static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    /// How many of a piece's scalars fit `tokens`, at the piece's own scalars per token.
    private static func fitting(_ piece: Piece, in scalars: String.UnicodeScalarView, tokens: Int) -> Int {
        guard tokens > 0 else { return 0 }
        let length = scalars.distance(from: piece.start, to: piece.end)
        return min(length, length * tokens / max(1, piece.tokens))
    }

    struct Piece {
        var start: String.UnicodeScalarView.Index
        var end: String.UnicodeScalarView.Index
        var tokens: Int
    }

    /// Words, numbers and single marks, each with its estimated pieces: a word of up to eight
    /// letters is one piece and every six letters more add one (long and rare words split into
    /// several); a word with letters outside ASCII splits sooner (every three); digits go three
    /// to a piece; a mark, an emoji or a CJK character is one piece on its own.
    static func pieces(_ text: String) -> [Piece] {
        let scalars = text.unicodeScalars
        var result: [Piece] = []
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar.properties.isWhitespace {
                index = scalars.index(after: index)
                continue
            }
            let start = index
            if scalar.properties.isIdeographic || !(scalar.properties.isAlphabetic || scalar.properties.numericType != nil) {
                index = scalars.index(after: index)
                result.append(Piece(start: start, end: index, tokens: 1))
                continue
            }
            let digits = scalar.properties.numericType != nil && !scalar.properties.isAlphabetic
            var letters = 0
            var foreign = false
            while index < scalars.endIndex {
                let next = scalars[index]
                let isDigit = next.properties.numericType != nil && !next.properties.isAlphabetic
                guard isDigit == digits || isMark(next), next.properties.isAlphabetic || isDigit || isMark(next),
                    !next.properties.isIdeographic
                else { break }
                letters += 1
                foreign = foreign || !next.isASCII
                index = scalars.index(after: index)
            }
            let tokens =
                digits ? (letters + 2) / 3 : foreign ? 1 + (letters - 1) / 3 : 1 + max(0, letters - 3) / 6
            result.append(Piece(start: start, end: index, tokens: tokens))
        }
        return result
    }
}
