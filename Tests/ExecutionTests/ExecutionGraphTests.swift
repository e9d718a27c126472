import Testing
@testable import Execution

@Suite struct ExecutionGraphTests {
    @Test func aConstantKnowsItsElementType() {
        #expect(ConstantTensor(shape: [2], elements: .int64([1, 2])).elementType == .int64)
        #expect(ConstantTensor(shape: [], elements: .float32([1])).elementType == .float32)
    }
}
