import Testing
@testable import ModelFormats

@Suite struct ONNXSparsePositionsTests {
    @Test func keptPositionsFollowTheMaskLSBFirst() {
        var kept: [Int] = []
        ONNXSparsePositions.forEachKept([0b1000_0101, 0b1], count: 9) { kept.append($0) }
        #expect(kept == [0, 2, 7, 8])
    }

    @Test(arguments: [(128, ONNXDataType.int8), (129, .int16), (32768, .int16), (32769, .int32)])
    func theIndexTypeIsTheNarrowestThatHoldsEveryPosition(count: Int, type: ONNXDataType) {
        let tensor = ONNXSparsePositions.tensor([0, count - 1], count: count, name: "p")
        #expect(tensor.dataType == type && tensor.dims == [2])
        #expect(tensor.bytes.count == 2 * (type.bitWidth! / 8))
    }
}
