import Foundation

/// A node attribute of the kinds rewrites need.
public struct ONNXAttribute: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case int(Int)
        case ints([Int])
        case float(Float)
        case string(String)
    }

    public var name: String
    public var value: Value

    public init(_ name: String, _ value: Value) {
        self.name = name
        self.value = value
    }

    var proto: OnnxSubset_AttributeProto {
        var attribute = OnnxSubset_AttributeProto()
        attribute.name = name
        switch value {
        case .int(let value):
            attribute.type = .int
            attribute.i = Int64(value)
        case .ints(let values):
            attribute.type = .ints
            attribute.ints = values.map(Int64.init)
        case .float(let value):
            attribute.type = .float
            attribute.f = value
        case .string(let value):
            attribute.type = .string
            attribute.s = Data(value.utf8)
        }
        return attribute
    }
}
