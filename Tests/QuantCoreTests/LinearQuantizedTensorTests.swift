import Testing
@testable import QuantCore

@Suite struct LinearQuantizedTensorTests {
    private func tensor(_ dtype: LinearQuantizationConfig.DType, zeroPoints: [UInt8]?) -> LinearQuantizedTensor {
        LinearQuantizedTensor(config: .init(dtype: dtype), shape: [1, 2], codes: [0xFF, 0x01], scales: [1],
                              scaleShape: [1, 1], scaleType: .float32, zeroPoints: zeroPoints)
    }

    @Test func integersFollowTheDTypeSignedness() {
        #expect(tensor(.int8, zeroPoints: nil).integer(0xFF) == -1)
        #expect(tensor(.int4, zeroPoints: nil).integer(0xF9) == -7)
        #expect(tensor(.uint8, zeroPoints: nil).integer(0xFF) == 255)
    }

    @Test func reportsWhetherZeroPointsNeedStoring() {
        #expect(!tensor(.int8, zeroPoints: nil).hasNonZeroZeroPoints)
        #expect(!tensor(.int8, zeroPoints: [0]).hasNonZeroZeroPoints)
        #expect(tensor(.uint8, zeroPoints: [127]).hasNonZeroZeroPoints)
    }
}
