extension String {
    /// The longest prefix of at most `limit` UTF-8 bytes that ends on a character boundary
    /// (a cut never splits a multi-byte character).
    public func prefix(utf8Bytes limit: Int) -> Substring {
        guard utf8.count > limit else { return self[...] }
        var cut = utf8.index(utf8.startIndex, offsetBy: max(0, limit))
        while cut > startIndex && !unicodeScalars.indices.contains(cut) { cut = utf8.index(before: cut) }
        return self[..<cut]
    }
}
