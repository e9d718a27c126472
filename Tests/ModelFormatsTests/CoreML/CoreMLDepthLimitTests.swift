import SwiftProtobuf
import Testing
@testable import ModelFormats

/// Uploaded models are untrusted: MIL values nest recursively (Value → ImmediateValue → ListValue →
/// Value …), so a hostile file must hit the decoder's depth limit instead of the stack's.
@Suite struct CoreMLDepthLimitTests {
    static var depth64: BinaryDecodingOptions {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        return options
    }

    /// `levels` Values each holding a one-element list of the next: 3 messages deep per level.
    static func nestedListValues(levels: Int) -> [UInt8] {
        var value: [UInt8] = []
        for _ in 0..<levels {
            let list = ProtoWire.lengthDelimitedField(1, value)
            let immediate = ProtoWire.lengthDelimitedField(3, list)
            value = ProtoWire.lengthDelimitedField(3, immediate)
        }
        return value
    }

    @Test func nestingWithinTheLimitParses() throws {
        let value = try CoreML_Specification_MILSpec_Value(serializedBytes: Self.nestedListValues(levels: 20),
                                                          options: Self.depth64)
        #expect(value.immediateValue.list.values.count == 1)
    }

    @Test func nestingBeyondTheLimitThrows() {
        #expect(throws: BinaryDecodingError.messageDepthLimit) {
            try CoreML_Specification_MILSpec_Value(serializedBytes: Self.nestedListValues(levels: 22),
                                                   options: Self.depth64)
        }
    }

    @Test func defaultLimitStopsVeryDeepInput() {
        #expect(throws: BinaryDecodingError.messageDepthLimit) {
            try CoreML_Specification_MILSpec_Value(serializedBytes: Self.nestedListValues(levels: 5_000))
        }
    }
}
