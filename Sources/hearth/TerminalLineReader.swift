import Foundation
import Glibc
import HearthCore

/// Reads lines for `hearth chat`: with line editing and history (kept in the data directory)
/// when standard input is a terminal, plain `readLine` otherwise (pipes, scripts, tests).
final class TerminalLineReader {
    private var editor: LineEditor
    private let historyFile: URL
    /// Lines a paste entered beyond the one returned, handed out next.
    private var queued: [String] = []

    init(historyFile: URL) {
        self.historyFile = historyFile
        let saved = (try? String(contentsOf: historyFile, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        editor = LineEditor(history: saved)
    }

    /// The next line, or nil at the end of input (Ctrl-D, a closed pipe).
    func read(prompt: String) -> String? {
        guard isatty(STDIN_FILENO) == 1 else {
            FileHandle.standardOutput.write(Data(prompt.utf8))
            return readLine()
        }
        if !queued.isEmpty { return queued.removeFirst() }
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else {
            FileHandle.standardOutput.write(Data(prompt.utf8))
            return readLine()
        }
        var raw = original
        // Keys one at a time, unechoed, Ctrl-C as a byte (it abandons the line, not the program).
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(ICRNL | IXON)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        defer { tcsetattr(STDIN_FILENO, TCSANOW, &original) }
        draw(prompt)
        var buffer = [UInt8](repeating: 0, count: 256)
        var result: String?
        reading: while true {
            let count = Glibc.read(STDIN_FILENO, &buffer, buffer.count)
            guard count > 0 else { break }
            for event in editor.feed(buffer[0..<count]) {
                switch event {
                case .submit(let line):
                    if result == nil { result = line } else { queued.append(line) }
                case .cancel:
                    write("^C\r\n")
                case .endOfInput:
                    if result == nil {
                        write("\r\n")
                        return nil
                    }
                }
            }
            if result != nil { break reading }
            draw(prompt)
        }
        write("\r\n")
        saveHistory()
        return result
    }

    private func draw(_ prompt: String) {
        let behind = editor.line.count - editor.cursor
        write("\r" + prompt + editor.text + "\u{1B}[K" + (behind > 0 ? "\u{1B}[\(behind)D" : ""))
    }

    private func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    /// The history, private to the user (it holds what they typed). Best effort: a history that
    /// cannot be written costs the next session its ↑, never this line.
    private func saveHistory() {
        let text = editor.history.joined(separator: "\n") + "\n"
        _ = FileManager.default.createFile(atPath: historyFile.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }
}
