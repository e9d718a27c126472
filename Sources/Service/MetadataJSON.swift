import Foundation

/// The JSON text of a tensor's `quantd:` metadata entry: objects with sorted keys, strings,
/// integers, finite doubles, booleans, null and arrays of them.
///
/// Written by hand rather than with JSONSerialization, which bridges each value through
/// Foundation's dynamic casts: on ResNet50's 54 tensors its first calls cost ~11% of a
/// `quantd compress` run's CPU time (protocol-conformance lookups), for a few hundred bytes.
enum MetadataJSON {
    struct UnsupportedValue: Error, CustomStringConvertible {
        let value: String
        var description: String { "cannot write \(value) in tensor metadata JSON" }
    }

    static func string(_ object: [String: Any]) throws -> String {
        var text = ""
        try append(object, to: &text)
        return text
    }

    private static func append(_ value: Any, to text: inout String) throws {
        switch value {
        case let v as String: appendQuoted(v, to: &text)
        case let v as Bool: text += v ? "true" : "false"
        case let v as Int: text += String(v)
        case let v as Double:
            guard v.isFinite else { throw UnsupportedValue(value: "\(v)") }
            text += v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        case let v as Float:
            try append(Double(v), to: &text)
        case is NSNull: text += "null"
        case let v as [Int]: try appendArray(v, to: &text)
        case let v as [Any]: try appendArray(v, to: &text)
        case let v as [String: Any]:
            text += "{"
            for (index, key) in v.keys.sorted().enumerated() {
                if index > 0 { text += "," }
                appendQuoted(key, to: &text)
                text += ":"
                try append(v[key]!, to: &text)
            }
            text += "}"
        default: throw UnsupportedValue(value: "\(type(of: value))")
        }
    }

    private static func appendArray<Element>(_ values: [Element], to text: inout String) throws {
        text += "["
        for (index, element) in values.enumerated() {
            if index > 0 { text += "," }
            try append(element, to: &text)
        }
        text += "]"
    }

    private static func appendQuoted(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
