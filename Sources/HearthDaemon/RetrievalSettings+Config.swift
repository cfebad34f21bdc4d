import HearthConfig
import HearthMemory

extension RetrievalSettings {
    /// Retrieval as `[memory]` configures it: texts cut to `embed_tokens`, context vectors blended
    /// as `blend_context` says. The daemon, `hearth memory` and `hearth goal` all build it here.
    public init(_ memory: Configuration.Memory) {
        self.init(
            embedTokens: memory.embedTokens, blendContext: memory.blendContext == .all,
            blendFrom: memory.blendContext.blendFrom(embedTokens: memory.embedTokens))
    }
}
