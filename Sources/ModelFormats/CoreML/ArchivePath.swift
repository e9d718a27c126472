/// The one rule for entry names in uploaded archives (zip and tar alike): a relative path of
/// plain components, so no entry can be extracted outside its destination ("zip slip") or
/// mean different things on different systems.
enum ArchivePath {
    /// Checks `name` (a directory may end in one `/`) and returns it without that slash.
    static func validated(_ name: String) throws(ArchiveError) -> String {
        var path = Substring(name)
        if path.hasSuffix("/") { path = path.dropLast() }
        guard !path.isEmpty else { throw .unsafePath(name, reason: "it is empty") }
        guard !path.hasPrefix("/") else { throw .unsafePath(name, reason: "it is absolute") }
        // Windows tools write `\` as a separator; accepting it would let `..\x` through.
        guard !path.contains("\\") else { throw .unsafePath(name, reason: "it contains a backslash") }
        // A NUL truncates the name at the C layer, so the file written would not be the one checked.
        guard !path.utf8.contains(0) else { throw .unsafePath(name, reason: "it contains a NUL byte") }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            switch component {
            case "": throw .unsafePath(name, reason: "it has an empty component")
            case ".", "..": throw .unsafePath(name, reason: "it has a '\(component)' component")
            default: continue
            }
        }
        return String(path)
    }
}
