/// How a stored artifact file is gzipped.
public enum ArtifactEncoding: String, Codable, Sendable {
    /// One gzip member: what every client reads as `Content-Encoding: gzip`.
    case gzip
    /// Several concatenated gzip members, as quantd stored artifacts before it wrote one
    /// member. `gunzip` reads them, but curl `--compressed`, browsers and most HTTP clients stop
    /// after the first member, so such an artifact is rewritten before it is served
    /// (`ArtifactRewrite`).
    case gzipMembers = "gzip-members"
}
