import Foundation

/// A line being typed at a terminal, with history: the keys `hearth chat` understands, decided
/// without I/O. The terminal feeds it the bytes it reads; it answers with what happened and how
/// the line now reads, and the caller redraws.
///
/// Keys: printable text (UTF-8) inserts; ←/→, Home/End, Ctrl-A/Ctrl-E move; Backspace, Delete,
/// Ctrl-U (to the start), Ctrl-K (to the end), Ctrl-W (the word before) delete; ↑/↓ walk the
/// history; Enter submits; Ctrl-C abandons the line; Ctrl-D on an empty line ends the input.
public struct LineEditor: Sendable {
    public enum Event: Sendable, Hashable {
        /// The line was entered (added to the history unless blank or a repeat).
        case submit(String)
        /// Ctrl-C: the line was abandoned.
        case cancel
        /// Ctrl-D on an empty line: no more input.
        case endOfInput
    }

    public private(set) var line: [Character] = []
    /// Index in `line` before which typing inserts.
    public private(set) var cursor = 0
    public private(set) var history: [String]
    public let historyLimit: Int
    /// Where ↑/↓ stand in the history; `history.count` is the line being typed.
    private var historyIndex: Int
    /// The line being typed, kept while ↑ shows older ones.
    private var draft: [Character] = []
    /// Bytes of an escape sequence or a UTF-8 character not complete yet.
    private var pending: [UInt8] = []

    public init(history: [String] = [], historyLimit: Int = 500) {
        self.history = Array(history.suffix(historyLimit))
        self.historyLimit = historyLimit
        historyIndex = self.history.count
    }

    public var text: String { String(line) }

    /// Feeds bytes read from the terminal; returns the events they completed, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            pending.append(byte)
            if let event = consumePending() { events.append(event) }
        }
        return events
    }

    /// Interprets `pending` once it holds a whole key.
    private mutating func consumePending() -> Event? {
        guard let first = pending.first else { return nil }
        if first == 0x1B {
            // ESC [ X, ESC [ n ~, ESC O X: wait until the sequence is whole.
            guard pending.count >= 2 else { return nil }
            guard pending[1] == UInt8(ascii: "[") || pending[1] == UInt8(ascii: "O") else {
                pending.removeAll()
                return nil
            }
            guard pending.count >= 3 else { return nil }
            let last = pending[pending.count - 1]
            if (0x30...0x39).contains(last) || last == UInt8(ascii: ";") { return nil }  // parameters go on
            let sequence = pending
            pending.removeAll()
            escape(sequence)
            return nil
        }
        if first >= 0x80 {
            // A UTF-8 character: its first byte says how many follow.
            let length = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : first >= 0xC0 ? 2 : 1
            guard pending.count >= length else { return nil }
            let bytes = pending
            pending.removeAll()
            insert(String(decoding: bytes, as: UTF8.self))
            return nil
        }
        pending.removeAll()
        return control(first)
    }

    private mutating func control(_ byte: UInt8) -> Event? {
        switch byte {
        case 0x0D, 0x0A: return submit()
        case 0x03:
            line.removeAll()
            cursor = 0
            historyIndex = history.count
            return .cancel
        case 0x04:
            if line.isEmpty { return .endOfInput }
            deleteForward()
        case 0x7F, 0x08:
            guard cursor > 0 else { return nil }
            line.remove(at: cursor - 1)
            cursor -= 1
        case 0x01: cursor = 0
        case 0x05: cursor = line.count
        case 0x02: cursor = max(0, cursor - 1)
        case 0x06: cursor = min(line.count, cursor + 1)
        case 0x15:
            line.removeSubrange(0..<cursor)
            cursor = 0
        case 0x0B: line.removeSubrange(cursor..<line.count)
        case 0x17:
            var start = cursor
            while start > 0, line[start - 1] == " " { start -= 1 }
            while start > 0, line[start - 1] != " " { start -= 1 }
            line.removeSubrange(start..<cursor)
            cursor = start
        case 0x09: insert(" ")
        default:
            if byte >= 0x20 { insert(String(UnicodeScalar(byte))) }
        }
        return nil
    }

    private mutating func escape(_ sequence: [UInt8]) {
        let parameters = String(decoding: sequence.dropFirst(2).dropLast(), as: UTF8.self)
        switch sequence.last {
        case UInt8(ascii: "D"): cursor = max(0, cursor - 1)
        case UInt8(ascii: "C"): cursor = min(line.count, cursor + 1)
        case UInt8(ascii: "H"): cursor = 0
        case UInt8(ascii: "F"): cursor = line.count
        case UInt8(ascii: "A"): recall(older: true)
        case UInt8(ascii: "B"): recall(older: false)
        case UInt8(ascii: "~"):
            switch parameters {
            case "1", "7": cursor = 0
            case "4", "8": cursor = line.count
            case "3": deleteForward()
            default: break
            }
        default: break
        }
    }

    private mutating func insert(_ text: String) {
        let characters = Array(text)
        line.insert(contentsOf: characters, at: cursor)
        cursor += characters.count
    }

    private mutating func deleteForward() {
        guard cursor < line.count else { return }
        line.remove(at: cursor)
    }

    private mutating func recall(older: Bool) {
        let target = older ? historyIndex - 1 : historyIndex + 1
        guard target >= 0, target <= history.count else { return }
        if historyIndex == history.count { draft = line }
        historyIndex = target
        line = target == history.count ? draft : Array(history[target])
        cursor = line.count
    }

    private mutating func submit() -> Event {
        let entered = String(line)
        if !entered.trimmingCharacters(in: .whitespaces).isEmpty && history.last != entered {
            history.append(entered)
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        }
        line.removeAll()
        cursor = 0
        draft.removeAll()
        historyIndex = history.count
        return .submit(entered)
    }
}
