/// Hearth's version, reported by `hearth --version`, `hearth status` and the daemon start record.
public enum HearthVersion {
    public static let current = "0.1.0"
}
