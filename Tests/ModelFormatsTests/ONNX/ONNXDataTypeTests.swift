import QuantCore
import Testing
@testable import ModelFormats

@Suite struct ONNXDataTypeTests {
    @Test func fourBitTypesPackTwoElementsPerByte() {
        #expect(ONNXDataType.int4.byteCount(elements: 5) == 3)
        #expect(ONNXDataType.bfloat16.byteCount(elements: 5) == 10)
        #expect(ONNXDataType.string.byteCount(elements: 5) == nil)
    }

    @Test func onlyTheFloatTypesQuantdCompressesAreWeights() {
        #expect(ONNXDataType.allCases.compactMap(\.weightScalarType) == [.float32, .float16, .bfloat16])
    }

    @Test func everyScalarTypeHasAnONNXType() {
        for type in ScalarType.allCases {
            #expect(ONNXDataType(type)?.bitWidth == type.byteWidth * 8)
        }
    }
}
