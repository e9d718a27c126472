/// Bounds on what an uploaded archive may make the service extract, so a small upload cannot
/// fill memory or disk (a zip bomb) or make the reader walk millions of entries.
public struct ArchiveLimits: Sendable, Equatable {
    /// A package holds a manifest, a model and a few weight files; thousands is already absurd.
    public var maxEntryCount: Int
    public var maxEntryByteCount: UInt64
    public var maxTotalByteCount: UInt64
    /// Uncompressed ÷ compressed bytes of one deflated entry. Deflate tops out near 1032:1, and
    /// real weights (even heavily pruned ones) stay far below 200:1.
    public var maxCompressionRatio: UInt64

    public init(
        maxEntryCount: Int = 10_000,
        maxEntryByteCount: UInt64 = 16 << 30,
        maxTotalByteCount: UInt64 = 32 << 30,
        maxCompressionRatio: UInt64 = 200
    ) {
        self.maxEntryCount = maxEntryCount
        self.maxEntryByteCount = maxEntryByteCount
        self.maxTotalByteCount = maxTotalByteCount
        self.maxCompressionRatio = maxCompressionRatio
    }
}
