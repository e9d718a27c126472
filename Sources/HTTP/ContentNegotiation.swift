/// Reading of Accept-Encoding (RFC 9110 §12.5.3), reduced to the one question servers of
/// pre-compressed files ask.
public enum ContentNegotiation {
    /// Whether the client accepts a gzip content coding: listed (or `*`) with q > 0.
    public static func acceptsGzip(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        var gzip: Double?, star: Double?
        for element in acceptEncoding.split(separator: ",") {
            let parts = element.split(separator: ";").map { $0.trimmingSpaces().lowercased() }
            guard let coding = parts.first else { continue }
            var q = 1.0
            for p in parts.dropFirst() where p.hasPrefix("q=") {
                q = Double(p.dropFirst(2)) ?? 0
            }
            if coding == "gzip" || coding == "x-gzip" { gzip = q } else if coding == "*" { star = q }
        }
        if let gzip { return gzip > 0 }
        return (star ?? 0) > 0
    }
}
