import Foundation
import Testing
@testable import Execution

@Suite struct ElementwiseKernelTests {
    @Test func binaryOperandsBroadcastLikeNumpy() throws {
        // [2,1,3] + [4,1]: y[i,j,k] = a[i,0,k] + b[j,0].
        let a = iota([2, 1, 3]), b = floats([4, 1], [0, 10, 20, 30])
        let y = try GraphBuilding.run(.binary(.add), [a, b])
        #expect(y.shape == [2, 4, 3])
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<4 { for k in 0..<3 { expected.append(Float(i * 3 + k) + Float(j * 10)) } } }
        #expect(y.floats! == expected)
        let scalar = try GraphBuilding.run(.binary(.subtract), [floats([], [1]), iota([2, 2])])
        #expect(scalar.floats! == [1, 0, -1, -2])
    }

    @Test func shapesThatDoNotBroadcastAreAShapeMismatch() {
        #expect(throws: ExecutionError.self) { try GraphBuilding.run(.binary(.multiply), [iota([2, 3]), iota([2])]) }
    }

    @Test func integerDivisionTruncatesAndFloorDivisionAndModuloFollowTheDivisorsSign() throws {
        let a = int64s([4], [7, -7, 7, -7]), b = int64s([4], [2, 2, -2, -2])
        #expect(try GraphBuilding.run(.binary(.divide), [a, b]).int64s! == [3, -3, -3, 3])
        #expect(try GraphBuilding.run(.binary(.floorDivide), [a, b]).int64s! == [3, -4, -4, 3])
        #expect(try GraphBuilding.run(.binary(.modulo), [a, b]).int64s! == [1, 1, -1, -1])
        #expect(try GraphBuilding.run(.binary(.modulo), [floats([2], [-7, 7.5]), floats([2], [2, -2])]).floats! == [1, -0.5])
    }

    @Test func comparisonsAndLogicGiveBools() throws {
        #expect(try GraphBuilding.run(.binary(.less), [iota([3]), floats([], [1])]).bools! == [true, false, false])
        #expect(try GraphBuilding.run(.binary(.equal), [int64s([2], [1, 2]), int64s([2], [1, 3])]).bools! == [true, false])
        #expect(try GraphBuilding.run(.binary(.xor), [bools([2], [true, true]), bools([2], [true, false])]).bools! == [false, true])
        #expect(try GraphBuilding.run(.unary(.not), [bools([1], [false])]).bools! == [true])
    }

    @Test func geluFormsFollowTheirOwnFormulas() throws {
        let x: [Float] = [-3, -0.5, 0, 0.7, 2.5]
        let exact = try GraphBuilding.run(.unary(.geluExact), [floats([5], x)]).floats!
        let tanhForm = try GraphBuilding.run(.unary(.geluTanh), [floats([5], x)]).floats!
        let sigmoidForm = try GraphBuilding.run(.unary(.geluSigmoid), [floats([5], x)]).floats!
        let xs = x.map(Double.init)
        #expect(close(exact, xs.map { Float(0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot()))) }, tolerance: 1e-6))
        #expect(close(tanhForm, xs.map { Float(0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0)))) }, tolerance: 1e-6))
        #expect(close(sigmoidForm, xs.map { Float($0 / (1 + Foundation.exp(-1.702 * $0))) }, tolerance: 1e-6))
        #expect(exact != tanhForm)
    }

    @Test func sigmoidAndSoftplusDoNotOverflow() throws {
        let s = try GraphBuilding.run(.unary(.sigmoid), [floats([3], [-100, 0, 100])]).floats!
        #expect(s == [Float(Foundation.exp(-100.0)), 0.5, 1])
        let p = try GraphBuilding.run(.unary(.softplus), [floats([2], [100, -100])]).floats!
        #expect(p[0] == 100)
        #expect(p[1] > 0 && p[1] < 1e-40)
    }

    @Test func roundingIsHalfToEven() throws {
        #expect(try GraphBuilding.run(.unary(.round), [floats([5], [0.5, 1.5, 2.5, -0.5, -2.5])]).floats! == [0, 2, 2, -0, -2])
    }

    @Test func clipBoundsAreOptionalScalars() throws {
        let x = floats([4], [-2, 0.5, 3, 9])
        #expect(try GraphBuilding.run(.clip, [x, floats([], [0]), floats([], [6])]).floats! == [0, 0.5, 3, 6])
        #expect(try GraphBuilding.run(.clip, [x, nil, floats([], [1])]).floats! == [-2, 0.5, 1, 1])
    }

    @Test func selectBroadcastsItsThreeOperands() throws {
        let y = try GraphBuilding.run(.select, [bools([2, 1], [true, false]), iota([1, 3]), floats([], [-1])])
        #expect(y.shape == [2, 3])
        #expect(y.floats! == [0, 1, 2, -1, -1, -1])
    }

    @Test func castTruncatesFloatsTowardZero() throws {
        #expect(try GraphBuilding.run(.cast(.int64), [floats([3], [2.7, -2.7, 0])]).int64s! == [2, -2, 0])
        #expect(try GraphBuilding.run(.cast(.bool), [floats([2], [0, -0.1])]).bools! == [false, true])
        #expect(try GraphBuilding.run(.cast(.float32), [int64s([1], [5])]).floats! == [5])
    }
}
