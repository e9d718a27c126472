/// `Manifest.json` at the root of an `.mlpackage`: the package's items and which of them is
/// the root model. Members other than those read here are skipped.
public struct MLPackageManifest: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var author: String?
        public var description: String?
        public var name: String?
        /// Relative to the package's `Data/` folder.
        public var path: String
    }

    public let fileFormatVersion: String?
    public let items: [String: Item]
    public let rootModelIdentifier: String

    public init(parsing bytes: UnsafeRawBufferPointer) throws(MLPackageError) {
        var scanner = JSONScanner(bytes)
        do {
            var version: String?
            var items: [String: Item]?
            var root: String?
            try scanner.beginObject()
            while let key = try scanner.nextMemberKey() {
                switch key {
                case "fileFormatVersion": version = try Self.string(&scanner, key)
                case "rootModelIdentifier": root = try Self.string(&scanner, key)
                case "itemInfoEntries": items = try Self.items(&scanner)
                default: try scanner.skipValue()
                }
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd else { throw scanner.error("unexpected bytes after the manifest object") }
            guard let items else { throw MLPackageError.invalidManifest("it has no 'itemInfoEntries'") }
            guard let root else { throw MLPackageError.invalidManifest("it has no 'rootModelIdentifier'") }
            guard items[root] != nil else { throw MLPackageError.rootModelNotListed(root, listed: items.keys.sorted()) }
            fileFormatVersion = version
            self.items = items
            rootModelIdentifier = root
        } catch let syntax as JSONSyntaxError {
            throw .invalidManifest("invalid JSON at byte \(syntax.offset): \(syntax.reason)")
        } catch let error as MLPackageError {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    public var rootModel: Item { items[rootModelIdentifier]! }

    private static func items(_ scanner: inout JSONScanner) throws -> [String: Item] {
        guard scanner.peekValueKind() == .object else { throw MLPackageError.invalidManifest("'itemInfoEntries' is not an object") }
        var items: [String: Item] = [:]
        try scanner.beginObject()
        while let identifier = try scanner.nextMemberKey() {
            guard scanner.peekValueKind() == .object else {
                throw MLPackageError.invalidManifest("item '\(identifier)' is not an object")
            }
            var fields: [String: String] = [:]
            try scanner.beginObject()
            while let key = try scanner.nextMemberKey() {
                if ["author", "description", "name", "path"].contains(key) {
                    fields[key] = try string(&scanner, "\(identifier).\(key)")
                } else {
                    try scanner.skipValue()
                }
            }
            guard let path = fields["path"] else { throw MLPackageError.invalidManifest("item '\(identifier)' has no 'path'") }
            guard items.updateValue(Item(author: fields["author"], description: fields["description"],
                                         name: fields["name"], path: path), forKey: identifier) == nil
            else { throw MLPackageError.invalidManifest("item '\(identifier)' is listed twice") }
        }
        return items
    }

    private static func string(_ scanner: inout JSONScanner, _ field: String) throws -> String {
        guard scanner.peekValueKind() == .string else { throw MLPackageError.invalidManifest("'\(field)' is not a string") }
        return try scanner.readString()
    }
}
