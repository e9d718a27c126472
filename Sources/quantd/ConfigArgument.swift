import ArgumentParser
import Foundation

/// A `--config` value as commands take it: JSON itself, or `@FILE` for a file holding it.
enum ConfigArgument {
    static func json(_ value: String) throws -> String {
        guard value.hasPrefix("@") else { return value }
        guard let data = FileManager.default.contents(atPath: String(value.dropFirst())) else {
            throw ValidationError("cannot read \(value.dropFirst())")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func json(_ value: String?) throws -> String? {
        try value.map(json)
    }
}
