import Foundation

/// The JSON text of a tensor's `quantd:` metadata entry, from typed values: objects (keys
/// sorted), strings, integers, finite doubles, booleans, null and arrays.
///
/// Typed and written by hand rather than `[String: Any]` through JSONSerialization, whose
/// dynamic casts (protocol-conformance lookups on first use of each type) cost ~11% of a
/// `quantd compress` run's CPU time on ResNet50's 54 tensors, for a few hundred bytes each.
enum MetadataJSON {
    indirect enum Value: Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
                         ExpressibleByBooleanLiteral, ExpressibleByNilLiteral {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case null
        case array([Value])
        case object([String: Value])

        init(stringLiteral value: String) { self = .string(value) }
        init(integerLiteral value: Int) { self = .int(value) }
        init(floatLiteral value: Double) { self = .double(value) }
        init(booleanLiteral value: Bool) { self = .bool(value) }
        init(nilLiteral: ()) { self = .null }

        static func ints(_ values: [Int]) -> Value { .array(values.map(Value.int)) }

        /// A value of a `[String: Any]` dictionary of QuantCore's (the pruning settings).
        init(any value: Any) throws {
            switch value {
            case let v as String: self = .string(v)
            case let v as Bool: self = .bool(v)
            case let v as Int: self = .int(v)
            case let v as Double: self = .double(v)
            case let v as Float: self = .double(Double(v))
            case is NSNull: self = .null
            case let v as [Any]: self = .array(try v.map(Value.init(any:)))
            case let v as [String: Any]: self = .object(try v.mapValues(Value.init(any:)))
            default: throw UnsupportedValue(value: "\(type(of: value))")
            }
        }
    }

    struct UnsupportedValue: Error, CustomStringConvertible {
        let value: String
        var description: String { "cannot write \(value) in tensor metadata JSON" }
    }

    static func string(_ object: [String: Value]) throws -> String {
        var text = ""
        try append(.object(object), to: &text)
        return text
    }

    private static func append(_ value: Value, to text: inout String) throws {
        switch value {
        case .string(let v): appendQuoted(v, to: &text)
        case .bool(let v): text += v ? "true" : "false"
        case .int(let v): text += String(v)
        case .double(let v):
            guard v.isFinite else { throw UnsupportedValue(value: "\(v)") }
            text += v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        case .null: text += "null"
        case .array(let values):
            text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { text += "," }
                try append(element, to: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { text += "," }
                appendQuoted(key, to: &text)
                text += ":"
                try append(members[key]!, to: &text)
            }
            text += "}"
        }
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
