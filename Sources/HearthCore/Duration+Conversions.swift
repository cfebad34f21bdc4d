extension Duration {
    /// This duration in seconds, as a floating-point number (for rates, `TimeInterval`s and JSON).
    public var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// This duration in milliseconds, as a floating-point number.
    public var inMilliseconds: Double { inSeconds * 1000 }
}
