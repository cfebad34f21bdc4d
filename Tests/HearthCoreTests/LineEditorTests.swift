import HearthCore
import Testing

/// The chat prompt's line editing, fed bytes as a terminal sends them.
@Suite("Line editing and history for hearth chat", .timeLimit(.minutes(10)))
struct LineEditorTests {
    static let left: [UInt8] = [0x1B, 0x5B, 0x44]
    static let right: [UInt8] = [0x1B, 0x5B, 0x43]
    static let up: [UInt8] = [0x1B, 0x5B, 0x41]
    static let down: [UInt8] = [0x1B, 0x5B, 0x42]
    static let delete: [UInt8] = [0x1B, 0x5B, 0x33, 0x7E]

    @Test("typing, moving and deleting edit the line where the cursor is; Enter submits it")
    func editing() {
        var editor = LineEditor()
        #expect(editor.feed(Array("hello".utf8) + Self.left + Self.left + Array("X".utf8)).isEmpty)
        #expect(editor.text == "helXlo" && editor.cursor == 4)
        _ = editor.feed([0x7F])  // Backspace
        #expect(editor.text == "hello")
        _ = editor.feed([0x01] + Self.delete)  // Ctrl-A, Delete
        #expect(editor.text == "ello" && editor.cursor == 0)
        _ = editor.feed([0x05] + Array(" world".utf8) + [0x17])  // Ctrl-E, Ctrl-W
        #expect(editor.text == "ello ")
        _ = editor.feed(Self.left + [0x0B])  // Ctrl-K
        #expect(editor.text == "ello")
        #expect(editor.feed([0x0D]) == [.submit("ello")])
        #expect(editor.text.isEmpty && editor.cursor == 0)
    }

    @Test("multi-byte characters and escape sequences split across reads are put together")
    func splitInput() {
        var editor = LineEditor()
        let text = Array("é中😀".utf8)
        for byte in text { _ = editor.feed([byte]) }
        #expect(editor.text == "é中😀" && editor.cursor == 3)
        _ = editor.feed([0x1B])
        _ = editor.feed([0x5B])
        _ = editor.feed([0x44])
        #expect(editor.cursor == 2)
        _ = editor.feed([0x1B, 0x5B, 0x31])
        _ = editor.feed([0x7E])  // ESC [ 1 ~ is Home
        #expect(editor.cursor == 0)
    }

    @Test("↑ and ↓ walk the history and come back to the line being typed; blanks and repeats are not kept")
    func history() {
        var editor = LineEditor(history: ["first"], historyLimit: 3)
        _ = editor.feed(Array("second\r".utf8) + Array("second\r".utf8) + Array("   \r".utf8))
        #expect(editor.history == ["first", "second"])
        _ = editor.feed(Array("dra".utf8) + Self.up)
        #expect(editor.text == "second")
        _ = editor.feed(Self.up + Self.up)
        #expect(editor.text == "first", "stops at the oldest")
        _ = editor.feed(Self.down + Self.down)
        #expect(editor.text == "dra", "the draft comes back")
        _ = editor.feed(Array("ft\r".utf8) + Array("fourth\r".utf8))
        #expect(editor.history == ["second", "draft", "fourth"], "the oldest go past the limit")
    }

    @Test("Ctrl-C abandons the line, Ctrl-D ends input only on an empty line, a paste of two lines gives two submits")
    func controlKeys() {
        var editor = LineEditor()
        #expect(editor.feed(Array("oops".utf8) + [0x03]) == [.cancel])
        #expect(editor.text.isEmpty)
        _ = editor.feed(Array("ab".utf8) + Self.left + [0x04])
        #expect(editor.text == "a", "Ctrl-D deletes under the cursor when there is text")
        _ = editor.feed([0x15])
        #expect(editor.feed([0x04]) == [.endOfInput])
        #expect(editor.feed(Array("one\ntwo\n".utf8)) == [.submit("one"), .submit("two")])
    }
}
