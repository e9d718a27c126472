/// The four forms of request-target (RFC 9112 §3.2), as far as an origin server cares: the
/// origin form everyone sends, `*` for OPTIONS, and the absolute form a proxy-minded client may
/// send (its authority and the origin form it stands for).
enum RequestTargetForm: Equatable {
    case origin
    case asterisk
    case absolute(authority: String, originForm: String)
    /// Authority form (CONNECT) or anything else an origin server cannot serve.
    case invalid

    init(_ target: String) {
        if target.hasPrefix("/") {
            self = .origin
            return
        }
        if target == "*" {
            self = .asterisk
            return
        }
        // Scheme names are case-insensitive (RFC 3986 §3.1).
        let lowered = target.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lowered.hasPrefix($0) }) else {
            self = .invalid
            return
        }
        let rest = target.dropFirst(scheme.count)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<end]
        // userinfo is deprecated in http(s) URIs (RFC 9110 §4.2.4) and must not be accepted.
        guard !authority.isEmpty, !authority.contains("@"), !rest[end...].hasPrefix("#") else {
            self = .invalid
            return
        }
        let pathAndQuery = rest[end...]
        self = .absolute(authority: String(authority), originForm: pathAndQuery.hasPrefix("/") ? String(pathAndQuery) : "/" + pathAndQuery)
    }
}
