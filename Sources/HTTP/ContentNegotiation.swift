/// Reading of Accept-Encoding (RFC 9110 §12.5.3) and Accept (§12.5.1), reduced to the
/// questions the server asks: gzip or not, an HTML page or JSON.
public enum ContentNegotiation {
    /// Whether `text/html` has a higher quality than `application/json` in `Accept` (a browser
    /// asks for HTML first; a missing header, `*/*` or a tie keep JSON, the API's default).
    public static func prefersHTML(_ accept: String?) -> Bool {
        guard let accept else { return false }
        var html = 0.0, json = 0.0
        for (type, q) in weighted(accept) {
            if type == "text/html" { html = max(html, q) }
            if type == "application/json" || type == "application/*" { json = max(json, q) }
        }
        return html > json
    }

    /// Whether the client accepts a gzip content coding: listed (or `*`) with q > 0.
    public static func acceptsGzip(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        var gzip: Double?, star: Double?
        for (coding, q) in weighted(acceptEncoding) {
            if coding == "gzip" || coding == "x-gzip" { gzip = q } else if coding == "*" { star = q }
        }
        if let gzip { return gzip > 0 }
        return (star ?? 0) > 0
    }

    /// Each element of a comma-separated header, lowercased, with its quality (`q`, default 1).
    private static func weighted(_ header: String) -> [(String, Double)] {
        header.split(separator: ",").compactMap { element in
            let parts = element.split(separator: ";").map { $0.trimmingSpaces().lowercased() }
            guard let token = parts.first else { return nil }
            var q = 1.0
            for p in parts.dropFirst() where p.hasPrefix("q=") {
                q = Double(p.dropFirst(2)) ?? 0
            }
            return (token, q)
        }
    }
}
